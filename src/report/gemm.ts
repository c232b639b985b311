import type { Ceilings } from '../measure/rates.js';
import { quantile } from '../measure/statistics.js';
import type { Measurement, OkMeasurement } from '../results/schema.js';
import { describeCase } from '../suites/expand.js';
import { splitAxes, titleWithConstants, varyingCells, type Params } from './axes.js';
import { formatDuration, formatPercent, formatRateValue } from './format.js';
import { left, right, type TableModel } from './table-model.js';

/**
 * GEMM family summaries from results only: each case against both of its roofs (a GEMM's is the f32 FMA ceiling,
 * a GEMV's the read bandwidth: its bytes are nearly all reads, which the case table's memory fraction holds
 * against the copy bandwidth), and kernel A/B pairs (cases equal but for `kernel`, from the same run).
 */

function gemmCases(cases: readonly Measurement[]): OkMeasurement[] {
  return cases.filter((c): c is OkMeasurement => c.status === 'ok' && c.family === 'gemm');
}

export interface GemmRoofRow {
  label: string;
  params: Params;
  plan: string;
  medianMs: number;
  gflops: number;
  fmaFraction: number | null;
  readGBs: number;
  readFraction: number | null;
  bound: string;
}

/** Every arithmetic here is f32 (f16 is storage only), so both dtypes are held against the f32 FMA ceiling. */
export function gemmRoofRows(cases: readonly Measurement[], ceilings: Ceilings): GemmRoofRow[] {
  return gemmCases(cases).map((c): GemmRoofRow => {
    const ms = c.timing.gpu.median;
    const readGBs = c.work.bytesRead / ms / 1e6;
    return {
      params: c.params,
      label: describeCase(c.params),
      plan: String(c.facts?.['plan'] ?? '-'),
      medianMs: ms,
      gflops: c.rates.gflops,
      fmaFraction: ceilings.fmaF32Gflops ? c.rates.gflops / ceilings.fmaF32Gflops : null,
      readGBs,
      readFraction: ceilings.readGBs ? readGBs / ceilings.readGBs : null,
      bound: c.rates.bound,
    };
  });
}

export interface GemmPair {
  shape: string;
  shapeParams: Params;
  base: { kernel: string; ms: number };
  other: { kernel: string; ms: number };
  /** other / base, from the medians. */
  ratio: number;
  /** other / base per visit (the visits alternate the two, so each pair ran at the same time of the run). */
  visitRatios: number[];
}

/** Cases equal but for `kernel`, each against the group's `auto` case (or its first). */
export function gemmPairs(cases: readonly Measurement[]): GemmPair[] {
  const groups = new Map<string, OkMeasurement[]>();
  const shapes = new Map<string, Params>();
  for (const c of gemmCases(cases)) {
    const { kernel: _kernel, ...shape } = c.params;
    const key = describeCase(shape);
    shapes.set(key, shape);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const pairs: GemmPair[] = [];
  for (const [shape, group] of groups) {
    if (group.length < 2) continue;
    const base = group.find((c) => c.params['kernel'] === 'auto') ?? group[0]!;
    for (const other of group) {
      if (other === base) continue;
      const a = base.timing.visitMediansMs ?? [];
      const b = other.timing.visitMediansMs ?? [];
      pairs.push({
        shape,
        shapeParams: shapes.get(shape)!,
        base: { kernel: String(base.params['kernel'] ?? 'auto'), ms: base.timing.gpu.median },
        other: { kernel: String(other.params['kernel'] ?? 'auto'), ms: other.timing.gpu.median },
        ratio: other.timing.gpu.median / base.timing.gpu.median,
        visitRatios: a.slice(0, Math.min(a.length, b.length)).map((ms, i) => b[i]! / ms),
      });
    }
  }
  return pairs;
}

export function gemmTables(cases: readonly Measurement[], ceilings: Ceilings): TableModel[] {
  const out: TableModel[] = [];
  const roofs = gemmRoofRows(cases, ceilings);
  if (roofs.length) {
    const split = splitAxes(roofs.map((r) => r.params));
    out.push({
      title: titleWithConstants("GEMM family against its roofs (this run's ceilings; every arithmetic is f32)", split),
      columns: [
        ...split.varying.map(left),
        left('plan'),
        right('median'),
        right('GFLOP/s'),
        right('% f32 FMA'),
        right('read GB/s'),
        right('% read'),
        left('bound'),
      ],
      rows: roofs.map((r) => [
        ...varyingCells(r.params, split),
        r.plan,
        formatDuration(r.medianMs),
        formatRateValue(r.gflops),
        formatPercent(r.fmaFraction),
        formatRateValue(r.readGBs),
        formatPercent(r.readFraction),
        r.bound,
      ]),
      keyColumns: split.varying.length,
    });
  }
  const pairs = gemmPairs(cases);
  if (pairs.length) {
    const split = splitAxes(pairs.map((p) => p.shapeParams));
    out.push({
      title: titleWithConstants('GEMM kernels A/B (same shape, same run, visits alternating)', split),
      columns: [
        ...split.varying.map(left),
        left('base'),
        right('median'),
        left('other'),
        right('median'),
        right('other/base'),
        right('per visit'),
      ],
      rows: pairs.map((p) => [
        ...varyingCells(p.shapeParams, split),
        p.base.kernel,
        formatDuration(p.base.ms),
        p.other.kernel,
        formatDuration(p.other.ms),
        `${p.ratio.toFixed(2)}x`,
        p.visitRatios.length
          ? `${quantile(
              [...p.visitRatios].sort((x, y) => x - y),
              0.5,
            ).toFixed(2)}x (${Math.min(...p.visitRatios).toFixed(2)}-${Math.max(...p.visitRatios).toFixed(2)})`
          : '-',
      ]),
      keyColumns: split.varying.length,
      notes: [
        'per visit: other/base per visit, median (range); the visits alternate the kernels, so each pair ran at the same time of the run',
      ],
    });
  }
  return out;
}
