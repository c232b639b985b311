import { planFields, describeSlotPlan, type SlotPlan } from '../kernels/tunable.js';
import { describeVarying, splitAxes, titleWithConstants } from '../report/axes.js';
import { left, right, type Cell, type TableModel } from '../report/table-model.js';
import { renderTable } from '../report/table.js';
import type { Speedup } from './statistics.js';
import type { TuneRow } from './tuner.js';

/** `tune`'s table per suite: each case, its default and tuned configuration, and the paired speed-up with its CI. */

export function formatSpeedup(speedup: Speedup): string {
  // Three decimals near 1, so a CI bound just above 1 does not read as 1.00.
  const f = (x: number): string => x.toFixed(x >= 10 ? 1 : Math.abs(x - 1) < 0.005 ? 3 : 2);
  return `${f(speedup.speedup)}x [${f(speedup.lo)}, ${f(speedup.hi)}]`;
}

/**
 * The slots' plans in one line, `slot: plan`, joined: the slots named in `only` where some are (the ones tuning
 * changed, or the closest challenger's), the others counted (an MLA case has a slot per GEMM stage).
 */
export function describeConfig(plans: Record<string, SlotPlan>, only: readonly string[] = []): string {
  const shown = Object.entries(plans).filter(([slot]) => !only.length || only.includes(slot));
  const rest = Object.keys(plans).length - shown.length;
  const text = shown.map(([slot, plan]) => `${slot}: ${describeSlotPlan(plan)}`).join('; ');
  return rest > 0 ? `${text} (+${rest} other slot${rest === 1 ? '' : 's'})` : text;
}

/** The slots whose plan differs between two configurations. */
function changedSlots(defaults: Record<string, SlotPlan>, tuned: Record<string, SlotPlan>): string[] {
  return Object.keys(tuned).filter((slot) => !defaults[slot] || describeSlotPlan(defaults[slot]) !== describeSlotPlan(tuned[slot]!));
}

/** The slots tuning changed, with the fields that differ from the defaults (`attend: wg=16 chunk=256`). */
export function describeChange(defaults: Record<string, SlotPlan>, tuned: Record<string, SlotPlan>): string {
  const changes = Object.entries(tuned).flatMap(([slot, plan]) => {
    const before = defaults[slot];
    const after = planFields(plan);
    if (!before) return [`${slot}: ${describeSlotPlan(plan)}`];
    const old = planFields(before);
    if (old['kind'] !== after['kind']) return [`${slot}: ${describeSlotPlan(plan)}`];
    const fields = Object.entries(after).filter(([field, value]) => old[field] !== value);
    return fields.length ? [`${slot}: ${fields.map(([field, value]) => `${field}=${value}`).join(' ')}`] : [];
  });
  return changes.length ? changes.join('; ') : '(defaults)';
}

function rowCells(row: TuneRow): Cell[] {
  const { result } = row;
  switch (result.status) {
    case 'tuned':
      return [
        describeConfig(result.defaults, changedSlots(result.defaults, result.tuned)),
        describeChange(result.defaults, result.tuned),
        formatSpeedup(result.speedup),
        `${result.evaluated} (${result.failing.length} failing)`,
      ];
    case 'default-kept': {
      const closest = result.closest
        ? `closest: ${result.closest.slot} ${result.closest.plan} ${formatSpeedup(result.closest.speedup)}`
        : 'no challenger got to a race';
      const measured = result.speedup ? `found ${formatSpeedup(result.speedup)}; ` : '';
      return [
        describeConfig(result.defaults, result.closest ? [result.closest.slot] : Object.keys(result.defaults).slice(0, 1)),
        '(defaults)',
        { kind: 'reason', text: '1.00x (kept)', note: `${result.why}; ${measured}${closest}` },
        `${result.evaluated} (${result.failing.length} failing)`,
      ];
    }
    default:
      return ['-', '-', { kind: 'reason', text: result.status, note: result.reason }, '-'];
  }
}

/** One table per suite; failing configurations listed under it. */
export function tuneTables(rows: readonly TuneRow[]): TableModel[] {
  const suites = [...new Set(rows.map((row) => row.planned.suite))];
  return suites.map((suite) => {
    const mine = rows.filter((row) => row.planned.suite === suite);
    const split = splitAxes(mine.map((row) => row.planned.params));
    const failing = mine.flatMap((row) =>
      'failing' in row.result
        ? row.result.failing.map((f) => `${describeVarying(row.planned.params, split) || 'case'}: ${f.slot} ${f.plan} failed (${f.reason})`)
        : [],
    );
    return {
      title: titleWithConstants(suite, split),
      columns: [left('case'), left('default config'), left('tuned config'), right('speed-up [95% CI]'), right('configs')],
      rows: mine.map((row) => [describeVarying(row.planned.params, split) || '(the case)', ...rowCells(row)]),
      notes: [
        'speed-up: default time / tuned time, median of paired rounds (alternating samples, one process), bootstrap 95% CI; configs: built and checked against float64',
        ...failing,
      ],
    };
  });
}

export function renderTune(rows: readonly TuneRow[]): string {
  return tuneTables(rows)
    .map((model) => renderTable(model))
    .join('\n\n');
}
