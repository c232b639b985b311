import type { Ceilings } from '../measure/rates.js';
import type { Measurement, OkMeasurement } from '../results/schema.js';
import { describeCase } from '../suites/expand.js';
import { shownRelError } from './data.js';
import { ceilingRows, formatDuration, formatError, formatPercent, formatRate } from './format.js';
import { stageBreakdown, type GapAllowance } from './stages.js';
import { left, right, type Cell, type TableModel } from './table-model.js';

/** The tables of one results file (or one device's files): its ceilings, a table per suite, a table per staged case. */

export function ceilingsTable(ceilings: Ceilings): TableModel {
  return { columns: [left('ceiling'), right('value')], rows: ceilingRows(ceilings) };
}

export const CASE_COLUMNS = [left('case'), left('status'), right('median'), right('CI95'), right('GB/s'), right('GFLOP/s'), right('% ceiling'), left('bound'), right('rel err')] as const;

function relErrorCell(measurement: Extract<Measurement, { numerics: unknown }>): Cell {
  const text = formatError(shownRelError(measurement) ?? 0);
  const sampled = measurement.numerics.checks.find((check) => check.sampledRows)?.sampledRows;
  return sampled
    ? { kind: 'caveat', text, note: `checked on ${sampled.checked} of ${sampled.total} output rows, evenly spaced (the full float64 reference would cost the host minutes)` }
    : text;
}

/** A case's row: median GPU time per repeat, its CI, rates, % of the relevant ceiling, bound, error. */
export function caseRow(measurement: Measurement): Cell[] {
  const label = describeCase(measurement.params);
  switch (measurement.status) {
    case 'ok': {
      const { timing, rates } = measurement;
      const ceiling = rates.bound === 'compute' ? rates.computeFraction : rates.memoryFraction;
      return [
        label,
        'ok',
        formatDuration(timing.gpu.median),
        `±${formatPercent(timing.gpu.relCi95, 1)}`,
        formatRate(rates.gbps, 'GB/s'),
        measurement.work.flops ? formatRate(rates.gflops, 'GFLOP/s') : '-',
        formatPercent(ceiling),
        rates.bound,
        relErrorCell(measurement),
      ];
    }
    case 'checked':
      return [label, 'checked', 'not timed', '', '', '', '', '', relErrorCell(measurement)];
    case 'numerics-failed':
      return [label, { kind: 'strong', text: 'numerics failed' }, '-', '-', '-', '-', '-', '-', relErrorCell(measurement)];
    case 'skipped':
      return [label, { kind: 'reason', text: 'skipped', note: measurement.reason }, '', '', '', '', '', '', ''];
    case 'error':
      return [label, { kind: 'reason', text: 'error', note: measurement.message }, '', '', '', '', '', '', ''];
    case 'left-out':
      return [label, { kind: 'reason', text: 'left out', note: "the run's time budget ran out before it" }, '', '', '', '', '', '', ''];
  }
}

/** One suite's cases, in the order given. */
export function caseTable(suite: string, cases: readonly Measurement[]): TableModel {
  return { title: suite, columns: CASE_COLUMNS, rows: cases.map(caseRow) };
}

/** The gap's allowance in words: each side and where it comes from. */
export function describeAllowance(allowance: GapAllowance, dispatches: number, stages: number): string {
  const passTerm = allowance.passExtraPerStageMs > 0 ? ` + (pass probe - dispatch overhead) x ${stages} stages` : '';
  return `end to end up to ${formatDuration(allowance.endToEndAboveMs)} above the stages (dispatch overhead x ${dispatches} dispatches), the stages up to ${formatDuration(allowance.stagesAboveMs)} above it (the same${passTerm})`;
}

/** A multi-stage case's stages, each timed in its own pass, beside their sum and the end-to-end time. */
export interface StageSection {
  caseLabel: string;
  /** How the stages were timed, e.g. 'stages timed in the pipeline, each in its own pass, in rounds with end to end'. */
  timing: string;
  table: TableModel;
  /** End to end minus the sum of the stages, its uncertainty, and whether it lies within what timing them apart allows. */
  gap: string;
}

const STAGE_COLUMNS = [left('stage'), right('dispatches'), right('median'), right('CI95'), right('% of sum'), right('GB/s'), right('GFLOP/s'), right('% ceiling'), left('bound')];

/** Null for a case without stages. */
export function stageSection(measurement: OkMeasurement, ceilings: Ceilings): StageSection | null {
  const breakdown = stageBreakdown(measurement, ceilings);
  if (!breakdown) return null;
  const dispatches = String(measurement.timing.dispatches);
  const rows: Cell[][] = breakdown.rows.map(({ stage, share }) => [
    stage.name,
    String(stage.dispatches),
    formatDuration(stage.gpu.median),
    `±${formatPercent(stage.gpu.relCi95, 1)}`,
    formatPercent(share),
    formatRate(stage.rates.gbps, 'GB/s'),
    stage.work.flops ? formatRate(stage.rates.gflops, 'GFLOP/s') : '-',
    formatPercent(stage.rates.bound === 'compute' ? stage.rates.computeFraction : stage.rates.memoryFraction),
    stage.rates.bound,
  ]);
  rows.push(['sum of stages', dispatches, formatDuration(breakdown.sumMs), '', '100%', '', '', '', '']);
  rows.push([breakdown.paired ? 'end to end, same rounds' : 'end to end', dispatches, formatDuration(breakdown.endToEndMs), `±${formatPercent(breakdown.endToEndRelCi95, 1)}`, '', '', '', '', '']);
  const notes = [
    ...(breakdown.paired ? ['median per-round difference'] : []),
    ...(breakdown.passFloorMs === null ? [] : [`a minimal dispatch in its own timed pass: ${formatDuration(breakdown.passFloorMs)}`]),
    ...(breakdown.endToEndTimer === 'wall'
      ? ['end to end is wall time, submit to done with any host round trip; the stages are GPU time']
      : breakdown.allowance === null
        ? []
        : [`allowed -${formatDuration(breakdown.allowance.stagesAboveMs)} to +${formatDuration(breakdown.allowance.endToEndAboveMs)}: ${breakdown.withinOverhead ? 'adds up' : 'does NOT add up'}`]),
  ];
  const placement = breakdown.placement === 'in-pipeline' ? 'stages timed in the pipeline, each in its own pass' : 'stages timed alone';
  return {
    caseLabel: describeCase(measurement.params),
    timing: `${placement}${breakdown.paired ? ', in rounds with end to end' : ''}`,
    table: { columns: STAGE_COLUMNS, rows },
    gap: `end to end - sum of stages = ${formatDuration(breakdown.gapMs)} ±${formatDuration(breakdown.gapUncertaintyMs)}${notes.length ? ` (${notes.join('; ')})` : ''}`,
  };
}

/** Each staged case's section, in the order given. */
export function stageSections(cases: readonly Measurement[], ceilings: Ceilings): StageSection[] {
  return cases.flatMap((m) => (m.status === 'ok' ? (stageSection(m, ceilings) ?? []) : []));
}
