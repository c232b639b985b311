import { adapterBuildFacts } from '../../src/gpu/device.js';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { PreparedCase } from '../../src/gpu/executor.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import { GpuTimer } from '../../src/gpu/timing.js';
import { seedKey, type BuildContext } from '../../src/kernels/family.js';
import { moeCase, moeFamily, type MoeOptions } from '../../src/kernels/moe.js';
import { moeInputs } from '../../src/kernels/moe-inputs.js';
import type { Dtype, KernelCase } from '../../src/kernels/spec.js';
import { sampleCase } from '../../src/run/sampler.js';
import type { MoeShape } from '../../src/reference/moe.js';
import { prepareAndCheck } from '../../src/run/run-case.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(seed = 11): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed };
}

// Small dims keep lavapipe fast; one (hidden, inter) pair keeps the pipelines few.
const DIMS = { hidden: 32, inter: 16 };
const V2: MoeShape = {
  tokens: 37,
  ...DIMS,
  experts: 32,
  shared: 2,
  topK: 6,
  nGroup: 8,
  topkGroup: 3,
  scoreFunction: 'softmax',
  renormalize: false,
  routeScale: 16,
};
const V2_LITE: MoeShape = { ...V2, experts: 16, nGroup: 1, topkGroup: 1, routeScale: 1 };
const V3: MoeShape = {
  ...V2,
  experts: 32,
  shared: 1,
  topK: 8,
  nGroup: 8,
  topkGroup: 4,
  scoreFunction: 'sigmoid',
  renormalize: true,
  routeScale: 2.5,
};

