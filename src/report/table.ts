import Table from 'cli-table3';
import type { Ceilings } from '../measure/rates.js';
import type { Measurement, ResultFile } from '../results/schema.js';
import { describeCase } from '../suites/expand.js';
import { formatDuration, formatError, formatPercent, formatRate } from './format.js';
import { renderMlaSections } from './mla.js';

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
}

function maxRelError(measurement: Extract<Measurement, { numerics: unknown }>): string {
  const worst = measurement.numerics.checks.reduce<number | string>((max, check) => {
    if (typeof check.maxRelError === 'string' || typeof max === 'string') return typeof max === 'string' ? max : check.maxRelError;
    return Math.max(max, check.maxRelError);
  }, 0);
  return formatError(worst);
}

function caseRow(measurement: Measurement): string[] {
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
        maxRelError(measurement),
      ];
    }
    case 'numerics-failed':
      return [label, 'NUMERICS FAILED', '-', '-', '-', '-', '-', '-', maxRelError(measurement)];
    case 'skipped':
      return [label, `skipped: ${measurement.reason}`, '', '', '', '', '', '', ''];
    case 'error':
      return [label, `error: ${measurement.message}`, '', '', '', '', '', '', ''];
  }
}

/** One table per suite: median GPU time per repeat, its CI, rates, % of the relevant ceiling, bound, error. */
export function renderCaseTables(cases: Measurement[]): string {
  const suites = [...new Set(cases.map((c) => c.suite))];
  return suites
    .map((suite) => {
      const t = table(['case', 'status', 'median', 'CI95', 'GB/s', 'GFLOP/s', '% ceiling', 'bound', 'max rel err']);
      for (const measurement of cases.filter((c) => c.suite === suite)) t.push(caseRow(measurement));
      return `${suite}\n${t.toString()}`;
    })
    .join('\n\n');
}

export function renderCeilings(ceilings: Ceilings): string {
  const t = table(['ceiling', 'value']);
  const value = (x: number | null, unit: string): string => (x === null ? 'not measured' : formatRate(x, unit));
  t.push(['copy bandwidth', value(ceilings.copyGBs, 'GB/s')]);
  t.push(['read bandwidth', value(ceilings.readGBs, 'GB/s')]);
  t.push(['f32 FMA', value(ceilings.fmaF32Gflops, 'GFLOP/s')]);
  t.push(['f16 FMA', value(ceilings.fmaF16Gflops, 'GFLOP/s')]);
  t.push(['dispatch overhead', ceilings.dispatchUs === null ? 'not measured' : formatDuration(ceilings.dispatchUs / 1e3)]);
  return t.toString();
}

export function renderResults(results: ResultFile, options: { memoryBudgetGB?: number } = {}): string {
  const { adapter } = results.environment;
  const header = `${adapter.description || adapter.device} (${adapter.vendor || 'unknown vendor'}, ${adapter.architecture || 'unknown architecture'}) - profile ${results.config.profile}`;
  const mla = renderMlaSections(results.cases, options.memoryBudgetGB);
  return [header, '', 'Device ceilings (calibrated in this run)', renderCeilings(results.ceilings), '', renderCaseTables(results.cases), ...(mla ? ['', mla] : [])].join('\n');
}
