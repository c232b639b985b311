import type { Ceilings } from '../measure/rates.js';
import type { Measurement, OkMeasurement } from '../results/schema.js';
import { describeCase } from '../suites/expand.js';
import { shownRelError } from './data.js';
import { tunedConfigNote } from './configs.js';
import { describeAgainst, describeVarying, splitAxes, titleWithConstants, varyingCells, type AxisSplit, type AxisValue } from './axes.js';
import { ceilingRows, formatDuration, formatError, formatPercent, formatRateValue } from './format.js';
import { stageBreakdown, type GapAllowance } from './stages.js';
import { left, right, type Cell, type TableModel } from './table-model.js';

/** The tables of one results file (or one device's files): its ceilings, a table per suite, a table per staged case. */

export function ceilingsTable(ceilings: Ceilings): TableModel {
  return { columns: [left('ceiling'), right('value')], rows: ceilingRows(ceilings) };
}

/** A case table's columns after the case's varying axes; rates are bare numbers under a head that names the unit. */
export const METRIC_COLUMNS = [
  left('status'),
  right('median ±CI95'),
  right('GB/s'),
  right('GFLOP/s'),
  right('% ceiling'),
  left('bound'),
  right('rel err'),
] as const;

function relErrorCell(measurement: Extract<Measurement, { numerics: unknown }>): Cell {
  const text = formatError(shownRelError(measurement) ?? 0);
  const sampled = measurement.numerics.checks.find((check) => check.sampledRows)?.sampledRows;
  return sampled
    ? {
        kind: 'caveat',
        text,
        note: `checked on ${sampled.checked} of ${sampled.total} output rows, evenly spaced (the full float64 reference would cost the host minutes)`,
      }
    : text;
}

const LEFT_OUT_NOTE = "the run's time budget ran out before it";

/** A median and its CI95 half-width in one cell, e.g. `31.0 ms ±0.7%`. */
export function medianWithCi(medianMs: number, relCi95: number): string {
  return `${formatDuration(medianMs)} ±${formatPercent(relCi95, 1)}`;
}

/** A case's metric cells: median GPU time per repeat, its CI, rates, % of the relevant ceiling, bound, error. */
export function metricCells(measurement: Measurement): Cell[] {
  switch (measurement.status) {
    case 'ok': {
      const { timing, rates } = measurement;
      const ceiling = rates.bound === 'compute' ? rates.computeFraction : rates.memoryFraction;
      return [
        'ok',
        medianWithCi(timing.gpu.median, timing.gpu.relCi95),
        formatRateValue(rates.gbps),
        measurement.work.flops ? formatRateValue(rates.gflops) : '-',
        formatPercent(ceiling),
        rates.bound,
        relErrorCell(measurement),
      ];
    }
    case 'checked':
      return ['checked', 'not timed', '', '', '', '', relErrorCell(measurement)];
    case 'numerics-failed':
      return [{ kind: 'strong', text: 'numerics failed' }, '-', '-', '-', '-', '-', relErrorCell(measurement)];
    case 'skipped':
      return [{ kind: 'reason', text: 'skipped', note: measurement.reason }, '', '', '', '', '', ''];
    case 'error':
      return [{ kind: 'reason', text: 'error', note: measurement.message }, '', '', '', '', '', ''];
    case 'left-out':
      return [{ kind: 'reason', text: 'left out', note: LEFT_OUT_NOTE }, '', '', '', '', '', ''];
  }
}

/** A case's row: its value of each varying axis, then its metrics. */
export function caseRow(measurement: Measurement, split: AxisSplit): Cell[] {
  return [...varyingCells(measurement.params, split), ...metricCells(measurement)];
}

/** Left-out cases named one by one up to this many; past it, counted with the values they span. */
const LEFT_OUT_LISTED = 8;
/** Values of one axis listed up to this many; past it, the range. */
const VALUES_LISTED = 6;

function spannedValues(values: readonly AxisValue[]): string {
  const distinct = [...new Set(values)];
  const numbers = distinct.every((v) => typeof v === 'number') ? (distinct as number[]).sort((a, b) => a - b) : null;
  if (numbers && numbers.length > VALUES_LISTED) return `${numbers[0]}-${numbers[numbers.length - 1]} (${numbers.length} values)`;
  if (distinct.length > VALUES_LISTED) return `${distinct.slice(0, VALUES_LISTED).join(', ')} and ${distinct.length - VALUES_LISTED} more`;
  return (numbers ?? distinct).join(', ');
}

/**
 * One line for a suite's cases that a budget left out: how many and which, by what tells them apart from
 * the table's constants; past LEFT_OUT_LISTED, the values each such axis spans among them. Null for none.
 */
