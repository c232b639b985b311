import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { CALIBRATION_KERNELS, calibrationFamily } from '../../src/kernels/calibration.js';
import { CheckSchema } from '../../src/results/schema.js';
import { buildCase, closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

for (const kernel of CALIBRATION_KERNELS) {
  test(`calibration ${kernel}: GPU output equals the float64 reference, no WebGPU errors`, async () => {
    const kernelCase = await buildCase(calibrationFamily, { kernel, mib: 1, iterations: 48 });
    const outcome = await runChecked(kernelCase);
    for (const check of outcome.checks) {
      assert.ok(
        check.passed,
        `${kernel}/${check.buffer}: ${check.mismatches} mismatches, worst ${check.worstActual} vs ${check.worstExpected} at ${check.worstIndex}`,
      );
      assert.ok(check.checked > 0);
    }
  });
}

test('calibration memory is accounted by role and matches the declared buffers', async () => {
  const kernelCase = await buildCase(calibrationFamily, { kernel: 'copy', mib: 1 });
  const outcome = await runChecked(kernelCase);
  // src and dst are 1 MiB each plus a 16-byte canary; params is one 16-byte uniform; staging is scratch.
  assert.equal(outcome.memory.maxByRole.activations, 2 * (2 ** 20 + 16));
});

test('a copy told to read past its data copies the NaN canaries and fails numerics', async () => {
  const kernelCase = await buildCase(calibrationFamily, { kernel: 'copy', mib: 1 });
  const params = kernelCase.buffers.find((b) => b.name === 'params');
  const src = kernelCase.buffers.find((b) => b.name === 'src');
  assert.ok(params?.data && src);
  // The kernel still copies `count` elements, but the last 4 of the source are now canaries (NaN).
  src.length -= 4;
  src.canary = 8;
  if (src.data) src.data = src.data.subarray(0, src.length);
  const outcome = await runChecked(kernelCase);
  assert.equal(outcome.checks[0]?.passed, false);
  assert.equal(outcome.checks[0]?.worstActual, 'NaN');
});

test('fma-f16 is skipped with a reason on an adapter without shader-f16', async () => {
  const context = await testGpu();
  const built = calibrationFamily.build({ kernel: 'fma-f16', mib: 1 }, { limits: context.limits, features: new Set(), seed: 1 });
  assert.deepEqual(built, { kind: 'skip', reason: 'adapter has no shader-f16' });
});

test('a NaN in an output fails numerics and the failure survives the results JSON (no Infinity turned null)', async () => {
  const real = await buildCase(calibrationFamily, { kernel: 'copy', mib: 1, iterations: 1 });
  // The check expects NaN in one element: NaN never passes, so the errors are Infinity (kept as text).
  const poisoned = {
    ...real,
    checks: real.checks.map((c) => ({
      ...c,
      expected: () => {
        const e = Float64Array.from(c.expected());
        e[0] = NaN;
        return e;
      },
    })),
  };
  const { checks } = await runChecked(poisoned);
  const [check] = checks.map((c) => CheckSchema.parse(JSON.parse(JSON.stringify(c))));
  assert.ok(check);
  assert.equal(check.passed, false);
  assert.equal(check.maxAbsError, 'Infinity');
  assert.equal(check.normRelError, 'Infinity');
  assert.equal(check.worstExpected, 'NaN');
});
