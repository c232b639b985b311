import assert from 'node:assert/strict';
import { test } from 'node:test';
import { erfc, exactRankP, geomean, mannWhitneyU, median, normalSf, ratioOfMedians, verdict } from '../../src/report/compare-stats.js';
import type { CeilingKind } from '../../src/core/numbers.js';
import { calibrationShifts, caseBand, machineFactor, visitEvidence } from '../../src/report/compare.js';
import { okFixture } from '../helpers/fixtures.js';

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

test('exactRankP: the exact one-sided rank test over every split of the pooled values', () => {
  // 3 against 3: 20 splits; complete separation is the one most extreme.
  close(exactRankP([1, 2, 3], [4, 5, 6]), 1 / 20);
  close(exactRankP([4, 5, 6], [1, 2, 3]), 1);
  // U = 6 of 9; U of 3 against 3 takes 0..9 with counts 1,1,2,3,3,3,3,2,1,1: P(U >= 6) = 7/20.
  close(exactRankP([1, 2, 3], [0.5, 5, 6]), 7 / 20);
  // All tied: every split has the same U.
  close(exactRankP([1, 1, 1], [1, 1, 1]), 1);
  assert.throws(() => exactRankP([], [1]), /non-empty/);
});

test('verdict: with visits on both sides, slower / faster also need the visits to agree', () => {
  const noise = 0.1;
  const estimate = { ratio: 1.3, ci95: { lo: 1.25, hi: 1.35 } };
  // Thousands of samples make any shift significant; one slow visit of three is not a slower build.
  assert.equal(verdict(estimate, 1e-9, noise, 0.05, { slowerP: 0.35, fasterP: 0.8 }), 'inconclusive');
  assert.equal(verdict(estimate, 1e-9, noise, 0.05, { slowerP: 0.05, fasterP: 1 }), 'slower');
  assert.equal(verdict({ ratio: 0.7, ci95: { lo: 0.65, hi: 0.75 } }, 1e-9, noise, 0.05, { slowerP: 1, fasterP: 0.05 }), 'faster');
  assert.equal(verdict(estimate, 1e-9, noise, 0.05, null), 'slower', 'files without visits: as before');
  // A band widened to 30 % (one run's visits spread that far): 1.3x is beyond it, 1.2x is not, and never "same".
  assert.equal(verdict({ ratio: 1.35, ci95: { lo: 1.32, hi: 1.38 } }, 1e-9, noise, 0.05, null, 0.3), 'slower');
  assert.equal(verdict({ ratio: 1.2, ci95: { lo: 1.15, hi: 1.25 } }, 1e-9, noise, 0.05, null, 0.3), 'inconclusive');
  assert.equal(verdict({ ratio: 1.05, ci95: { lo: 1.0, hi: 1.09 } }, 0.01, noise, 0.05, null, 0.3), 'same', 'inside the run band');
  assert.equal(verdict({ ratio: 1.15, ci95: { lo: 1.12, hi: 1.18 } }, 0.01, noise, 0.05, null, 0.3), 'inconclusive');
});

test('visitEvidence: only where both runs have visits enough for the test to reach alpha', () => {
  const evidence = visitEvidence([1, 1.1, 0.9], [2, 2.1, 1.9]);
  assert.ok(evidence);
  close(evidence.slowerP, 1 / 20);
  close(evidence.fasterP, 1);
  // 2 against 2 can at best reach 1/6: no judgement rather than a test that never fires.
  assert.equal(visitEvidence([1, 1.1], [2, 2.1]), null);
  assert.equal(visitEvidence(undefined, [2, 2.1, 1.9]), null);
});

test("caseBand: the comparison's band, widened to the larger spread of either run's visit medians", () => {
  assert.equal(caseBand(0.1), 0.1);
  assert.equal(caseBand(0.1, [1, 1.05, 1.02], undefined), 0.1, 'visits steadier than the band leave it');
  close(caseBand(0.1, [1, 1.05], [2, 3, 2.5]), 0.5);
  close(caseBand(0.02, [4.19, 4.9, 4.73], [6.6, 6.92]), 4.9 / 4.19 - 1);
  assert.equal(caseBand(0.1, [7]), 0.1, 'one visit has no spread');
});