export function leftOutNote(leftOut: readonly Measurement[], of: number, split: AxisSplit): string | null {
  if (leftOut.length === 0) return null;
  const count = `${leftOut.length} of ${of} case${of === 1 ? '' : 's'}`;
  const names = leftOut.map((m) => describeAgainst(m.params, split));
  if (leftOut.length <= LEFT_OUT_LISTED) {
    const which = names.every((name) => name === '') ? '' : `: ${names.map((name) => name || '(the constants above)').join('; ')}`;
    return `left out by the run's time budget: ${count}${which}`;
  }
  const constant = new Map(split.constant);
  const axes = [...new Set(leftOut.flatMap((m) => Object.keys(m.params)))].filter((axis) =>
    leftOut.some((m) => m.params[axis] !== constant.get(axis)),
  );
  const spans = axes.map(
    (axis) => `${axis} ${spannedValues(leftOut.flatMap((m) => (m.params[axis] === undefined ? [] : [m.params[axis]])))}`,
  );
  return `left out by the run's time budget: ${count}${spans.length ? `, spanning ${spans.join('; ')}` : ''} (each one in \`report -f csv\`)`;
}

/**
 * One suite's cases, in the order given: a column per varying axis, the constant ones in the title; the cases
 * a budget left out are not rows but one note under the table.
 */
export function caseTable(suite: string, cases: readonly Measurement[]): TableModel {
  const shown = cases.filter((m) => m.status !== 'left-out');
  const leftOut = cases.filter((m) => m.status === 'left-out');
  const split = splitAxes((shown.length ? shown : leftOut).map((m) => m.params));
  const notes = [leftOutNote(leftOut, cases.length, split), tunedConfigNote(shown, split)].filter((note) => note !== null);
  return {
    title: titleWithConstants(suite, split),
    columns: [...split.varying.map(left), ...METRIC_COLUMNS],
    rows: shown.map((m) => caseRow(m, split)),
    keyColumns: split.varying.length,
    ...(notes.length && { notes }),
  };
}

/** The gap's allowance in words: each side and where it comes from. */
export function describeAllowance(allowance: GapAllowance, dispatches: number, stages: number): string {
  // The term is named whenever there is a probe, also where it comes to 0 (a probe at or below the overhead).
  const passTerm = allowance.passExtraPerStageMs === null ? '' : ` + (pass probe - dispatch overhead) x ${stages} stages`;
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

const STAGE_COLUMNS = [
  left('stage'),
  right('dispatches'),
  right('median ±CI95'),
  right('% of sum'),
  right('GB/s'),
  right('GFLOP/s'),
  right('% ceiling'),
  left('bound'),
];

/** Null for a case without stages. `label` names the case (default: every axis). */
export function stageSection(
  measurement: OkMeasurement,
  ceilings: Ceilings,
  label = describeCase(measurement.params),
): StageSection | null {
  const breakdown = stageBreakdown(measurement, ceilings);
  if (!breakdown) return null;
  const dispatches = String(measurement.timing.dispatches);
  const rows: Cell[][] = breakdown.rows.map(({ stage, share }) => [
    stage.name,
    String(stage.dispatches),
    medianWithCi(stage.gpu.median, stage.gpu.relCi95),
    formatPercent(share),
    formatRateValue(stage.rates.gbps),
    stage.work.flops ? formatRateValue(stage.rates.gflops) : '-',
    formatPercent(stage.rates.bound === 'compute' ? stage.rates.computeFraction : stage.rates.memoryFraction),
    stage.rates.bound,
  ]);
  rows.push(['sum of stages', dispatches, formatDuration(breakdown.sumMs), '100%', '', '', '', '']);
  rows.push([
    breakdown.paired ? 'end to end, same rounds' : 'end to end',
    dispatches,
    medianWithCi(breakdown.endToEndMs, breakdown.endToEndRelCi95),
    '',
    '',
    '',
    '',
    '',
  ]);
  const notes = [
    ...(breakdown.paired ? ['median per-round difference'] : []),
    ...(breakdown.passFloorMs === null ? [] : [`a minimal dispatch in its own timed pass: ${formatDuration(breakdown.passFloorMs)}`]),
    ...(breakdown.endToEndTimer === 'wall'
      ? ['end to end is wall time, submit to done with any host round trip; the stages are GPU time']
      : breakdown.allowance === null
        ? []
        : [
            `allowed -${formatDuration(breakdown.allowance.stagesAboveMs)} to +${formatDuration(breakdown.allowance.endToEndAboveMs)}: ${breakdown.withinOverhead ? 'adds up' : 'does NOT add up'}`,
          ]),
  ];
  const placement = breakdown.placement === 'in-pipeline' ? 'stages timed in the pipeline, each in its own pass' : 'stages timed alone';
  return {
    caseLabel: label,
    timing: `${placement}${breakdown.paired ? ', in rounds with end to end' : ''}`,
    table: { columns: STAGE_COLUMNS, rows, keyColumns: 1 },
    gap: `end to end - sum of stages = ${formatDuration(breakdown.gapMs)} ±${formatDuration(breakdown.gapUncertaintyMs)}${notes.length ? ` (${notes.join('; ')})` : ''}`,
  };
}

/** Each staged case's section, in the order given, the case named by its axes that vary among `cases` (one suite's). */
export function stageSections(cases: readonly Measurement[], ceilings: Ceilings): StageSection[] {
  const split = splitAxes(cases.filter((m) => m.status !== 'left-out').map((m) => m.params));
  return cases.flatMap((m) => (m.status === 'ok' ? (stageSection(m, ceilings, describeVarying(m.params, split) || m.suite) ?? []) : []));
}
