import { adapterBuildFacts } from '../../src/gpu/device.js';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { AttentionTiling } from '../../src/kernels/attention.js';
import type { BuildContext } from '../../src/kernels/family.js';
import { MLA_FORMS, type MlaForm, type MlaSpec } from '../../src/kernels/mla-spec.js';
import { mlaCase, mlaFamily } from '../../src/kernels/mla.js';
import type { Dtype, KernelCase } from '../../src/kernels/spec.js';
import { allclose } from '../../src/reference/allclose.js';
import type { MlaDims } from '../../src/reference/mla.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(seed = 11): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed };
}

// Small dims with the presets' structure (d_c > d_nope, d_r = d_nope / 2, d_v != d_nope) keep the float64
// reference and the pipelines cheap; 3 heads, 37 tokens and q_len 3: no multiple of any tile.
const DIMS: MlaDims = { heads: 3, dNope: 16, dRope: 8, dV: 12, dLatent: 32, dQLatent: 0, dModel: 24 };
const DIMS_Q: MlaDims = { ...DIMS, dQLatent: 20 };

function spec(form: MlaForm, over: Partial<MlaSpec> = {}): MlaSpec {
  return { dims: DIMS, form, batch: 2, context: 37, qLen: 1, layer: 'attention', oProj: false, tiling: 'rows', ...over };
}

