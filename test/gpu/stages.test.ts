import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import { GpuTimer } from '../../src/gpu/timing.js';
import { calibrationFamily } from '../../src/kernels/calibration.js';
import type { KernelFamily } from '../../src/kernels/family.js';
import type { KernelCase } from '../../src/kernels/spec.js';
import { NO_CEILINGS } from '../../src/measure/rates.js';
import { runCase } from '../../src/run/run-case.js';
import { buildCase, closeTestGpu, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

/**
 * Two copies of different sizes as the stages of one case, buffers renamed apart. Small enough (10 MiB moved
 * in all) that the whole case stays in the last-level cache, like each stage alone: with a working set past
 * the cache, end to end would rightly be slower than the cache-warm stages timed apart.
 */
async function twoStageCase(): Promise<KernelCase> {
  const parts = await Promise.all(
    ([['big', 4], ['small', 1]] as const).map(async ([phase, mib]) => {
      const c = await buildCase(calibrationFamily, { kernel: 'copy-chunked', mib, iterations: 1 });
      const rename = (name: string): string => `${phase}-${name}`;
      return {
        buffers: c.buffers.map((b) => ({ ...b, name: rename(b.name) })),
        stages: c.stages.map((s) => ({ ...s, phase, bindings: s.bindings.map(rename) })),
        checks: c.checks.map((k) => ({ ...k, buffer: rename(k.buffer) })),
      };
    }),
  );
  return { buffers: parts.flatMap((p) => p.buffers), stages: parts.flatMap((p) => p.stages), checks: parts.flatMap((p) => p.checks) };
}

test('a multi-stage case gets each stage timed on its own beside the end-to-end time', async () => {
  const kernelCase = await twoStageCase();
  const family: KernelFamily = { name: 'two-stage', requiredAxes: [], build: () => ({ kind: 'case', kernelCase }) };
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  const timer = GpuTimer.create(context, allocator);
  const rule = { minSamples: 5, maxSamples: 30, maxRelNoise: 0.05, minTimeMs: 0, timeoutMs: 3000 };
  const m = await runCase({ context, allocator, timer }, family, { suite: 's', key: 's/x=1', params: { x: 1 } }, { mode: 'batch', rule, targetSampleMs: 5, warmupSamples: 1, seed: 1 }, NO_CEILINGS);
  timer.dispose();
  allocator.destroyAll();
  assert.equal(m.status, 'ok', JSON.stringify(m).slice(0, 300));
  if (m.status !== 'ok') return;
  assert.deepEqual(m.stages?.map((s) => [s.name, s.dispatches]), [['big', 1], ['small', 1]]);
  const [big, small] = m.stages!;
  assert.equal(big!.work.bytesRead, 4 * 2 ** 20);
  assert.equal(small!.work.bytesRead, 2 ** 20);
  assert.ok(big!.samplesMs.length >= 5 && small!.samplesMs.length >= 5);
  // Fastest samples: the least disturbed by whatever else shares the CPU that lavapipe runs on.
  // 4x the bytes: the big copy must take several times longer than the small one.
  assert.ok(big!.gpu.min > 2 * small!.gpu.min, `big ${big!.gpu.min} ms vs small ${small!.gpu.min} ms`);
  // Timed apart, the stages add up to about the end-to-end time.
  const sum = big!.gpu.min + small!.gpu.min;
  assert.ok(Math.abs(m.timing.gpu.min - sum) < 0.35 * m.timing.gpu.min, `end to end ${m.timing.gpu.min} ms vs sum ${sum} ms`);
});

test('single-stage cases carry no stage timings', async () => {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  const timer = GpuTimer.create(context, allocator);
  const rule = { minSamples: 3, maxSamples: 5, maxRelNoise: 0.5, minTimeMs: 0, timeoutMs: 2000 };
  const m = await runCase({ context, allocator, timer }, calibrationFamily, { suite: 'calibration', key: 'c/k', params: { kernel: 'copy', mib: 1, iterations: 1 } }, { mode: 'batch', rule, targetSampleMs: 1, warmupSamples: 0, seed: 1 }, NO_CEILINGS);
  timer.dispose();
  allocator.destroyAll();
  assert.equal(m.status, 'ok');
  assert.equal(m.status === 'ok' ? m.stages : 'not ok', undefined);
});
