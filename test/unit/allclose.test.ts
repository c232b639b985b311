import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allclose, reductionTolerance } from '../../src/reference/allclose.js';

test('within atol + rtol*|e| passes, just past it fails, and the worst element is named', () => {
  const tol = { atol: 0.01, rtol: 0.1 };
  assert.equal(allclose([1.1, 0], [1, 0], tol).passed, true);
  const report = allclose([1, 2, 3.5], [1, 2, 3], tol);
  assert.equal(report.passed, false);
  assert.equal(report.mismatches, 1);
  assert.equal(report.worstIndex, 2);
  assert.equal(report.worstActual, 3.5);
  assert.equal(report.worstExpected, 3);
  assert.ok(Math.abs(report.maxAbsError - 0.5) < 1e-12);
  assert.ok(Math.abs(report.maxRelError - 0.5 / 3) < 1e-12);
});

test('NaN never passes, even against NaN; Inf must match Inf of the same sign', () => {
  const exact = { atol: 0, rtol: 0 };
  const nan = allclose([NaN], [1], { atol: 1e9, rtol: 1e9 });
  assert.equal(nan.passed, false);
  assert.equal(nan.worstActual, 'NaN');
  assert.equal(allclose([NaN], [NaN], exact).passed, false);
  assert.equal(allclose([Infinity], [Infinity], exact).passed, true);
  assert.equal(allclose([-Infinity], [Infinity], exact).passed, false);
  assert.equal(allclose([1e30], [Infinity], { atol: 1e9, rtol: 1e9 }).passed, false);
});

test('length mismatch is a programming error', () => {
  assert.throws(() => allclose([1], [1, 2], { atol: 0, rtol: 0 }));
});

test('reduction tolerance grows with length and is looser for f16', () => {
  const short = reductionTolerance('f32', 16);
  const long = reductionTolerance('f32', 4096);
  assert.ok(long.atol > short.atol && long.rtol > short.rtol);
  assert.ok(reductionTolerance('f16', 16).rtol > short.rtol);
  assert.ok(short.rtol < 1e-5, 'f32 tolerance must stay tight');
});

test('norm-wise relative error: max |a - e| / max |e|, unmoved by a near-zero expected value', () => {
  const loose = { atol: 1e-3, rtol: 1e-3 };
  const report = allclose([4, -2, 1e-6 + 1e-6], [4, -2, 1e-6], loose);
  assert.ok(report.passed);
  assert.ok(Math.abs(report.maxRelError - 1) < 1e-9); // element-wise: the near-zero output doubled
  assert.ok(Math.abs(report.normRelError - 1e-6 / 4) < 1e-15);
  assert.equal(allclose([0, 0], [0, 0], loose).normRelError, 0);
  assert.equal(allclose([1e-9], [0], loose).normRelError, Infinity);
  assert.equal(allclose([NaN], [1], loose).normRelError, Infinity);
});
