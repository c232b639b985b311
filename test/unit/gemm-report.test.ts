import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gemmPairs, gemmRoofRows } from '../../src/report/gemm.js';
import { markdownReport } from '../../src/report/markdown.js';
import { renderResults } from '../../src/report/table.js';
import type { OkMeasurement } from '../../src/results/schema.js';
import { okFixture, resultFixture } from '../helpers/fixtures.js';

const CEILINGS = { copyGBs: 8, readGBs: 5, fmaF32Gflops: 40, fmaF16Gflops: 12, dispatchUs: 20 };

function gemm(params: Record<string, string | number>, medianMs: number, visitMediansMs?: number[], gflops = 10): OkMeasurement {
  const base = okFixture(`gemm/${JSON.stringify(params)}`, [medianMs, medianMs, medianMs]) as OkMeasurement;
  return {
    ...base,
    suite: 'gemm',
    family: 'gemm',
    params,
    facts: { plan: 'subgroup wg=64 tm=1 tn4=1' },
    work: { flops: 1e6, bytesRead: 4e6, bytesWritten: 1e3 },
    timing: { ...base.timing, ...(visitMediansMs && { visitMediansMs }) },
    rates: { ...base.rates, gflops, bound: 'memory' },
  };
}

const shape = { op: 'absorb-q', model: 'deepseek-v2-lite', rows: 1, dtype: 'f32' };

test('roofs: GFLOP/s against the f32 FMA ceiling, read bytes against the read ceiling (not copy)', () => {
  const [row] = gemmRoofRows([gemm({ ...shape, kernel: 'auto' }, 1)], CEILINGS);
  assert.ok(row);
  assert.equal(row.readGBs, 4);
  assert.equal(row.readFraction, 0.8);
  assert.equal(row.fmaFraction, 0.25);
  assert.equal(row.plan, 'subgroup wg=64 tm=1 tn4=1');
  assert.equal(gemmRoofRows([gemm(shape, 1)], { ...CEILINGS, readGBs: null })[0]?.readFraction, null);
});

test('A/B: cases equal but for the kernel, against the auto one, with the per-visit ratios', () => {
  const cases = [
    gemm({ ...shape, kernel: 'mla-gemm' }, 3, [3, 2, 4]),
    gemm({ ...shape, kernel: 'auto' }, 1, [1, 1, 2]),
    gemm({ ...shape, rows: 16, kernel: 'auto' }, 1),
  ];
  const pairs = gemmPairs(cases);
  assert.equal(pairs.length, 1);
  assert.equal(pairs[0]?.base.kernel, 'auto');
  assert.equal(pairs[0]?.other.kernel, 'mla-gemm');
  assert.equal(pairs[0]?.ratio, 3);
  assert.deepEqual(pairs[0]?.visitRatios, [3, 2, 2]);
  const results = { ...resultFixture(cases), ceilings: CEILINGS };
  const text = renderResults(results);
  assert.match(text, /GEMM family against its roofs/);
  assert.match(text, /GEMM kernels A\/B/);
  assert.match(text, /2\.00x \(2\.00-3\.00\)/);
  assert.match(markdownReport([{ device: 'fixture', files: ['r.json'], runs: [], ceilings: CEILINGS, cases }]), /GEMM kernels A\/B/);
});

test('no gemm cases, no gemm sections', () => {
  assert.doesNotMatch(renderResults(resultFixture()), /GEMM/);
});
