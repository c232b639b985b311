import { mulberry32 } from '../core/random.js';

export interface SampleStatistics {
  n: number;
  mean: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
  p90: number;
  p99: number;
  stdev: number;
  relStdev: number;
  ci95: { lo: number; hi: number };
  relCi95: number;
  outliers: number;
}

export interface BootstrapOptions {
  resamples?: number;
  confidence?: number;
  seed?: number;
}

const DEFAULT_RESAMPLES = 2000;
const DEFAULT_CONFIDENCE = 0.95;
const DEFAULT_SEED = 0x5eed;

function quantileOf(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) throw new Error('quantile of an empty sample set is undefined');
  if (!(p >= 0 && p <= 1)) throw new Error(`quantile p must be in [0, 1], got ${p}`);
  const pos = (n - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

/** Quantile of ascending-sorted data, linear interpolation (numpy "linear", R type 7). */
export function quantile(sorted: readonly number[], p: number): number {
  return quantileOf(sorted, p);
}

export { mulberry32 };

/** Rearranges a[0..n) so a[k] holds the k-th smallest value, smaller ones before it, larger after. */
function quickselect(a: Float64Array, k: number, n: number): number {
  let left = 0;
  let right = n - 1;
  while (right > left) {
    // Median-of-three pivot avoids quadratic behaviour on already-ordered or constant runs.
    const mid = (left + right) >>> 1;
    const x = a[left] as number;
    const y = a[mid] as number;
    const z = a[right] as number;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const tmp = a[i] as number;
        a[i] = a[j] as number;
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return a[k] as number;
}

function medianInPlace(a: Float64Array, n: number): number {
  const k = n >>> 1;
  const upper = quickselect(a, k, n);
  if (n % 2 === 1) return upper;
  // After selecting k, everything below index k is <= a[k]; the lower middle is their max.
  let lower = a[0] as number;
  for (let i = 1; i < k; i++) {
    const v = a[i] as number;
    if (v > lower) lower = v;
  }
  return (lower + upper) / 2;
}

/** Percentile bootstrap confidence interval of the median; deterministic for a given seed. */
export function bootstrapMedianCI(samples: readonly number[], opts: BootstrapOptions = {}): { lo: number; hi: number } {
  const resamples = opts.resamples ?? DEFAULT_RESAMPLES;
  const confidence = opts.confidence ?? DEFAULT_CONFIDENCE;
  const seed = opts.seed ?? DEFAULT_SEED;
  const n = samples.length;
  if (n === 0) throw new Error('cannot bootstrap an empty sample set');
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new Error(`resamples must be a positive integer, got ${resamples}`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new Error(`confidence must be in (0, 1), got ${confidence}`);
  }
  if (n === 1) {
    const x = samples[0] as number;
    return { lo: x, hi: x };
  }

  const source = Float64Array.from(samples);
  const scratch = new Float64Array(n);
  const medians = new Float64Array(resamples);
  const rand = mulberry32(seed);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) scratch[i] = source[Math.floor(rand() * n)] as number;
    medians[r] = medianInPlace(scratch, n);
  }
  medians.sort();
  const alpha = (1 - confidence) / 2;
  return { lo: quantileOf(medians, alpha), hi: quantileOf(medians, 1 - alpha) };
}

export function summarize(samples: readonly number[], opts: { resamples?: number; seed?: number } = {}): SampleStatistics {
  const n = samples.length;
  if (n === 0) throw new Error('cannot summarize an empty sample set');
  for (let i = 0; i < n; i++) {
    const v = samples[i] as number;
    if (!Number.isFinite(v)) throw new Error(`sample ${i} is not a finite number: ${v}`);
  }

  const sorted = [...samples].sort((a, b) => a - b);
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  let squares = 0;
  for (const v of sorted) squares += (v - mean) ** 2;
  const stdev = n > 1 ? Math.sqrt(squares / (n - 1)) : 0;

  const median = quantile(sorted, 0.5);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const iqr = q3 - q1;
  const lowFence = q1 - 1.5 * iqr;
  const highFence = q3 + 1.5 * iqr;
  let outliers = 0;
  for (const v of sorted) if (v < lowFence || v > highFence) outliers++;

  const ci95 = bootstrapMedianCI(samples, {
    confidence: 0.95,
    ...(opts.resamples !== undefined ? { resamples: opts.resamples } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  });

  return {
    n,
    mean,
    median,
    min: sorted[0] as number,
    max: sorted[n - 1] as number,
    q1,
    q3,
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    stdev,
    relStdev: mean === 0 ? 0 : stdev / mean,
    ci95,
    relCi95: median === 0 ? 0 : (ci95.hi - ci95.lo) / 2 / median,
    outliers,
  };
}
