import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMedianCI, mulberry32, quantile, summarize } from '../../src/measure/statistics.js';
import {
  DEFAULT_STOPPING_RULE,
  relativeNoise,
  shouldStop,
  StopRule,
  validateStoppingRule,
  type StoppingRule,
} from '../../src/measure/stopping.js';

function near(actual: number, expected: number, eps = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);
}

function normalSamples(n: number, mean: number, sd: number, seed: number): number[] {
  const rand = mulberry32(seed);
  const out: number[] = [];
  while (out.length < n) {
    const u1 = 1 - rand(); // (0, 1], keeps log finite
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out.push(mean + sd * r * Math.cos(2 * Math.PI * u2));
    if (out.length < n) out.push(mean + sd * r * Math.sin(2 * Math.PI * u2));
  }
  return out;
}

test('quantile matches numpy linear interpolation', () => {
  const xs = [1, 2, 3, 4];
  near(quantile(xs, 0.25), 1.75);
  near(quantile(xs, 0.5), 2.5);
  near(quantile(xs, 0.9), 3.7);
  assert.equal(quantile(xs, 0), 1);
  assert.equal(quantile(xs, 1), 4);
  assert.equal(quantile([7], 0), 7);
  assert.equal(quantile([7], 0.5), 7);
  assert.equal(quantile([7], 1), 7);
});

test('quantile throws on empty input', () => {
  assert.throws(() => quantile([], 0.5), /empty/);
});

