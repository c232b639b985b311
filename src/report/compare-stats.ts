import { mulberry32, quantile } from '../measure/statistics.js';

/**
 * Complementary error function: the Maclaurin series of erf below |x| = 1, the continued fraction
 * erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))) above (evaluated bottom-up).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  let tail: number;
  if (z < 1) {
    // erf(z) = 2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    tail = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let fraction = z;
    for (let k = 200; k >= 1; k--) fraction = z + k / 2 / fraction;
    tail = Math.exp(-z * z) / Math.sqrt(Math.PI) / fraction;
  }
  return x >= 0 ? tail : 2 - tail;
}

/** Upper tail of the standard normal distribution, P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

export interface MannWhitneyResult {
  /** U statistic of the first sample (scipy's `mannwhitneyu(x, y).statistic`). */
  u: number;
  /** Two-sided p-value, normal approximation with tie and continuity correction. */
  p: number;
  z: number;
}

/**
 * Mann-Whitney U test (two-sided), normal approximation with the tie correction of the variance and a
 * continuity correction of 0.5, as scipy.stats.mannwhitneyu(x, y, method='asymptotic') computes it.
 */
export function mannWhitneyU(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new Error('Mann-Whitney U needs two non-empty samples');
  const all = [...x.map((value) => ({ value, first: true })), ...y.map((value) => ({ value, first: false }))].sort(
    (a, b) => a.value - b.value,
  );
  const n = n1 + n2;
  let rankSumX = 0;
  let tieTerm = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && (all[j + 1] as { value: number }).value === (all[i] as { value: number }).value) j++;
    const rank = (i + j) / 2 + 1;
    const ties = j - i + 1;
    tieTerm += ties ** 3 - ties;
    for (let k = i; k <= j; k++) if ((all[k] as { first: boolean }).first) rankSumX += rank;
    i = j + 1;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const mu = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, p: 1, z: 0 };
  const uMax = Math.max(u, n1 * n2 - u);
  const z = (uMax - mu - 0.5) / Math.sqrt(variance);
  return { u, z, p: Math.min(1, 2 * normalSf(z)) };
}

function medianOf(values: Float64Array): number {
  values.sort();
  const n = values.length;
  const mid = n >>> 1;
  return n % 2 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty sample set is undefined');
  return medianOf(Float64Array.from(values));
}

export interface RatioEstimate {
  /** median(candidate) / median(base). */
  ratio: number;
  ci95: { lo: number; hi: number };
}

/**
 * Ratio of medians (candidate / base) with a percentile bootstrap CI that resamples both sample sets
 * independently; deterministic for a given seed.
 */
export function ratioOfMedians(
  base: readonly number[],
  candidate: readonly number[],
  opts: { resamples?: number; confidence?: number; seed?: number } = {},
): RatioEstimate {
  const resamples = opts.resamples ?? 2000;
  const confidence = opts.confidence ?? 0.95;
  const rand = mulberry32(opts.seed ?? 0x5eed);
  const ratio = median(candidate) / median(base);
  const b = Float64Array.from(base);
  const c = Float64Array.from(candidate);
  const bs = new Float64Array(b.length);
  const cs = new Float64Array(c.length);
  const ratios: number[] = new Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < b.length; i++) bs[i] = b[Math.floor(rand() * b.length)] as number;
    for (let i = 0; i < c.length; i++) cs[i] = c[Math.floor(rand() * c.length)] as number;
    ratios[r] = medianOf(cs) / medianOf(bs);
  }
  ratios.sort((x, y) => x - y);
  const alpha = (1 - confidence) / 2;
  return { ratio, ci95: { lo: quantile(ratios, alpha), hi: quantile(ratios, 1 - alpha) } };
}

/** Geometric mean of positive values (NaN for none or any non-positive value). */
export function geomean(values: readonly number[]): number {
  if (values.length === 0 || values.some((v) => !(v > 0))) return NaN;
  return Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
}

/**
 * Exact one-sided rank test on two small sets (the per-visit medians of a case in two runs): the probability,
 * with every split of the pooled values into sets of these sizes equally likely, of a U statistic (pairs in
 * which `candidate` is the larger, ties half) at least the observed one: p of "candidate is larger". Samples
 * within a visit share the machine's moment, so with visits the visit is the unit that replicates drift, as
 * in Google Benchmark's comparison of repetitions. 3 against 3: only a complete separation reaches 1/20.
 */
export function exactRankP(base: readonly number[], candidate: readonly number[]): number {
  const pooled = [...base, ...candidate];
  const n = pooled.length;
  const k = candidate.length;
  if (k === 0 || base.length === 0) throw new Error('the rank test needs two non-empty sets');
  if (n > 24) throw new Error(`exact rank test over ${n} values: use Mann-Whitney's approximation`);
  const uOf = (inCandidate: (i: number) => boolean): number => {
    let u = 0;
    for (let i = 0; i < n; i++) {
      if (!inCandidate(i)) continue;
      for (let j = 0; j < n; j++) {
        if (inCandidate(j)) continue;
        const [c, b] = [pooled[i] as number, pooled[j] as number];
        u += c > b ? 1 : c === b ? 0.5 : 0;
      }
    }
    return u;
  };
  const observed = uOf((i) => i >= base.length);
  let atLeast = 0;
  let total = 0;
  // Every k-subset of the pooled indices as the candidate set (bit masks; n <= 24).
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let m = mask; m; m &= m - 1) bits++;
    if (bits !== k) continue;
    total++;
    if (uOf((i) => ((mask >> i) & 1) === 1) >= observed - 1e-9) atLeast++;
  }
  return atLeast / total;
}

export type Verdict = 'faster' | 'slower' | 'same' | 'inconclusive';

/** Visit-level evidence (both runs sampled each case in visits): exactRankP each way. */
export interface VisitEvidence {
  /** p of "the candidate's visits are slower" and of "faster". */
  slowerP: number;
  fasterP: number;
}

/**
 * same: the CI of the ratio lies inside the noise band [1 - noise, 1 + noise];
 * slower / faster: the U test is significant, the ratio lies outside the case's band (`band`, at least `noise`:
 * wider where a run does not reproduce its own figure from visit to visit), and, where both runs have visits, the
 * visits agree (their one-sided rank test is significant too: a machine that drifted during one visit cannot make a
 * case slower on its own); otherwise inconclusive. A case whose band was widened is never called the same inside
 * it: the run cannot resolve the difference, which is inconclusive. Bands are fractions (0.02 = 2 %); ratios are
 * candidate / base times.
 */
export function verdict(
  estimate: RatioEstimate,
  p: number,
  noise: number,
  alpha = 0.05,
  visits: VisitEvidence | null = null,
  band = noise,
): Verdict {
  if (estimate.ci95.lo >= 1 - noise && estimate.ci95.hi <= 1 + noise) return 'same';
  const hi = 1 + Math.max(band, noise);
  const lo = 1 - Math.max(band, noise);
  if (p < alpha && estimate.ratio > hi && (visits === null || visits.slowerP <= alpha)) return 'slower';
  if (p < alpha && estimate.ratio < lo && (visits === null || visits.fasterP <= alpha)) return 'faster';
  return 'inconclusive';
}
