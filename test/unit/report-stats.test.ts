import assert from 'node:assert/strict';
import { test } from 'node:test';
import { erfc, geomean, mannWhitneyU, median, normalSf, ratioOfMedians, verdict } from '../../src/report/compare-stats.js';

const close = (actual: number, expected: number, rel = 1e-9, what = ''): void =>
  assert.ok(Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-300), `${what} ${actual} != ${expected}`);

test('erfc matches the reference values (Python math.erfc) across both branches', () => {
  const expected: Array<[number, number]> = [
    [0, 1],
    [0.5, 0.4795001221869535],
    [1, 0.15729920705028513],
    [2, 0.004677734981047265],
    [2.99, 2.3525603080640195e-5],
    [3, 2.2090496998585438e-5],
    [4, 1.541725790028002e-8],
    [6, 2.1519736712498916e-17],
    [-1, 1.842700792949715],
  ];
  for (const [x, value] of expected) close(erfc(x), value, 1e-9, `erfc(${x})`);
  close(normalSf(1.959963984540054), 0.025, 1e-9, 'normal 97.5% quantile');
});

test('Mann-Whitney U: statistic and two-sided asymptotic p-value equal scipy.stats.mannwhitneyu(method="asymptotic")', () => {
  // Expected values computed with scipy 1.17 mannwhitneyu(x, y, method='asymptotic', use_continuity=True).
  const cases: Array<[number[], number[], number, number]> = [
    [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 0, 0.012185780355344813],
    [[1.1, 2.2, 2.2, 3.5, 4.0, 4.0, 5.1], [2.2, 3.5, 4.4, 6.0, 6.0, 7.2], 9.5, 0.11256702389221167],
    [[10, 11, 12, 13], [10, 11, 12, 13], 8, 1],
    [[0.51, 0.49, 0.5, 0.53, 0.52, 0.5, 0.48, 0.55], [0.6, 0.58, 0.61, 0.59, 0.57, 0.62, 0.63, 0.56, 0.6], 0, 0.0006257900796422518],
  ];
  for (const [x, y, u, p] of cases) {
    const result = mannWhitneyU(x, y);
    assert.equal(result.u, u);
    close(result.p, p, 1e-9, `p of ${x} vs ${y}`);
  }
  // U of the first sample plus U of the second is n1 * n2.
  assert.equal(mannWhitneyU([1, 5, 9], [2, 3]).u + mannWhitneyU([2, 3], [1, 5, 9]).u, 6);
  assert.throws(() => mannWhitneyU([], [1]));
});

test('all-tied samples have p = 1 (zero variance)', () => {
  assert.deepEqual(mannWhitneyU([2, 2, 2], [2, 2]), { u: 3, p: 1, z: 0 });
});

test('median and geomean', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  close(geomean([1, 4]), 2);
  close(geomean([1.2, 1.2, 1.2]), 1.2);
  assert.ok(Number.isNaN(geomean([])));
  assert.ok(Number.isNaN(geomean([1, 0])));
});

test('ratio of medians: exact point estimate, deterministic bootstrap CI around it', () => {
  const base = [1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.0, 1.01, 0.99];
  const slow = base.map((x) => x * 1.2);
  const estimate = ratioOfMedians(base, slow, { seed: 7 });
  close(estimate.ratio, 1.2, 1e-12);
  assert.ok(estimate.ci95.lo < 1.2 && estimate.ci95.hi > 1.2);
  assert.ok(estimate.ci95.lo > 1.1 && estimate.ci95.hi < 1.3);
  assert.deepEqual(ratioOfMedians(base, slow, { seed: 7 }), estimate, 'same seed, same CI');
  const same = ratioOfMedians(base, base);
  close(same.ratio, 1);
  assert.ok(same.ci95.lo >= 0.97 && same.ci95.hi <= 1.03);
});

test('verdict: same inside the noise band, slower/faster only when significant and outside it', () => {
  const noise = 0.02;
  assert.equal(verdict({ ratio: 1.0, ci95: { lo: 0.99, hi: 1.01 } }, 0.9, noise), 'same');
  assert.equal(verdict({ ratio: 1.2, ci95: { lo: 1.15, hi: 1.25 } }, 0.001, noise), 'slower');
  assert.equal(verdict({ ratio: 0.8, ci95: { lo: 0.75, hi: 0.85 } }, 0.001, noise), 'faster');
  assert.equal(verdict({ ratio: 1.2, ci95: { lo: 0.9, hi: 1.5 } }, 0.2, noise), 'inconclusive', 'not significant');
  assert.equal(verdict({ ratio: 1.01, ci95: { lo: 1.005, hi: 1.03 } }, 0.001, noise), 'inconclusive', 'significant but inside the band');
});

test('the default noise band is 2 % on a GPU and 10 % where the base ran on a software adapter', async () => {
  const { defaultNoisePct } = await import('../../src/report/compare.js');
  const { loadResults } = await import('../../src/report/data.js');
  const [gpu] = loadResults([new URL('../fixtures/results-device-a.json', import.meta.url).pathname]);
  assert.equal(defaultNoisePct(gpu!), 2);
  const software = { ...gpu!, results: { ...gpu!.results, environment: { ...gpu!.results.environment, adapter: { ...gpu!.results.environment.adapter, architecture: 'software' } } } };
  assert.equal(defaultNoisePct(software), 10);
  const fallback = { ...gpu!, results: { ...gpu!.results, environment: { ...gpu!.results.environment, adapter: { ...gpu!.results.environment.adapter, isFallbackAdapter: true } } } };
  assert.equal(defaultNoisePct(fallback), 10);
});

test('ceilingShifts: time ratios (rates inverted, the dispatch overhead as is), unmeasured ceilings left out', async () => {
  const { ceilingShifts, machineDriftNote } = await import('../../src/report/compare.js');
  const base = { copyGBs: 100, readGBs: 80, fmaF32Gflops: 1000, fmaF16Gflops: null, dispatchUs: 10 };
  const candidate = { copyGBs: 50, readGBs: 81, fmaF32Gflops: 1000, fmaF16Gflops: 2000, dispatchUs: 12 };
  const shifts = ceilingShifts(base, candidate, 0.1);
  assert.deepEqual(
    shifts.map((s) => [s.ceiling, s.timeRatio, s.moved]),
    [
      ['copyGBs', 2, true],
      ['readGBs', 80 / 81, false],
      ['fmaF32Gflops', 1, false],
      ['dispatchUs', 1.2, true],
    ],
  );
  assert.equal(
    machineDriftNote(shifts, 10),
    "the machine itself moved between these runs: its calibrated ceilings (time ratio, above 1 slower) copy bandwidth 2.00x, dispatch overhead 1.20x, past the ±10% band; verdicts of cases bound by them may be the machine's, not the build's",
  );
  assert.equal(machineDriftNote(ceilingShifts(base, base, 0.02), 2), null);
});
