import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arithmeticOf, ceilingValue, computeRates, NO_CEILINGS, withCeiling, type Ceilings } from '../../src/measure/rates.js';

const ceilings: Ceilings = { copyGBs: 100, readGBs: 120, fmaF32Gflops: 1000, fmaF16Gflops: 2000, dispatchUs: 5 };

test('rates follow from analytic work and the median time', () => {
  const rates = computeRates({ flops: 2e9, bytesRead: 1e9, bytesWritten: 1e9 }, 100, 'f32', ceilings);
  assert.equal(rates.gflops, 20);
  assert.equal(rates.gbps, 20);
  assert.equal(rates.intensity, 1);
  assert.equal(rates.memoryFraction, 0.2);
  assert.equal(rates.computeFraction, 0.02);
});

test('roofline verdict: below the ridge point is memory-bound, above it compute-bound', () => {
  // ridge = 1000 GFLOP/s / 100 GB/s = 10 FLOP/B
  assert.equal(computeRates({ flops: 9e6, bytesRead: 1e6, bytesWritten: 0 }, 1, 'f32', ceilings).bound, 'memory');
  assert.equal(computeRates({ flops: 11e6, bytesRead: 1e6, bytesWritten: 0 }, 1, 'f32', ceilings).bound, 'compute');
  // f16 arithmetic has twice the FLOP ceiling: the ridge moves to 20 FLOP/B.
  assert.equal(computeRates({ flops: 11e6, bytesRead: 1e6, bytesWritten: 0 }, 1, 'f16', ceilings).bound, 'memory');
});

test('the compute roof follows the arithmetic, not the storage dtype: only the f16 FMA calibration is f16', () => {
  assert.equal(arithmeticOf('fma-f16'), 'f16');
  for (const kind of [undefined, 'fma-f32', 'copy', 'read', 'dispatch'] as const) assert.equal(arithmeticOf(kind), 'f32');
  // An f16-storage kernel that accumulates in f32 is held against the f32 roof (1000 GFLOP/s here).
  const f16Storage = computeRates({ flops: 1e9, bytesRead: 1e6, bytesWritten: 0 }, 10, arithmeticOf(undefined), ceilings);
  assert.equal(f16Storage.computeFraction, 0.1);
});

test('a kernel shorter than twice the dispatch overhead is overhead-bound', () => {
  assert.equal(computeRates({ flops: 1, bytesRead: 1, bytesWritten: 0 }, 0.009, 'f32', ceilings).bound, 'overhead');
  assert.equal(computeRates({ flops: 1, bytesRead: 1, bytesWritten: 0 }, 0.009, 'f32', ceilings, 0.5).bound, 'memory');
});

test('without ceilings there is no fraction and no verdict', () => {
  const rates = computeRates({ flops: 1e9, bytesRead: 1e9, bytesWritten: 0 }, 1, 'f32', NO_CEILINGS);
  assert.equal(rates.memoryFraction, null);
  assert.equal(rates.computeFraction, null);
  assert.equal(rates.bound, 'unknown');
});

test('calibration figures fold into ceilings: best throughput, lowest overhead', () => {
  assert.equal(ceilingValue('copy', { flops: 0, bytesRead: 5e8, bytesWritten: 5e8 }, 100), 10);
  assert.equal(ceilingValue('fma-f32', { flops: 1e9, bytesRead: 0, bytesWritten: 0 }, 10), 100);
  assert.equal(ceilingValue('dispatch', { flops: 0, bytesRead: 0, bytesWritten: 0 }, 0.02), 20);
  let c = withCeiling(NO_CEILINGS, 'copy', 3);
  c = withCeiling(c, 'copy', 5);
  c = withCeiling(c, 'copy', 4);
  assert.equal(c.copyGBs, 5);
  c = withCeiling(withCeiling(c, 'dispatch', 30), 'dispatch', 20);
  assert.equal(c.dispatchUs, 20);
});