test("calibrationShifts and machineFactor: the calibration kernels' pooled medians per ceiling, their median for the machine", () => {
  const measured = (key: string, medianMs: number, bound: 'memory' | 'compute' | 'overhead' | 'unknown', ceiling?: CeilingKind) => {
    const m = okFixture(key, [medianMs]);
    assert.ok(m.status === 'ok');
    const { ceiling: _calibrates, ...kernel } = m;
    return {
      ...kernel,
      timing: { ...m.timing, gpu: { ...m.timing.gpu, median: medianMs } },
      rates: { ...m.rates, bound },
      ...(ceiling && { ceiling }),
    };
  };
  const run = (copy: number, copyChunked: number, fma: number, kernel: number) =>
    new Map(
      [
        measured('calibration/kernel=copy', copy, 'memory', 'copy'),
        measured('calibration/kernel=copy-chunked', copyChunked, 'memory', 'copy'),
        measured('calibration/kernel=fma-f32', fma, 'compute', 'fma-f32'),
        measured('x/y=1', kernel, 'memory'),
      ].map((m) => [m.key, m]),
    );
  // The candidate's copy kernels took 1.2x and 1.5x as long (geometric mean: sqrt(1.8)), its FMA 0.8x.
  const shifts = calibrationShifts(run(10, 4, 20, 1), run(12, 6, 16, 1));
  close(shifts.get('copyGBs')!, Math.sqrt(1.8));
  close(shifts.get('fmaF32Gflops')!, 0.8);
  assert.equal(shifts.has('readGBs'), false, 'no read kernel calibrated: no shift');
  // One factor for the machine: the median over the ceilings, robust to one kind of kernel swinging by itself.
  close(machineFactor(shifts)!, Math.sqrt(0.8 * Math.sqrt(1.8)));
  close(
    machineFactor(
      new Map([
        ['copyGBs', 1.17],
        ['readGBs', 1.01],
        ['fmaF32Gflops', 0.88],
        ['fmaF16Gflops', 0.98],
        ['dispatchUs', 1],
      ]),
    )!,
    1,
  );
  assert.equal(machineFactor(new Map()), null, 'runs without calibration: nothing to divide out');
});

test('the default noise band is 2 % on a GPU and 10 % where the base ran on a software adapter', async () => {
  const { defaultNoisePct } = await import('../../src/report/compare.js');
  const { loadResults } = await import('../../src/report/data.js');
  const [gpu] = loadResults([new URL('../fixtures/results-device-a.json', import.meta.url).pathname]);
  assert.equal(defaultNoisePct(gpu!), 2);
  const software = {
    ...gpu!,
    results: {
      ...gpu!.results,
      environment: { ...gpu!.results.environment, adapter: { ...gpu!.results.environment.adapter, architecture: 'software' } },
    },
  };
  assert.equal(defaultNoisePct(software), 10);
  const fallback = {
    ...gpu!,
    results: {
      ...gpu!.results,
      environment: { ...gpu!.results.environment, adapter: { ...gpu!.results.environment.adapter, isFallbackAdapter: true } },
    },
  };
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
    machineDriftNote(shifts, 10, false),
    "the machine itself moved between these runs: its calibrated ceilings (time ratio, above 1 slower) copy bandwidth 2.00x, dispatch overhead 1.20x, past the ±10% band; verdicts of cases bound by them may be the machine's, not the build's",
  );
  assert.match(
    machineDriftNote(shifts, 10, true) ?? '',
    /; each case's ratio has the machine's shift divided out, but .* rerun both on a quiet machine/,
  );
  assert.equal(machineDriftNote(ceilingShifts(base, base, 0.02), 2, true), null);
});