test('mulberry32 is deterministic and in [0, 1)', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const seqA = Array.from({ length: 1000 }, () => a());
  const seqB = Array.from({ length: 1000 }, () => b());
  const seqC = Array.from({ length: 1000 }, () => c());
  assert.deepEqual(seqA, seqB);
  assert.notDeepEqual(seqA, seqC);
  for (const x of seqA) assert.ok(x >= 0 && x < 1, `out of range: ${x}`);
  const mean = seqA.reduce((s, x) => s + x, 0) / seqA.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

test('summarize computes textbook values', () => {
  const s = summarize([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(s.n, 8);
  near(s.mean, 5);
  near(s.stdev, Math.sqrt(32 / 7));
  near(s.relStdev, Math.sqrt(32 / 7) / 5);
  near(s.median, 4.5);
  assert.equal(s.min, 2);
  assert.equal(s.max, 9);
  near(s.q1, 4);
  near(s.q3, 5.5);
  near(s.p90, 7.6);
  near(s.p99, 8.86);
  assert.ok(s.ci95.lo <= s.median && s.median <= s.ci95.hi);
  near(s.relCi95, (s.ci95.hi - s.ci95.lo) / 2 / s.median);
});

test('summarize of one sample has zero spread', () => {
  const s = summarize([3]);
  assert.equal(s.stdev, 0);
  assert.equal(s.relStdev, 0);
  assert.deepEqual(s.ci95, { lo: 3, hi: 3 });
  assert.equal(s.relCi95, 0);
  assert.equal(s.outliers, 0);
});

test('summarize does not depend on input order and does not mutate it', () => {
  const xs = [9, 2, 5, 4, 7, 4, 5, 4];
  const copy = [...xs];
  const s = summarize(xs);
  assert.deepEqual(xs, copy);
  near(s.median, 4.5);
  near(s.q3, 5.5);
});

test('outliers are counted with Tukey fences', () => {
  assert.equal(summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]).outliers, 1);
  assert.equal(summarize([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).outliers, 0);
  assert.equal(summarize([-100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]).outliers, 2);
});

test('summarize rejects empty and non-finite input', () => {
  assert.throws(() => summarize([]), /empty/);
  assert.throws(() => summarize([1, NaN]), /not a finite number/);
  assert.throws(() => summarize([1, Infinity]), /not a finite number/);
});

test('bootstrap CI contains the median and is deterministic for a seed', () => {
  const xs = normalSamples(101, 5, 2, 7);
  const median = quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
  const ci = bootstrapMedianCI(xs, { seed: 123 });
  assert.ok(ci.lo < median && median < ci.hi, `${ci.lo} < ${median} < ${ci.hi}`);
  assert.deepEqual(bootstrapMedianCI(xs, { seed: 123 }), ci);
  // The full CI often lands on the same order statistics for any seed, so check seed use on one resample.
  assert.notDeepEqual(bootstrapMedianCI(xs, { resamples: 1, seed: 123 }), bootstrapMedianCI(xs, { resamples: 1, seed: 124 }));
});

test('bootstrap CI is degenerate for constant or single samples', () => {
  assert.deepEqual(bootstrapMedianCI([4, 4, 4, 4, 4, 4]), { lo: 4, hi: 4 });
  assert.deepEqual(bootstrapMedianCI([2.5]), { lo: 2.5, hi: 2.5 });
  assert.throws(() => bootstrapMedianCI([]), /empty/);
});

test('bootstrap medians match a sort-based reference', () => {
  // With one resample the CI collapses onto that resample's median, which we can recompute.
  for (const n of [2, 3, 4, 7, 10, 31, 64]) {
    const xs = Array.from({ length: n }, (_, i) => (i * 7919) % 13); // includes duplicates
    for (const seed of [1, 2, 3]) {
      const rand = mulberry32(seed);
      const resample = Array.from({ length: n }, () => xs[Math.floor(rand() * n)] as number);
      resample.sort((a, b) => a - b);
      const expected = quantile(resample, 0.5);
      const ci = bootstrapMedianCI(xs, { resamples: 1, seed });
      assert.equal(ci.lo, expected, `n=${n} seed=${seed}`);
      assert.equal(ci.hi, expected, `n=${n} seed=${seed}`);
    }
  }
});

test('bootstrap CI width matches normal theory', () => {
  const n = 1000;
  const sd = 1;
  const xs = normalSamples(n, 10, sd, 2024);
  const ci = bootstrapMedianCI(xs);
  const halfWidth = (ci.hi - ci.lo) / 2;
  // Asymptotic standard error of the median is sqrt(pi/2) * sd / sqrt(n); the 95% CI spans +-1.96 of it.
  const expected = (1.96 * 1.2533 * sd) / Math.sqrt(n);
  assert.ok(Math.abs(halfWidth - expected) / expected < 0.3, `half-width ${halfWidth}, expected about ${expected}`);
  assert.ok(ci.lo < 10 && 10 < ci.hi, `CI [${ci.lo}, ${ci.hi}] should contain the true median`);
});

test('bootstrap rejects bad options', () => {
  assert.throws(() => bootstrapMedianCI([1, 2], { resamples: 0 }), /resamples/);
  assert.throws(() => bootstrapMedianCI([1, 2], { confidence: 1 }), /confidence/);
});

const rule: StoppingRule = {
  minSamples: 10,
  maxSamples: 100,
  maxRelNoise: 0.01,
  minTimeMs: 50,
  timeoutMs: 1000,
};

test('shouldStop: null below minSamples or minTime', () => {
  assert.equal(shouldStop(rule, { samples: Array(9).fill(1), elapsedMs: 500 }), null);
  assert.equal(shouldStop(rule, { samples: Array(50).fill(1), elapsedMs: 10 }), null);
  assert.equal(shouldStop(rule, { samples: [], elapsedMs: 0 }), null);
});

test('shouldStop: converged for identical samples once minTime is met', () => {
  assert.equal(shouldStop(rule, { samples: Array(50).fill(3), elapsedMs: 60 }), 'converged');
});

test('shouldStop: not converged when noise is high', () => {
  const alternating = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 1 : 2));
  assert.ok(relativeNoise(alternating) > rule.maxRelNoise);
  assert.equal(shouldStop(rule, { samples: alternating, elapsedMs: 60 }), null);
});

test('shouldStop: max-samples', () => {
  const alternating = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 1 : 2));
  assert.equal(shouldStop(rule, { samples: alternating, elapsedMs: 60 }), 'max-samples');
});

test('shouldStop: timeout wins over everything', () => {
  assert.equal(shouldStop(rule, { samples: Array(50).fill(3), elapsedMs: 1000 }), 'timeout');
  assert.equal(shouldStop(rule, { samples: Array(100).fill(3), elapsedMs: 1000 }), 'timeout');
  assert.equal(shouldStop(rule, { samples: [], elapsedMs: 5000 }), 'timeout');
});

