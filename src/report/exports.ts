import { okCases, type LoadedResults } from './data.js';
import { peerRatioExports } from './peers.js';

/** github-action-benchmark's custom tool entry. */
export interface GabEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

export interface BmfMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}

/** Bencher Metric Format: benchmark name -> measure -> metric. */
export type Bmf = Record<string, Record<string, BmfMetric>>;

function nameOf(file: LoadedResults, key: string, devices: number): string {
  return devices > 1 ? `${file.device}: ${key}` : key;
}

/**
 * github-action-benchmark input: `smaller` (customSmallerIsBetter) holds the median latency in ms with
 * the CI95 half-width as range; `bigger` (customBiggerIsBetter) GB/s and, where a case does arithmetic, GFLOP/s.
 */
export function githubActionBenchmark(files: readonly LoadedResults[]): { smaller: GabEntry[]; bigger: GabEntry[] } {
  const devices = new Set(files.map((f) => f.device)).size;
  const smaller: GabEntry[] = [];
  const bigger: GabEntry[] = [];
  for (const file of files) {
    for (const c of okCases(file.results.cases)) {
      const name = nameOf(file, c.key, devices);
      const { gpu } = c.timing;
      const extra = `${gpu.n} samples, ${c.timing.repeats} repeats per sample, ${c.timing.stopReason}; ${file.device}`;
      smaller.push({ name, unit: 'ms', value: gpu.median, range: `± ${((gpu.ci95.hi - gpu.ci95.lo) / 2).toPrecision(3)}`, extra });
      if (c.work.bytesRead + c.work.bytesWritten > 0) bigger.push({ name: `${name} (GB/s)`, unit: 'GB/s', value: c.rates.gbps, extra });
      if (c.work.flops > 0) bigger.push({ name: `${name} (GFLOP/s)`, unit: 'GFLOP/s', value: c.rates.gflops, extra });
    }
    for (const p of peerRatioExports(file, (key) => nameOf(file, key, devices)))
      bigger.push({
        name: p.name,
        unit: 'x',
        value: p.ratio,
        extra: `${p.peer} attention kernels / mla-bench median; above 1, mla-bench is faster`,
      });
  }
  return { smaller, bigger };
}

/**
 * Bencher Metric Format: `latency` is the median GPU time per repeat in ms with its CI95 as bounds;
 * `throughput` is GB/s (bounds from the same CI), for cases that move bytes.
 */
export function bencherMetricFormat(files: readonly LoadedResults[]): Bmf {
  const devices = new Set(files.map((f) => f.device)).size;
  const out: Bmf = {};
  for (const file of files) {
    for (const c of okCases(file.results.cases)) {
      const { gpu } = c.timing;
      const entry: Record<string, BmfMetric> = { latency: { value: gpu.median, lower_value: gpu.ci95.lo, upper_value: gpu.ci95.hi } };
      const bytes = c.work.bytesRead + c.work.bytesWritten;
      if (bytes > 0 && gpu.median > 0) {
        const gbps = (ms: number): number => bytes / (ms / 1e3) / 1e9;
        entry['throughput'] = { value: c.rates.gbps, lower_value: gbps(gpu.ci95.hi), upper_value: gbps(gpu.ci95.lo) };
      }
      out[nameOf(file, c.key, devices)] = entry;
    }
    for (const p of peerRatioExports(file, (key) => nameOf(file, key, devices))) out[p.name] = { [`peer-ratio`]: { value: p.ratio } };
  }
  return out;
}
