import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import { PreparedCase } from '../../src/gpu/executor.js';
import { GpuTimer, MAX_STAGE_REPEATS } from '../../src/gpu/timing.js';
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
    (
      [
        ['big', 256],
        ['small', 64],
      ] as const
    ).map(async ([phase, iterations]) => {
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

/** Three stages, each adding 1 to every word of its own counter buffer (the cache-flush shader). */
function countingCase(): KernelCase {
  const words = 16;
  const names = ['first', 'middle', 'last'];
  return {
    buffers: names.map((name) => ({
      name,
      role: 'scratch' as const,
      usage: 'storage' as const,
      type: 'u32' as const,
      length: words,
      data: new Uint32Array(words),
    })),
    stages: names.map((name) => ({
      name,
      shader: 'cache_flush.wgsl',
      dtype: 'f32' as const,
      constants: { WORKGROUP_SIZE: words / 4 },
      bindings: [name],
      workgroups: [1] as [number],
      work: { flops: 0, bytesRead: words * 4, bytesWritten: words * 4 },
    })),
    checks: [],
  };
}

test('a stage is timed inside its pipeline: each repeat runs the stages before and after it too', async () => {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  const timer = GpuTimer.create(context, allocator);
  const prepared = await PreparedCase.prepare(context, allocator, countingCase());
  try {
    assert.equal(timer.stagePlacement, 'in-pipeline');
    const repeats = 5;
    const sample = await timer.sample(prepared, 'batch', repeats, { kind: 'stage', dispatches: [1] });
    assert.ok(
      sample.gpuMs !== null && sample.gpuMs > 0 && sample.gpuMs < sample.wallMs,
      `gpu ${sample.gpuMs} ms of ${sample.wallMs} ms wall`,
    );
    const counts = await Promise.all(['first', 'middle', 'last'].map(async (name) => [...(await prepared.read(name))]));
    // Every word of every stage's counter: one increment per repeat, the untimed neighbours included.
    for (const [i, name] of ['first', 'middle', 'last'].entries()) assert.deepEqual(counts[i], new Array(16).fill(repeats), name);
    // Past what one query set holds, the repeats are capped (two timestamps per repeat).
    await timer.sample(prepared, 'batch', MAX_STAGE_REPEATS + 3, { kind: 'stage', dispatches: [2] });
    assert.deepEqual([...(await prepared.read('last'))], new Array(16).fill(repeats + MAX_STAGE_REPEATS));
    // The whole case: one pass, every stage once per repeat.
    await timer.sample(prepared, 'batch', 2);
    assert.deepEqual([...(await prepared.read('first'))], new Array(16).fill(repeats + MAX_STAGE_REPEATS + 2));
  } finally {
    prepared.dispose();
    timer.dispose();
    allocator.destroyAll();
  }
});

test('a multi-stage case gets each stage timed in its pipeline beside the end-to-end time', async () => {
  const kernelCase = await twoStageCase();
  const family: KernelFamily = { name: 'two-stage', requiredAxes: [], build: () => ({ kind: 'case', kernelCase }) };
  const context = await testGpu();
  const rule = { minSamples: 5, maxSamples: 30, maxRelNoise: 0.05, minTimeMs: 0, timeoutMs: 120_000 };
  // What is asserted is the structure of the measurement, never how long anything took: that the stages add up
  // to the end to end is the tool's own output (report's stage-gap check), not a test that needs a quiet machine.
  const allocator = new TrackedAllocator(context.device);
  const timer = GpuTimer.create(context, allocator);
  const m = await runCase(
    { context, allocator, timer },
    family,
    { suite: 's', key: 's/x=1', params: { x: 1 } },
    { mode: 'batch', rule, targetSampleMs: 5, warmupSamples: 1, seed: 1 },
    NO_CEILINGS,
  );
  timer.dispose();
  allocator.destroyAll();
  assert.equal(m.status, 'ok', JSON.stringify(m).slice(0, 300));
  if (m.status !== 'ok') return;
  assert.deepEqual(
    m.stages?.map((s) => [s.name, s.dispatches]),
    [
      ['big', 1],
      ['small', 1],
    ],
  );
  assert.equal(m.stagePlacement, 'in-pipeline');
  const [big, small] = m.stages!;
  assert.equal(big!.work.flops, 4 * small!.work.flops);
  assert.ok(small!.work.flops > 0);
  assert.ok(big!.samplesMs.length >= 5 && small!.samplesMs.length >= 5);
  assert.ok([...big!.samplesMs, ...small!.samplesMs].every((ms) => ms > 0 && Number.isFinite(ms)));
  // Sampled in rounds: one end-to-end sample, one of each stage and one of the pass probe per round.
  const paired = m.stagesEndToEnd;
  assert.ok(paired, 'end to end sampled in the same rounds as the stages');
  assert.equal(paired.samplesMs.length, big!.samplesMs.length);
  assert.equal(small!.samplesMs.length, big!.samplesMs.length);
  assert.equal(m.stagePassProbe?.samplesMs.length, big!.samplesMs.length);
  const gap = stageBreakdown(m, NO_CEILINGS)!;
  assert.equal(gap.paired, true);
  assert.equal(gap.rows.length, 2);
  assert.ok(Number.isFinite(gap.gapMs) && gap.endToEndMs > 0);
});

test('single-stage cases carry no stage timings', async () => {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  const timer = GpuTimer.create(context, allocator);
  const rule = { minSamples: 3, maxSamples: 5, maxRelNoise: 0.5, minTimeMs: 0, timeoutMs: 120_000 };
  const m = await runCase(
    { context, allocator, timer },
    calibrationFamily,
    { suite: 'calibration', key: 'c/k', params: { kernel: 'copy', mib: 1, iterations: 1 } },
    { mode: 'batch', rule, targetSampleMs: 1, warmupSamples: 0, seed: 1 },
    NO_CEILINGS,
  );
  timer.dispose();
  allocator.destroyAll();
  assert.equal(m.status, 'ok');
  assert.equal(m.status === 'ok' ? m.stages : 'not ok', undefined);
});