async function build(shape: MoeShape, dtype: Dtype, options: MoeOptions = {}): Promise<KernelCase> {
  const built = moeCase(shape, dtype, await context(), options);
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

async function assertPasses(kernelCase: KernelCase): Promise<void> {
  const { checks } = await runChecked(kernelCase);
  assert.equal(checks.length, 8);
  for (const check of checks) {
    assert.ok(
      check.passed,
      `${check.buffer}: ${check.mismatches} mismatches, worst [${check.worstIndex}] ${check.worstActual} vs ${check.worstExpected}`,
    );
  }
}

for (const dtype of ['f32', 'f16'] as const) {
  for (const [name, shape] of [
    ['V2 (softmax, 8 groups, top-3 groups)', V2],
    ['V2-Lite (no groups)', V2_LITE],
    ['V3 (sigmoid + bias, renormalised)', V3],
  ] as const) {
    for (const dispatch of ['gpu', 'host-loop'] as const) {
      test(`${name}, ${dtype}, ${dispatch}: ids, layout exact; weights and output within tolerance`, async () => {
        await assertPasses(await build(shape, dtype, { dispatch, balance: dispatch === 'gpu' ? 'uniform' : 'skewed' }));
      });
    }
  }
}

/**
 * Odd sizes for the GEMM family's kernels (hidden 36: f16 B rows of down not whole 16-byte units, so the strategy
 * falls back to the tiled kernel there; inter 20: the gate and up halves padded apart), skewed so that experts have
 * no rows; after the step, every real row of act and yp is finite and every padding row still holds the NaN it
 * started with (never written), and the output passes: nothing from a padding row reached it.
 */
async function assertFfnRows(kernelCase: KernelCase, shape: MoeShape): Promise<void> {
  const gpu = await testGpu();
  const allocator = new TrackedAllocator(gpu.device);
  try {
    const checked = await prepareAndCheck(gpu, allocator, kernelCase);
    if (checked.thrown) throw checked.thrown;
    for (const check of checked.checks) assert.ok(check.passed, `${check.buffer}: ${check.mismatches} mismatches`);
    const ids = checked.outputs!.get('sorted_ids')!;
    const pairs = shape.tokens * shape.topK;
    for (const [name, width] of [
      ['act', shape.inter],
      ['yp', shape.hidden],
    ] as const) {
      const rows = await checked.prepared!.read(name);
      for (let r = 0; r < ids.length; r++) {
        const row = Array.from(rows.subarray(r * width, (r + 1) * width));
        if (ids[r]! < pairs) assert.ok(row.every(Number.isFinite), `${name} row ${r} (pair ${ids[r]}) not finite`);
        else assert.ok(row.every(Number.isNaN), `${name} row ${r} is padding but was written`);
      }
    }
    checked.prepared!.dispose();
  } finally {
    allocator.destroyAll();
  }
}

const ODD: MoeShape = { ...V3, hidden: 36, inter: 20, tokens: 29 };

for (const dtype of ['f32', 'f16'] as const) {
  for (const tiling of ['rows', 'workgroup'] as const) {
    test(`expert FFN on the GEMM family (${dtype}, tiling ${tiling}): odd sizes, empty experts, padding rows untouched`, async () => {
      for (const dispatch of ['gpu', 'host-loop'] as const) {
        const kernelCase = await build(ODD, dtype, { dispatch, tiling, balance: 'skewed' });
        assert.ok((kernelCase.facts?.['expertsWithTokens'] as number) < ODD.experts, 'some expert has no rows');
        const ffn = [...kernelCase.stages, ...(kernelCase.hostTail?.templates ?? [])].filter((s) => s.phase === 'expert-ffn');
        assert.ok(ffn.length > 0 && ffn.every((s) => /^gemm_(subgroup|tiled)\.wgsl$/.test(s.shader)), ffn.map((s) => s.shader).join());
        assert.equal(ffn.filter((s) => s.entryPoint === 'main_grouped').length, dispatch === 'gpu' ? 2 : 0);
        await assertFfnRows(kernelCase, ODD);
      }
    });
  }
}

test("the default block on GPUs is vLLM fused_moe's: 16 rows with no more tokens than experts, else 64; both pass", async () => {
  for (const [tokens, block] of [
    [ODD.experts, 16],
    [ODD.experts + 5, 64],
  ] as const) {
    const kernelCase = await build({ ...ODD, tokens }, 'f32', { dispatch: 'gpu', tiling: 'workgroup', balance: 'skewed' });
    assert.equal(kernelCase.facts?.['block'], block, `${tokens} tokens`);
    await assertFfnRows(kernelCase, { ...ODD, tokens });
  }
});

test('expert FFN work: the real rows and the experts with rows, padding is no work; plans as facts and tunable slots', async () => {
  const { hidden, inter, topK } = ODD;
  for (const dispatch of ['gpu', 'host-loop'] as const) {
    const kernelCase = await build(ODD, 'f32', { dispatch, tiling: 'rows', balance: 'skewed' });
    const routed = [...kernelCase.stages, ...(kernelCase.hostTail?.templates ?? [])].filter(
      (s) => s.phase === 'expert-ffn' && !s.name.startsWith('shared'),
    );
    const pairs = ODD.tokens * topK;
    const used = kernelCase.facts?.['expertsWithTokens'] as number;
    const sum = (key: 'flops' | 'bytesRead' | 'bytesWritten') => routed.reduce((total, s) => total + s.work[key], 0);
    assert.equal(sum('flops'), 4 * pairs * hidden * inter + 4 * pairs * inter + 2 * pairs * inter * hidden);
    assert.equal(sum('bytesRead'), (used * 3 * hidden * inter + pairs * hidden + pairs * inter) * 4);
    assert.equal(sum('bytesWritten'), (pairs * inter + pairs * hidden) * 4);
    assert.match(String(kernelCase.facts?.['gateUpPlan']), /^subgroup /);
    assert.match(String(kernelCase.facts?.['sharedDownPlan']), /^subgroup /);
    assert.deepEqual(
      kernelCase.tunables?.map((t) => t.name),
      ['moe', 'gate-up', 'down', 'shared-gate-up', 'shared-down'],
    );
  }
});

test('degenerate: 0 tokens and 1 token', async () => {
  for (const dispatch of ['gpu', 'host-loop'] as const) {
    await assertPasses(await build({ ...V3, tokens: 0 }, 'f32', { dispatch }));
    await assertPasses(await build({ ...V3, tokens: 1 }, 'f32', { dispatch }));
  }
});

test('degenerate: top-k equal to the expert count', async () => {
  const kernelCase = await build({ ...V2_LITE, experts: 8, topK: 8 }, 'f32');
  await assertPasses(kernelCase);
  await assertPasses(await build({ ...V2_LITE, experts: 8, topK: 8 }, 'f32', { dispatch: 'host-loop' }));
});

test('degenerate: every token routed to one expert, the others empty', async () => {
  for (const dispatch of ['gpu', 'host-loop'] as const) {
    const kernelCase = await build({ ...V2_LITE, topK: 1 }, 'f32', { dispatch, balance: 'single' });
    assert.equal(kernelCase.facts?.['expertsWithTokens'], 1);
    assert.equal(kernelCase.facts?.['maxTokensPerExpert'], V2_LITE.tokens);
    await assertPasses(kernelCase);
  }
});

test('ties on purpose: all-zero activations tie every expert; both sides pick the lowest indices', async () => {
  for (const shape of [V2, V3]) {
    const inputs = moeInputs(shape, 'f32', 5, 'uniform');
    inputs.x.fill(0);
    inputs.bias.fill(0);
    const kernelCase = await build(shape, 'f32', { inputs });
    const { outputs, checks } = await runChecked(kernelCase);
    assert.ok(
      checks.every((c) => c.passed),
      JSON.stringify(checks.filter((c) => !c.passed)),
    );
    const ids = outputs.get('topk_ids')!;
    // Group scores tie too: the lowest groups, then the lowest experts in them.
    assert.deepEqual(
      [...ids.subarray(0, shape.topK)],
      Array.from({ length: shape.topK }, (_, i) => i),
    );
  }
});

test('checks can fail: routing and expert weights changed behind the reference', async () => {
  const kernelCase = await build(V3, 'f32');
  const gate = kernelCase.buffers.find((b) => b.name === 'gate')!;
  gate.data = (gate.data as Float32Array).map((v, i) => (i % 3 === 0 ? -v : v));
  const wDown = kernelCase.buffers.find((b) => b.name === 'w_down')!;
  wDown.data = (wDown.data as Float32Array).map((v) => v * 1.01);
  const { checks } = await runChecked(kernelCase);
  const failed = new Set(checks.filter((c) => !c.passed).map((c) => c.buffer));
  assert.ok(failed.has('topk_ids') && failed.has('sorted_ids') && failed.has('out'), [...failed].join(', '));

  const scaled = await build(V2_LITE, 'f32');
  const down = scaled.buffers.find((b) => b.name === 'w_down')!;
  down.data = (down.data as Float32Array).map((v) => v * 1.001);
  const second = await runChecked(scaled);
  assert.deepEqual(
    second.checks.filter((c) => !c.passed).map((c) => c.buffer),
    ['out'],
  );
});

test('host-loop step: sampled one step per submission by wall time, the readback round trip included', async () => {
  const gpu = await testGpu();
  const allocator = new TrackedAllocator(gpu.device);
  const timer = GpuTimer.create(gpu, allocator);
  try {
    for (const dispatch of ['gpu', 'host-loop'] as const) {
      const kernelCase = await build(V3, 'f32', { dispatch });
      assert.equal(kernelCase.stepTiming, 'wall');
      assert.equal(kernelCase.hostTail !== undefined, dispatch === 'host-loop');
      const prepared = await PreparedCase.prepare(gpu, allocator, kernelCase);
      const sampling = await sampleCase(timer, prepared, {
        mode: 'batch',
        rule: { minSamples: 3, maxSamples: 3, maxRelNoise: 1, minTimeMs: 0, timeoutMs: 10_000 },
        targetSampleMs: 2,
        warmupSamples: 1,
      });
      assert.equal(sampling.repeats, 1);
      assert.equal(sampling.timer, 'wall');
      assert.deepEqual(sampling.samplesMs, sampling.wallSamplesMs);
      if (dispatch === 'host-loop' && timer.hasTimestamps) {
        const step = await timer.sample(prepared, 'batch', 1);
        assert.ok(step.gpuMs !== null && step.gpuMs > 0 && step.gpuMs <= step.wallMs);
      }
      prepared.dispose();
    }
  } finally {
    timer.dispose();
    allocator.destroyAll();
  }
});

test('family: preset axes, overrides and recorded skips', async () => {
  const ctx = await context();
  const huge = moeFamily.build({ preset: 'v3', tokens: 16, dispatch: 'gpu', dtype: 'f16' }, ctx);
  assert.equal(huge.kind, 'skip');
  assert.match(huge.kind === 'skip' ? huge.reason : '', /w_gate_up needs \d+ MiB, above the device's maxStorageBufferBindingSize/);
  const groups = moeFamily.build({ preset: 'v3', tokens: 16, experts: 8, hidden: 32, inter: 16, dispatch: 'gpu', dtype: 'f32' }, ctx);
  assert.match(groups.kind === 'skip' ? groups.reason : '', /top_k=8 exceeds the 4 experts in 4 of 8 groups/);
  const built = moeFamily.build(
    { preset: 'v2-lite', tokens: 16, experts: 64, hidden: 32, inter: 16, balance: 'skewed', dispatch: 'gpu', dtype: 'f32' },
    ctx,
  );
  assert.equal(built.kind, 'case');
  const facts = built.kind === 'case' ? built.kernelCase.facts! : {};
  assert.equal(facts['preset'], 'v2-lite');
  assert.equal(facts['permuteBytes'], 16 * 6 * 32 * 4);
  assert.ok((facts['loadImbalance'] as number) > 2, `skewed routing: max/mean ${facts['loadImbalance']}`);
  const phases = built.kind === 'case' ? [...new Set(built.kernelCase.stages.map((s) => s.phase))] : [];
  assert.deepEqual(phases, ['route', 'align', 'permute', 'expert-ffn', 'combine']);
});

test('gpu and host-loop variants of a case share their inputs (dispatch is left out of the seed)', () => {
  const params = { preset: 'v3', tokens: 16, dispatch: 'gpu', dtype: 'f32' };
  const gpuKey = seedKey(moeFamily, 'moe-dispatch', 'moe-dispatch/preset=v3,tokens=16,dispatch=gpu,dtype=f32', params);
  const loopKey = seedKey(moeFamily, 'moe-dispatch', 'moe-dispatch/preset=v3,tokens=16,dispatch=host-loop,dtype=f32', {
    ...params,
    dispatch: 'host-loop',
  });
  assert.equal(gpuKey, loopKey);
  assert.notEqual(seedKey(moeFamily, 'moe-dispatch', 'k', { ...params, dtype: 'f16' }), gpuKey);
  // Families without invariant axes keep the case key itself.
  assert.equal(seedKey({}, 's', 's/a=1', { a: 1 }), 's/a=1');
});

test('past the reference budget the output is checked on evenly spaced tokens; routing and layout stay exact in full', async () => {
  const kernelCase = await build({ ...V3, tokens: 150 }, 'f32', { referenceBudgetFlops: 1 });
  const { checks } = await runChecked(kernelCase);
  const out = checks.find((c) => c.buffer === 'out');
  assert.deepEqual(out?.sampledRows, { checked: 64, total: 150 });
  assert.equal(out?.checked, 64 * DIMS.hidden);
  for (const check of checks) assert.ok(check.passed, `${check.buffer}: ${JSON.stringify(check)}`);
  assert.ok(checks.filter((c) => c.buffer !== 'out').every((c) => c.sampledRows === undefined));
});