async function build(s: MlaSpec, dtype: Dtype, seed = 11): Promise<KernelCase> {
  const built = mlaCase(s, dtype, await context(seed));
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

async function outputs(s: MlaSpec, dtype: Dtype): Promise<Float32Array> {
  const { outputs: out, checks } = await runChecked(await build(s, dtype));
  for (const check of checks) assert.ok(check.passed, `${s.form} ${dtype}: ${JSON.stringify(check)}`);
  return out.get('out') as Float32Array;
}

// f16 and f32 on the CPU adapters' tiling; the GPUs' tiling in f32 (its kernels' f16 paths are the attention tests').
for (const [dtype, tiling] of [
  ['f32', 'rows'],
  ['f16', 'rows'],
  ['f32', 'workgroup'],
] as [Dtype, AttentionTiling][]) {
  {
    test(`every form passes numerics (${dtype}, ${tiling} tiling): decode, q_len 3 causal`, async () => {
      for (const form of MLA_FORMS) {
        for (const qLen of tiling === 'rows' ? [1, 3] : [3]) {
          const { checks } = await runChecked(await build(spec(form, { tiling, qLen }), dtype));
          for (const check of checks) assert.ok(check.passed, `${form} q_len ${qLen}: ${JSON.stringify(check)}`);
        }
      }
    });
  }
}

test('per-layer path (query compression, norms, RoPE into the cache, o-proj) passes numerics: every form in f32, absorbed in f16', async () => {
  for (const [dtype, forms] of [
    ['f32', MLA_FORMS],
    ['f16', ['absorbed']],
  ] as [Dtype, MlaForm[]][]) {
    for (const form of forms) {
      const kernelCase = await build(spec(form, { dims: DIMS_Q, layer: 'full', oProj: true, qLen: 2 }), dtype);
      assert.deepEqual([...new Set(kernelCase.stages.map((s) => s.phase))].slice(0, 2), ['q-proj', 'kv-append']);
      assert.equal(kernelCase.stages.at(-1)?.phase, 'o-proj');
      const { checks } = await runChecked(kernelCase);
      assert.equal(checks.length, 2);
      for (const check of checks) assert.ok(check.passed, `${form} ${dtype} ${check.buffer}: ${JSON.stringify(check)}`);
    }
  }
});

test('naive (both cache modes) and absorbed agree with each other: max relative difference reported', async (t) => {
  for (const dtype of ['f32', 'f16'] as const) {
    const s = { qLen: 3 };
    const latent = await outputs(spec('naive-latent', s), dtype);
    const expanded = await outputs(spec('naive-expanded', s), dtype);
    const absorbed = await outputs(spec('absorbed', s), dtype);
    const scale = latent.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    // Two stored-rounding chains apart: a few storage epsilons of the output's size.
    const tolerance = {
      atol: (dtype === 'f16' ? 16 * 2 ** -11 : 16 * 2 ** -24) * scale,
      rtol: dtype === 'f16' ? 8 * 2 ** -11 : 8 * 2 ** -24,
    };
    for (const [name, other] of [
      ['naive-expanded', expanded],
      ['absorbed', absorbed],
    ] as const) {
      const report = allclose(other, latent, tolerance);
      t.diagnostic(
        `${dtype}: ${name} vs naive-latent: max rel diff ${report.maxRelError.toExponential(2)}, max abs diff ${report.maxAbsError.toExponential(2)} (output scale ${scale.toExponential(2)})`,
      );
      assert.ok(report.passed, `${dtype} ${name} vs naive-latent: ${JSON.stringify(report)}`);
    }
  }
});

test('the checks can fail: a RoPE table one position off and the wrong softmax scale are caught', async () => {
  const kernelCase = await build(spec('absorbed', { qLen: 3 }), 'f32');
  const table = kernelCase.buffers.find((b) => b.name === 'cos_sin')!;
  const shifted = Float32Array.from(table.data as Float32Array);
  shifted.copyWithin(0, DIMS.dRope); // every position takes the next one's angles
  const badRope = { ...kernelCase, buffers: kernelCase.buffers.map((b) => (b.name === 'cos_sin' ? { ...b, data: shifted } : b)) };
  assert.ok(!(await runChecked(badRope)).checks[0]!.passed, 'a shifted RoPE table must fail');

  // 1 / sqrt(d_c + d_r) instead of 1 / sqrt(d_nope + d_r): the classic absorbed-form mistake.
  const params = kernelCase.buffers.find((b) => b.name === 'params')!;
  const words = Uint32Array.from(params.data as Uint32Array);
  new Float32Array(words.buffer)[9] = Math.LOG2E / Math.sqrt(DIMS.dLatent + DIMS.dRope);
  const badScale = { ...kernelCase, buffers: kernelCase.buffers.map((b) => (b.name === 'params' ? { ...b, data: words } : b)) };
  assert.ok(!(await runChecked(badScale)).checks[0]!.passed, 'the absorbed-dimension scale must fail');
});

test('kv-cache: DeepSeek-V2 caches 576 elements per token per layer (MLA), 40960 (expanded), 32768 (MHA at 128 x 128)', async () => {
  const ctx = await context();
  const bytes = (form: string, dtype: Dtype): number => {
    const built = mlaFamily.build({ preset: 'deepseek-v2', form, batch: 1, context: 4, dtype, tiling: 'rows' }, ctx);
    if (built.kind === 'skip') throw new Error(built.reason);
    const facts = built.kernelCase.facts!;
    assert.equal(facts['kvBytesPerToken'], (facts['kvElementsPerToken'] as number) * (dtype === 'f16' ? 2 : 4), form);
    return facts['kvElementsPerToken'] as number;
  };
  assert.equal(bytes('absorbed', 'f16'), 576);
  assert.equal(bytes('naive-latent', 'f32'), 576);
  assert.equal(bytes('naive-expanded', 'f16'), 40960);
  assert.equal(bytes('mha', 'f16'), 32768);
  assert.equal(bytes('gqa', 'f16'), 2048);
  assert.equal(bytes('mqa', 'f16'), 256);
});

test('every stage has a phase; the absorbed form is absorb-q, q-rope, attend, reduce, absorb-o', async () => {
  const absorbed = await build(spec('absorbed'), 'f32');
  assert.deepEqual([...new Set(absorbed.stages.map((s) => s.phase))], ['absorb-q', 'q-rope', 'attend', 'reduce', 'absorb-o']);
  const naive = await build(spec('naive-latent'), 'f32');
  assert.deepEqual([...new Set(naive.stages.map((s) => s.phase))], ['q-rope', 'up-project', 'attend', 'reduce']);
  for (const stage of [...absorbed.stages, ...naive.stages]) assert.ok(stage.phase, stage.name);
});

test('the absorbed rows kernel needs subgroups of >= 8 lanes: without them the case is a skip that says so', async () => {
  const { absorbedRowsPlan } = await import('../../src/kernels/mla-absorbed.js');
  const gpu = await testGpu();
  const shape = { batch: 1, nQ: 16, nKv: 1, dQk: 576, dV: 512, qLen: 1, kvLens: [64], causal: true };
  assert.match(String(absorbedRowsPlan(shape, gpu.limits, undefined)), /no subgroups/);
  assert.match(String(absorbedRowsPlan(shape, gpu.limits, 4)), /subgroups of 4/);
  assert.equal(typeof absorbedRowsPlan(shape, gpu.limits, 8), 'object');
});

test('past the reference budget every form is checked on evenly spaced rows of the absorbed float64 reference (all heads of sampled tokens before W_O)', async () => {
  // 4 sequences x 3 new tokens x 3 heads = 36 output rows; with a budget of 1 FLOP the sample is the minimum.
  for (const form of MLA_FORMS) {
    const { checks } = await runChecked(await build(spec(form, { batch: 4, qLen: 3, referenceBudgetFlops: 1 }), 'f32'));
    assert.equal(checks[0]?.sampledRows, undefined, `${form}: 36 rows are under the 64-row minimum: every row`);
  }
  const wide: MlaDims = { ...DIMS, heads: 24 };
  for (const form of MLA_FORMS) {
    const { checks } = await runChecked(await build(spec(form, { dims: wide, batch: 4, qLen: 2, referenceBudgetFlops: 1 }), 'f32'));
    assert.deepEqual(checks[0]?.sampledRows, { checked: 64, total: 4 * 2 * 24 }, form);
    assert.ok(checks[0]?.passed, `${form}: ${JSON.stringify(checks[0])}`);
  }
  const layer = await runChecked(
    await build(
      spec('absorbed', { dims: { ...DIMS_Q, heads: 24 }, batch: 5, qLen: 2, layer: 'full', oProj: true, referenceBudgetFlops: 1 }),
      'f32',
    ),
  );
  const [out, y] = layer.checks;
  assert.deepEqual(y?.sampledRows, { checked: 8, total: 10 }, 'W_O mixes the heads: whole tokens are sampled');
  assert.deepEqual(out?.sampledRows, { checked: 8 * 24, total: 10 * 24 });
  assert.ok(out?.passed && y?.passed, JSON.stringify(layer.checks));
});

// A paged latent cache (FlashMLA's layout at small dims): 16-token pages in a shuffled order, each sequence's last
// page partial (37 = 2 x 16 + 5), free pages among them (NaN), two f32 pages a buffer (four f16): 2-4 buffers.
const PAGED = { pageSize: 16, maxPoolBytes: 2 * 16 * (DIMS.dLatent + DIMS.dRope) * 4 + 64 * 4 };

for (const [dtype, tiling] of [
  ['f32', 'rows'],
  ['f16', 'rows'],
  ['f32', 'workgroup'],
] as [Dtype, AttentionTiling][]) {
  test(`absorbed and naive-latent over a paged latent cache in several buffers pass numerics and equal their contiguous twins (${dtype}, ${tiling})`, async () => {
    for (const form of ['absorbed', 'naive-latent'] as const) {
      for (const qLen of [1, 3]) {
        const label = `${form} q_len ${qLen}`;
        const paged = await build(spec(form, { tiling, qLen, ...PAGED }), dtype);
        assert.ok((paged.facts?.['kvPools'] as number) >= 2, `${label}: ${paged.facts?.['kvPools']} pools`);
        assert.equal(paged.buffers.filter((b) => b.role === 'kv-cache').length, paged.facts?.['kvPools'], label);
        const run = await runChecked(paged);
        assert.ok(run.checks[0]!.passed, `${label}: ${JSON.stringify(run.checks[0])}`);
        const contiguous = await runChecked(await build(spec(form, { tiling, qLen }), dtype));
        assert.deepEqual(run.outputs.get('out'), contiguous.outputs.get('out'), `${label}: the same cache values, the same output`);
        // The memory tracker holds every pool under kv-cache: as many bytes as the contiguous cache's and the pages past it.
        assert.ok(run.memory.maxByRole['kv-cache'] > contiguous.memory.maxByRole['kv-cache'], label);
      }
    }
  });
}

// FlashInfer's MLA benchmark pages the cache a token a page: 2 x 37 tokens in 77 pages (free ones among them),
// 26 f32 pages a buffer (52 f16): 2-3 buffers, a token's buffer a choice per token.
const ONE_TOKEN_PAGES = { pageSize: 1, maxPoolBytes: 26 * (DIMS.dLatent + DIMS.dRope) * 4 + 64 * 4 };

test("pages of one token (FlashInfer's layout) in several buffers: absorbed and naive-latent equal their contiguous twins", async () => {
  for (const [dtype, tiling] of [
    ['f32', 'rows'],
    ['f16', 'rows'],
    ['f32', 'workgroup'],
  ] as [Dtype, AttentionTiling][]) {
    for (const form of ['absorbed', 'naive-latent'] as const) {
      const label = `${form} ${dtype} ${tiling}`;
      const paged = await build(spec(form, { tiling, ...ONE_TOKEN_PAGES }), dtype);
      assert.ok((paged.facts?.['kvPools'] as number) >= 2, `${label}: ${paged.facts?.['kvPools']} pools`);
      assert.equal(paged.facts?.['pageSize'], 1, label);
      const run = await runChecked(paged);
      assert.ok(run.checks[0]!.passed, `${label}: ${JSON.stringify(run.checks[0])}`);
      const contiguous = await runChecked(await build(spec(form, { tiling }), dtype));
      assert.deepEqual(run.outputs.get('out'), contiguous.outputs.get('out'), label);
    }
  }
});

test('a paged cache takes layer=attention: the layer path over one is a skip that says so', async () => {
  const ctx = await context();
  for (const form of MLA_FORMS) {
    const full = mlaCase(spec(form, { ...PAGED, layer: 'full', dims: DIMS_Q }), 'f32', ctx);
    assert.ok(full.kind === 'skip' && /layer=attention/.test(full.reason), form);
  }
});

test("FlashMLA's FLOP and byte formulas are the absorbed case's facts", async () => {
  const built = mlaFamily.build(
    { preset: 'deepseek-v3', form: 'absorbed', batch: 2, context: 64, dtype: 'f16', tiling: 'rows', page_size: 64 },
    await context(),
  );
  if (built.kind === 'skip') throw new Error(built.reason);
  const facts = built.kernelCase.facts!;
  // s_q x total_seqlens x h_q x (576 + 512) x 2; bytes (total x 576 + b x h_q x (576 + 512)) x 2.
  assert.equal(facts['flashMlaFlops'], 1 * 128 * 128 * 1088 * 2);
  assert.equal(facts['flashMlaBytes'], (128 * 576 + 2 * 128 * 1088) * 2);
  assert.equal(facts['pageSize'], 64);
});

test("FlashInfer's grid: deepseek-v3-tp2 is DeepSeek-V3 at 64 heads over one-token pages, and its benchmark's FLOPs and bytes are the facts", async () => {
  const [b, s, h] = [2, 64, 64];
  const built = mlaFamily.build(
    { preset: 'deepseek-v3-tp2', form: 'absorbed', batch: b, context: s, dtype: 'f16', tiling: 'rows', page_size: 1 },
    await context(),
  );
  if (built.kind === 'skip') throw new Error(built.reason);
  const facts = built.kernelCase.facts!;
  assert.deepEqual([facts['heads'], facts['dLatent'], facts['dRope'], facts['dModel'], facts['pageSize']], [h, 512, 64, 7168, 1]);
  // benchmarks/bench_deepseek_mla.py: flops 2 x b x h x (2 x 512 + 64) x s; io q_nope, q_pe, ckv, kpe and o in f16.
  assert.equal(facts['flashMlaFlops'], 2 * b * h * (2 * 512 + 64) * s);
  assert.equal(facts['flashMlaBytes'], (b * h * 512 + b * h * 64 + b * s * 512 + b * s * 64 + b * h * 512) * 2);
});