test('relativeNoise: the order-statistic 95% CI of the median, close to the bootstrap one', () => {
  // 1..100: ranks floor((100 - 1.96 * 10) / 2) = 40 and ceil(1 + (100 + 1.96 * 10) / 2) = 61 around 50.5.
  const ranks = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.ok(Math.abs(relativeNoise(ranks) - (61 - 40) / 2 / 50.5) < 1e-12);
  for (const [n, seed] of [
    [50, 3],
    [400, 4],
    [2000, 5],
  ] as const) {
    const xs = normalSamples(n, 100, 5, seed);
    const ratio = relativeNoise(xs) / summarize(xs).relCi95;
    assert.ok(ratio > 0.6 && ratio < 1.6, `n ${n}: order statistics / bootstrap = ${ratio}`);
  }
});

test('relativeNoise is small for tight normal data and deterministic', () => {
  const xs = normalSamples(500, 100, 1, 9);
  const noise = relativeNoise(xs);
  assert.ok(noise > 0 && noise < 0.01, `noise ${noise}`);
  assert.equal(relativeNoise(xs), noise);
  assert.equal(relativeNoise([0, 0, 0]), 0);
  assert.equal(relativeNoise([-1, 0, 0, 0, 1]), Infinity);
});

test('validateStoppingRule', () => {
  assert.equal(validateStoppingRule(DEFAULT_STOPPING_RULE), null);
  assert.equal(validateStoppingRule(rule), null);
  assert.match(validateStoppingRule({ ...rule, minSamples: 0 }) ?? '', /minSamples/);
  assert.match(validateStoppingRule({ ...rule, minSamples: 2.5 }) ?? '', /minSamples/);
  assert.match(validateStoppingRule({ ...rule, maxRelNoise: 0 }) ?? '', /maxRelNoise/);
  assert.match(validateStoppingRule({ ...rule, maxRelNoise: -0.1 }) ?? '', /maxRelNoise/);
  assert.match(validateStoppingRule({ ...rule, minSamples: 200, maxSamples: 100 }) ?? '', /minSamples.*maxSamples/);
  assert.match(validateStoppingRule({ ...rule, timeoutMs: 0 }) ?? '', /timeoutMs/);
  assert.match(validateStoppingRule({ ...rule, minTimeMs: -1 }) ?? '', /minTimeMs/);
});

/** Two modes 6 % apart, half the samples in each, +-0.2 % jitter (a shared CPU's fast and slow phases). */
function bimodal(seed: number): number[] {
  const rand = mulberry32(seed);
  const n = 40 + Math.floor(rand() * 60);
  return Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 1.06) * (1 + (rand() - 0.5) * 0.004));
}

test("shouldStop: on bimodal samples (a shared CPU's fast and slow phases) the cheap check calls converged only where the reported CI agrees", () => {
  const wide = { ...rule, maxSamples: 1000 };
  let converged = 0;
  for (let seed = 1; seed < 400; seed++) {
    const samples = bimodal(seed);
    if (shouldStop(wide, { samples, elapsedMs: 100 }) !== 'converged') continue;
    converged++;
    assert.ok(summarize(samples).relCi95 <= wide.maxRelNoise, `seed ${seed}`);
    assert.equal(new StopRule(wide).check({ samples, elapsedMs: 100 }), 'converged');
  }
  assert.ok(converged > 0, 'some bimodal samples are tight enough to converge');
  // The 300-resample bootstrap this check used to run said +-0.05 % for this one; order statistics agree with
  // the 2000-resample CI that results report (+-2.7 %).
  const xs = bimodal(83);
  assert.equal(shouldStop(wide, { samples: xs, elapsedMs: 100 }), null);
  assert.ok(summarize(xs).relCi95 > wide.maxRelNoise);
  const stop = new StopRule(wide);
  assert.equal(stop.check({ samples: xs, elapsedMs: 5000 }), 'timeout');
  assert.equal(new StopRule(wide).check({ samples: Array(50).fill(3), elapsedMs: 60 }), 'converged');
});
