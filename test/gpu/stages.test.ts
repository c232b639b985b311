import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import { GpuTimer } from '../../src/gpu/timing.js';
import { calibrationFamily } from '../../src/kernels/calibration.js';
import type { KernelFamily } from '../../src/kernels/family.js';
import type { KernelCase } from '../../src/kernels/spec.js';
import { NO_CEILINGS } from '../../src/measure/rates.js';
import { stageBreakdown } from '../../src/report/stages.js';
import { runCase } from '../../src/run/run-case.js';
import { buildCase, closeTestGpu, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

/**
 * Two FMA chains, one with 4x the iterations of the other, as the stages of one case, buffers renamed apart.
 * Compute-bound on purpose: copies made this test flaky on a VM whose memory bandwidth swings with its
 * neighbours (and the cache-warm stages timed apart could beat the end to end).
 */
async function twoStageCase(): Promise<KernelCase> {
  const parts = await Promise.all(
    ([['big', 256], ['small', 64]] as const).map(async ([phase, iterations]) => {
      const c = await buildCase(calibrationFamily, { kernel: 'fma-f32', mib: 1, iterations });
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
  const rule = { minSamples: 5, maxSamples: 30, maxRelNoise: 0.05, minTimeMs: 0, timeoutMs: 3000 };
  // The timing claims get five tries: the CPU that lavapipe runs on is a VM whose speed swings by up to 2x
  // within seconds, with single samples at half the usual time. A stage timed wrong (missing, doubled,
  // another stage's dispatches) fails every try.
  const attempts: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const allocator = new TrackedAllocator(context.device);
    const timer = GpuTimer.create(context, allocator);
    const m = await runCase({ context, allocator, timer }, family, { suite: 's', key: 's/x=1', params: { x: 1 } }, { mode: 'batch', rule, targetSampleMs: 5, warmupSamples: 1, seed: 1 }, NO_CEILINGS);
    timer.dispose();
    allocator.destroyAll();
    assert.equal(m.status, 'ok', JSON.stringify(m).slice(0, 300));
    if (m.status !== 'ok') return;
    assert.deepEqual(m.stages?.map((s) => [s.name, s.dispatches]), [['big', 1], ['small', 1]]);
    const [big, small] = m.stages!;
    assert.equal(big!.work.flops, 4 * small!.work.flops);
    assert.ok(small!.work.flops > 0);
    assert.ok(big!.samplesMs.length >= 5 && small!.samplesMs.length >= 5);
    // Sampled in rounds: one end-to-end sample and one of each stage per round.
    const paired = m.stagesEndToEnd;
    assert.ok(paired, 'end to end sampled in the same rounds as the stages');
    assert.equal(paired.samplesMs.length, big!.samplesMs.length);
    assert.equal(small!.samplesMs.length, big!.samplesMs.length);
    const gap = stageBreakdown(m, NO_CEILINGS)!;
    assert.equal(gap.paired, true);
    // 4x the FLOPs: the big chain takes several times longer than the small one; timed apart, the stages
    // add up to about the end-to-end time of the same rounds (medians: this VM has outliers at half time).
    if (big!.gpu.median > 2 * small!.gpu.median && Math.abs(gap.gapMs) < 0.1 * gap.endToEndMs) return;
    attempts.push(`big ${big!.gpu.median.toFixed(3)} ms, small ${small!.gpu.median.toFixed(3)} ms, end to end ${gap.endToEndMs.toFixed(3)} ms (medians, same rounds), gap ${gap.gapMs.toFixed(3)} ms`);
  }
  assert.fail(`stage times do not add up to the end-to-end time in 5 tries: ${attempts.join('; ')}`);
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
