import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { DEFAULT_GPU_OPTIONS, openGpu, withErrorScopes } from '../../src/gpu/device.js';
import { PreparedCase } from '../../src/gpu/executor.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import { GpuTimer } from '../../src/gpu/timing.js';
import { calibrationFamily } from '../../src/kernels/calibration.js';
import { sampleCase } from '../../src/run/sampler.js';
import { buildCase, closeTestGpu, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

test('the device has the adapter limits and the timestamp-query feature the engine needs', async () => {
  const context = await testGpu();
  assert.ok(context.features.has('timestamp-query'), 'timestamp-query is required for GPU timing in CI');
  assert.ok(context.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20);
  assert.ok(context.toggles.disabled.includes('timestamp_quantization'));
  assert.ok(context.adapter.description.length > 0);
});

test('an unknown adapter name is a one-line user error that lists what exists', async () => {
  await assert.rejects(
    openGpu({ ...DEFAULT_GPU_OPTIONS, adapter: 'no-such-adapter-xyz' }),
    (e: Error) => e instanceof UserError && /available: .+/.test(e.message) && !e.message.includes('\n'),
  );
});

test('error scopes catch validation errors instead of letting them escape', async () => {
  const context = await testGpu();
  const { errors } = await withErrorScopes(context.device, async () => {
    context.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
  });
  assert.equal(errors.validation.length, 1);
  assert.equal(context.uncapturedErrors.length, 0);
});

async function preparedDispatchCase() {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  const prepared = await PreparedCase.prepare(context, allocator, await buildCase(calibrationFamily, { kernel: 'dispatch', mib: 1 }));
  return { context, allocator, prepared, timer: GpuTimer.create(context, allocator) };
}

test('batch sampling: N sized to the target, per-repeat GPU times, a stop reason, raw samples kept', async () => {
  const { allocator, prepared, timer } = await preparedDispatchCase();
  const rule = { minSamples: 5, maxSamples: 40, maxRelNoise: 0.5, minTimeMs: 0, timeoutMs: 120_000 };
  const result = await sampleCase(timer, prepared, { mode: 'batch', rule, targetSampleMs: 1, warmupSamples: 1 });
  assert.equal(result.timer, 'timestamp');
  // How N follows from the probes is test/unit/sampler.test.ts's: here, that the real timer's samples hold N repeats.
  assert.ok(Number.isInteger(result.repeats) && result.repeats >= 1);
  assert.ok(result.samplesMs.length >= 5 && result.samplesMs.length <= 40);
  assert.equal(result.wallSamplesMs.length, result.samplesMs.length);
  assert.ok(['converged', 'max-samples', 'timeout'].includes(result.stopReason));
  assert.ok(result.samplesMs.every((ms) => ms > 0));
  // A sample holds N repeats: its wall time cannot be shorter than N times a repeat's GPU time.
  const medianRepeat = [...result.samplesMs].sort((a, b) => a - b)[result.samplesMs.length >> 1]!;
  const medianWall = [...result.wallSamplesMs].sort((a, b) => a - b)[result.wallSamplesMs.length >> 1]!;
  assert.ok(medianWall >= medianRepeat * result.repeats * 0.9);
  timer.dispose();
  prepared.dispose();
  allocator.destroyAll();
});

test('cold sampling: one repeat per sample after the cache-flush pass', async () => {
  const { allocator, prepared, timer } = await preparedDispatchCase();
  const rule = { minSamples: 3, maxSamples: 3, maxRelNoise: 0.5, minTimeMs: 0, timeoutMs: 120_000 };
  const result = await sampleCase(timer, prepared, { mode: 'cold', rule, targetSampleMs: 1, warmupSamples: 0 });
  assert.equal(result.repeats, 1);
  assert.equal(result.samplesMs.length, 3);
  assert.equal(result.stopReason, 'max-samples');
  // Cold samples include the flush of a buffer larger than any cache, so the wall time dwarfs the kernel.
  assert.ok(result.wallSamplesMs[0]! > result.samplesMs[0]!);
  timer.dispose();
  prepared.dispose();
  allocator.destroyAll();
});
