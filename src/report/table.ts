import Table from 'cli-table3';
import type { Ceilings } from '../measure/rates.js';
import type { Measurement, OkMeasurement, ResultFile } from '../results/schema.js';
import { stageBreakdown, type GapAllowance } from './stages.js';
import { describeCase } from '../suites/expand.js';
import { ceilingRows, formatDuration, formatError, formatPercent, formatRate } from './format.js';
import { renderMlaSections } from './mla.js';
import { shownRelError } from './data.js';

const NO_DISPATCH_CEILINGS: Ceilings = { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null };

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
}

function maxRelError(measurement: Extract<Measurement, { numerics: unknown }>, footnotes: Footnotes): string {
  const worst = shownRelError(measurement) ?? 0;
  const sampled = measurement.numerics.checks.find((check) => check.sampledRows)?.sampledRows;
  const note = sampled ? ` ${footnotes.mark(`checked on ${sampled.checked} of ${sampled.total} output rows, evenly spaced (the full float64 reference would cost the host minutes)`)}` : '';
  return formatError(worst) + note;
}

/** Numbers the distinct skip and error reasons of a table, so the status column stays narrow. */
class Footnotes {
  private readonly notes: string[] = [];
  mark(text: string): string {
    const at = this.notes.indexOf(text);
    return `[${(at < 0 ? this.notes.push(text) : at + 1)}]`;
  }
  render(): string {
    return this.notes.map((note, i) => `[${i + 1}] ${note}`).join('\n');
  }
}

function caseRow(measurement: Measurement, footnotes: Footnotes): string[] {
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
        maxRelError(measurement, footnotes),
      ];
    }
    case 'checked':
      return [label, 'checked', 'not timed', '', '', '', '', '', maxRelError(measurement, footnotes)];
    case 'numerics-failed':
      return [label, 'NUMERICS FAILED', '-', '-', '-', '-', '-', '-', maxRelError(measurement, footnotes)];
    case 'skipped':
      return [label, `skipped ${footnotes.mark(measurement.reason)}`, '', '', '', '', '', '', ''];
    case 'error':
      return [label, `error ${footnotes.mark(measurement.message)}`, '', '', '', '', '', '', ''];
  }
}

/** The gap's allowance in words: each side and where it comes from. */
export function renderAllowance(allowance: GapAllowance, dispatches: number, stages: number): string {
  const passTerm = allowance.passExtraPerStageMs > 0 ? ` + (pass probe - dispatch overhead) x ${stages} stages` : '';
  return `end to end up to ${formatDuration(allowance.endToEndAboveMs)} above the stages (dispatch overhead x ${dispatches} dispatches), the stages up to ${formatDuration(allowance.stagesAboveMs)} above it (the same${passTerm})`;
}

/** A multi-stage case's stages, each timed in its own pass, beside the sum and the end-to-end time. */
export function renderStageTable(measurement: OkMeasurement, ceilings: Ceilings): string {
  const breakdown = stageBreakdown(measurement, ceilings);
  if (!breakdown) return '';
  const t = table(['stage', 'dispatches', 'median', 'CI95', '% of sum', 'GB/s', 'GFLOP/s', '% ceiling', 'bound']);
  for (const { stage, share } of breakdown.rows) {
    const ceiling = stage.rates.bound === 'compute' ? stage.rates.computeFraction : stage.rates.memoryFraction;
    t.push([
      stage.name,
      String(stage.dispatches),
      formatDuration(stage.gpu.median),
      `±${formatPercent(stage.gpu.relCi95, 1)}`,
      formatPercent(share),
      formatRate(stage.rates.gbps, 'GB/s'),
      stage.work.flops ? formatRate(stage.rates.gflops, 'GFLOP/s') : '-',
      formatPercent(ceiling),
      stage.rates.bound,
    ]);
  }
  t.push(['sum of stages', String(measurement.timing.dispatches), formatDuration(breakdown.sumMs), '', '100%', '', '', '', '']);
  t.push([breakdown.paired ? 'end to end, same rounds' : 'end to end', String(measurement.timing.dispatches), formatDuration(breakdown.endToEndMs), `±${formatPercent(breakdown.endToEndRelCi95, 1)}`, '', '', '', '', '']);
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
  return `${describeCase(measurement.params)}: ${placement}${breakdown.paired ? ', in rounds with end to end' : ''}\n${t.toString()}\nend to end - sum of stages = ${formatDuration(breakdown.gapMs)} ±${formatDuration(breakdown.gapUncertaintyMs)}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/** One table per suite: median GPU time per repeat, its CI, rates, % of the relevant ceiling, bound, error; then stage tables. */
export function renderCaseTables(cases: Measurement[], ceilings: Ceilings = NO_DISPATCH_CEILINGS): string {
  const suites = [...new Set(cases.map((c) => c.suite))];
  return suites
    .map((suite) => {
      const own = cases.filter((c) => c.suite === suite);
      const t = table(['case', 'status', 'median', 'CI95', 'GB/s', 'GFLOP/s', '% ceiling', 'bound', 'rel err']);
      const footnotes = new Footnotes();
      for (const measurement of own) t.push(caseRow(measurement, footnotes));
      const notes = footnotes.render();
      const stageTables = own.flatMap((m) => (m.status === 'ok' && m.stages?.length ? [renderStageTable(m, ceilings)] : []));
      return [`${suite}\n${t.toString()}${notes ? `\n${notes}` : ''}`, ...stageTables].join('\n\n');
    })
    .join('\n\n');
}

export function renderCeilings(ceilings: Ceilings): string {
  const t = table(['ceiling', 'value']);
  for (const row of ceilingRows(ceilings)) t.push(row);
  return t.toString();
}

export function renderResults(results: ResultFile, options: { memoryBudgetGB?: number } = {}): string {
  const { adapter } = results.environment;
  const header = `${adapter.description || adapter.device} (${adapter.vendor || 'unknown vendor'}, ${adapter.architecture || 'unknown architecture'}) - profile ${results.config.profile}`;
  const mla = renderMlaSections(results.cases, options.memoryBudgetGB);
  return [header, '', 'Device ceilings (calibrated in this run)', renderCeilings(results.ceilings), '', renderCaseTables(results.cases, results.ceilings), ...(mla ? ['', mla] : [])].join('\n');
}
