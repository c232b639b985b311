import { adapterBuildFacts } from '../../src/gpu/device.js';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { describeErrors, hasErrors, withErrorScopes } from '../../src/gpu/device.js';
import { PreparedCase } from '../../src/gpu/executor.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import {
  ATTENTION_VARIANTS,
  attentionCase,
  attentionFamily,
  kvBytesPerToken,
  type AttentionCaseOptions,
  type AttentionShape,
  type AttentionTiling,
  type PrefillKernel,
} from '../../src/kernels/attention.js';
import type { BuildContext } from '../../src/kernels/family.js';
import { elementBytes, type Dtype, type KernelCase } from '../../src/kernels/spec.js';
import { pageCounts } from '../../src/kernels/kv-pages.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(seed = 7): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed };
}

async function build(shape: AttentionShape, dtype: Dtype, options: AttentionCaseOptions): Promise<KernelCase> {
  const built = attentionCase(shape, dtype, await context(), options);
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

interface OddShape {
  name: string;
  phase: 'decode' | 'prefill';
  shape: AttentionShape;
  /** Decode: force several KV splits so the reduce merges partials (some of them empty). */
  splits?: number;
}

// Odd on purpose: head dims that are no multiple of the tiles (d_qk 33: not even of 4, so rows are zero
// padded; d_v 20 != d_qk), KV lengths that are no multiple of a tile, ragged batches with a single-token
// sequence, head counts that are not powers of two, GQA and MQA. (One pair of head dims throughout keeps the
// number of pipelines, and so the compile time on CPU adapters, down.)
const D_QK = 33;
const D_V = 20;
const SHAPES: OddShape[] = [
  {
    name: 'MHA decode, 3 heads, ragged [1, 37, 130] (a single-token sequence)',
    phase: 'decode',
    shape: { batch: 3, nQ: 3, nKv: 3, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [1, 37, 130], causal: true, scale: 0.35 },
    splits: 3,
  },
  {
    name: 'GQA decode, 6 q / 2 kv heads, q_len 3 causal, ragged [70, 5, 200]',
    phase: 'decode',
    shape: { batch: 3, nQ: 6, nKv: 2, dQk: D_QK, dV: D_V, qLen: 3, kvLens: [70, 5, 200], causal: true, scale: 0.4 },
    splits: 4,
  },
  {
    name: 'GQA decode, 12 q / 4 kv heads, q_len 2 causal (6 rows per KV head), ragged [9, 150]',
    phase: 'decode',
    shape: { batch: 2, nQ: 12, nKv: 4, dQk: D_QK, dV: D_V, qLen: 2, kvLens: [9, 150], causal: true, scale: 0.45 },
    splits: 2,
  },
  {
    name: 'MQA decode, 12 q heads / 1 kv head, 301 tokens',
    phase: 'decode',
    shape: { batch: 1, nQ: 12, nKv: 1, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [301], causal: true, scale: 0.3 },
  },
  {
    name: 'MHA prefill, 3 heads, 45 queries over ragged [45, 60] (a cached prefix)',
    phase: 'prefill',
    shape: { batch: 2, nQ: 3, nKv: 3, dQk: D_QK, dV: D_V, qLen: 45, kvLens: [45, 60], causal: true, scale: 0.3 },
  },
  {
    name: 'GQA prefill, 6 q / 2 kv heads, 50 tokens causal',
    phase: 'prefill',
    shape: { batch: 1, nQ: 6, nKv: 2, dQk: D_QK, dV: D_V, qLen: 50, kvLens: [50], causal: true, scale: 0.5 },
  },
  {
    name: 'MQA prefill, 5 q heads / 1 kv head, not causal, 20 queries over 33 tokens',
    phase: 'prefill',
    shape: { batch: 1, nQ: 5, nKv: 1, dQk: D_QK, dV: D_V, qLen: 20, kvLens: [33], causal: false, scale: 0.4 },
  },
  {
    name: 'prefill of a single token',
    phase: 'prefill',
    shape: { batch: 1, nQ: 2, nKv: 1, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [1], causal: true },
  },
];

const TILINGS: AttentionTiling[] = ['workgroup', 'rows'];

/** A kernel choice under test: a tiling, and for the workgroup tiling's prefill the kernel (flash by default). */
interface KernelChoice {
  tiling: AttentionTiling;
  prefillKernel?: PrefillKernel;
}

/** Every kernel a phase has: both tilings, and for prefill the workgroup tiling's tiled kernel beside flash. */
function kernelsOf(phase: 'decode' | 'prefill'): KernelChoice[] {
  const tiled: KernelChoice[] = phase === 'prefill' ? [{ tiling: 'workgroup', prefillKernel: 'tiled' }] : [];
  return [{ tiling: 'workgroup' }, ...tiled, { tiling: 'rows' }];
}

const labelOf = (k: KernelChoice): string => (k.prefillKernel ? `${k.tiling} ${k.prefillKernel}` : k.tiling);

/** The workgroup tiling's prefill runs the kernel asked for (flash unless told otherwise): its facts say which. */
function assertPrefillKernel(kernelCase: KernelCase, phase: 'decode' | 'prefill', k: KernelChoice): void {
  if (phase !== 'prefill' || k.tiling !== 'workgroup') return;
  assert.equal(kernelCase.facts?.['prefillKernel'], k.prefillKernel ?? 'flash');
}

for (const { name, phase, shape, splits } of SHAPES) {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const k of kernelsOf(phase)) {
      test(`${name} [${dtype}, ${labelOf(k)}]: GPU equals the float64 reference`, async () => {
        const kernelCase = await build(shape, dtype, { phase, ...k, ...(splits !== undefined && { splits }) });
        assertPrefillKernel(kernelCase, phase, k);
        const outcome = await runChecked(kernelCase);
        const check = outcome.checks[0]!;
        assert.ok(
          check.passed,
          `${check.mismatches}/${check.checked} mismatches, worst ${check.worstActual} vs ${check.worstExpected} at ${check.worstIndex} ` +
            `(atol ${check.tolerance.atol}, rtol ${check.tolerance.rtol})`,
        );
        assert.equal(check.checked, shape.batch * shape.qLen * shape.nQ * shape.dV);
      });
    }
  }
  // The per-invocation rows kernel, which serves CPU adapters without subgroups of >= 8 lanes, on every shape.
  test(`${name} [f32, rows without subgroups]: GPU equals the float64 reference`, async () => {
    const built = attentionCase(
      shape,
      'f32',
      { ...(await context()), subgroupMinSize: undefined },
      { phase, tiling: 'rows', ...(splits !== undefined && { splits }) },
    );
    assert.ok(built.kind === 'case');
    assert.equal(built.kernelCase.facts?.['rowsKernel'], 'per-invocation');
    const check = (await runChecked(built.kernelCase)).checks[0]!;
    assert.ok(check.passed, `${check.mismatches}/${check.checked} mismatches (atol ${check.tolerance.atol}, rtol ${check.tolerance.rtol})`);
  });
}

test('rows tiling: the subgroup kernel where a KV head has >= 8 query rows (prefill writes its output, no reduce), the columns kernel below that, the per-invocation kernel without subgroups', async () => {
  const ctx = await context();
  assert.ok((ctx.subgroupMinSize ?? 0) >= 8, 'lavapipe exposes subgroups of 8: the subgroup kernel must be the one under test');
  const kernelOf = async (shape: AttentionShape, phase: 'decode' | 'prefill') => {
    const kernelCase = await build(shape, 'f32', { phase, tiling: 'rows' });
    return {
      kernel: kernelCase.facts?.['rowsKernel'],
      stages: kernelCase.stages.map((s) => `${s.name}:${s.shader}:${s.entryPoint ?? 'main'}`),
    };
  };
  const byName = Object.fromEntries(SHAPES.map((s) => [s.name, s]));
  const mhaDecode = byName['MHA decode, 3 heads, ragged [1, 37, 130] (a single-token sequence)']!;
  const mqaDecode = byName['MQA decode, 12 q heads / 1 kv head, 301 tokens']!;
  const gqaPrefill = byName['GQA prefill, 6 q / 2 kv heads, 50 tokens causal']!;
  assert.deepEqual(await kernelOf(mhaDecode.shape, 'decode'), {
    kernel: 'columns',
    stages: ['attend:attention_columns.wgsl:main', 'reduce:attention_reduce.wgsl:main'],
  });
  // Asked for rows per invocation, the per-invocation kernel.
  const asked = await build(mhaDecode.shape, 'f32', { phase: 'decode', tiling: 'rows', rowsPerInvocation: 1 });
  assert.equal(asked.facts?.['rowsKernel'], 'per-invocation');
  assert.deepEqual(await kernelOf(mqaDecode.shape, 'decode'), {
    kernel: 'subgroup',
    stages: ['attend:attention_rows_subgroup.wgsl:main', 'reduce:attention_reduce.wgsl:main'],
  });
  assert.deepEqual(await kernelOf(gqaPrefill.shape, 'prefill'), {
    kernel: 'subgroup',
    stages: ['attend:attention_rows_subgroup.wgsl:main_direct'],
  });
  // Without subgroups (or with narrower ones) the per-invocation kernel serves every shape.
  for (const shape of [gqaPrefill.shape, mhaDecode.shape]) {
    const narrow = attentionCase(shape, 'f32', { ...ctx, subgroupMinSize: 4 }, { phase: 'prefill', tiling: 'rows' });
    assert.equal(narrow.kind === 'case' && narrow.kernelCase.facts?.['rowsKernel'], 'per-invocation');
  }
  // Head dims past the columns kernel's 256 fall back to it too.
  const wide = attentionCase({ ...mhaDecode.shape, dQk: 260, dV: 20 }, 'f32', ctx, { phase: 'decode', tiling: 'rows' });
  assert.equal(wide.kind === 'case' && wide.kernelCase.facts?.['rowsKernel'], 'per-invocation');
});

test('tolerances are per dtype and grow with the reduction length', async () => {
  const short: AttentionShape = { batch: 1, nQ: 2, nKv: 1, dQk: 32, dV: 32, qLen: 1, kvLens: [64], causal: true };
  const long = { ...short, kvLens: [4096] };
  const tol = async (s: AttentionShape, dtype: Dtype) => (await build(s, dtype, { phase: 'decode' })).checks[0]!.tolerance;
  const [f32Short, f32Long, f16Short] = [await tol(short, 'f32'), await tol(long, 'f32'), await tol(short, 'f16')];
  assert.ok(f32Long.atol > f32Short.atol && f32Long.rtol > f32Short.rtol);
  assert.ok(f16Short.atol > f32Short.atol && f16Short.rtol > f32Short.rtol);
  // Not a catch-all: well below the output scale (|out| <= max |v| <= 1).
  assert.ok(f32Long.atol < 1e-3 && f16Short.atol < 2e-3);
});

test('KV bytes per token per layer, from the kv-cache buffers, equal 2 * n_kv * d * element size', async () => {
  const ctx = await context();
  for (const [variant, preset] of Object.entries(ATTENTION_VARIANTS)) {
    for (const dtype of ['f32', 'f16'] as const) {
      for (const tiling of TILINGS) {
        const params = { phase: 'decode', variant, batch: 2, context: 24, dtype, tiling, ragged: 0.5 };
        const built = attentionFamily.build(params, ctx);
        assert.equal(built.kind, 'case');
        if (built.kind !== 'case') continue;
        const { buffers, facts } = built.kernelCase;
        const expected = 2 * preset.nKv * preset.d * elementBytes(dtype);
        assert.equal(facts?.['kvBytesPerToken'], expected, `${variant} ${dtype} ${tiling}`);
        assert.equal(kvBytesPerToken(buffers, facts?.['cachedTokens'] as number), expected);
        assert.deepEqual(
          buffers.filter((b) => b.role === 'kv-cache').map((b) => b.name),
          ['k', 'v'],
        );
      }
    }
  }
  // MQA caches 1/128 of what MHA caches at the same query heads and dim.
  const mha = 2 * ATTENTION_VARIANTS.mha.nKv * 128;
  assert.equal(mha / (2 * ATTENTION_VARIANTS.mqa.nKv * 128), 128);
});

test('outputs past the valid data are never written (canaries stay NaN)', async () => {
  for (const phase of ['decode', 'prefill'] as const) {
    for (const k of kernelsOf(phase)) {
      const tiling = labelOf(k);
      const shape: AttentionShape = {
        batch: 2,
        nQ: 12,
        nKv: 1,
        dQk: D_QK,
        dV: D_V,
        qLen: phase === 'decode' ? 1 : 9,
        kvLens: [9, 30],
        causal: true,
      };
      const kernelCase = await build(shape, 'f32', { phase, ...k });
      assertPrefillKernel(kernelCase, phase, k);
      const out = kernelCase.buffers.find((b) => b.name === 'out')!;
      const valid = out.length;
      // Read the canary region back as if it were data.
      out.length += out.canary ?? 0;
      out.canary = 0;
      const gpu = await testGpu();
      const allocator = new TrackedAllocator(gpu.device);
      let prepared: PreparedCase | undefined;
      const scoped = await withErrorScopes(gpu.device, async () => {
        prepared = await PreparedCase.prepare(gpu, allocator, kernelCase);
        await prepared.run();
        return prepared.read('out');
      });
      prepared?.dispose();
      allocator.destroyAll();
      assert.ok(!hasErrors(scoped.errors), describeErrors(scoped.errors));
      const values = scoped.value!;
      assert.ok(values.length > valid);
      for (let i = 0; i < valid; i++) assert.ok(Number.isFinite(values[i]), `${tiling} ${phase}: out[${i}] = ${values[i]}`);
      for (let i = valid; i < values.length; i++) assert.ok(Number.isNaN(values[i]), `${tiling} ${phase}: canary out[${i}] = ${values[i]}`);
    }
  }
});

test('a K cache shorter than the kernel reads shows up as NaN (canaries catch out-of-bounds reads)', async () => {
  for (const tiling of TILINGS) {
    const shape: AttentionShape = { batch: 1, nQ: 12, nKv: 1, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [40], causal: true };
    const kernelCase = await build(shape, 'f32', { phase: 'decode', tiling });
    const k = kernelCase.buffers.find((b) => b.name === 'k')!;
    // The last token row (padded to 36 elements) is now canary: the kernel still reads 40 tokens.
    k.length -= 36;
    k.data = k.data!.subarray(0, k.length);
    const outcome = await runChecked(kernelCase);
    assert.equal(outcome.checks[0]?.passed, false, tiling);
    assert.equal(outcome.checks[0]?.worstActual, 'NaN', tiling);
  }
});

test('f16 cases are skipped with a reason on an adapter without shader-f16', async () => {
  const ctx = await context();
  const built = attentionFamily.build(
    { phase: 'decode', variant: 'llama3-8b', batch: 1, context: 16, dtype: 'f16' },
    { ...ctx, features: new Set() },
  );
  assert.deepEqual(built, { kind: 'skip', reason: 'adapter has no shader-f16' });
});

test('work accounting: decode FLOPs 2 b h_q s_k (d_qk + d_v), K/V read once per KV head', async () => {
  const ctx = await context();
  const built = attentionFamily.build({ phase: 'decode', variant: 'gqa', batch: 2, context: 32, dtype: 'f16' }, ctx);
  assert.equal(built.kind, 'case');
  if (built.kind !== 'case') return;
  const [attend, reduce] = built.kernelCase.stages;
  assert.equal(attend?.work.flops, 2 * 2 * 128 * 32 * (128 + 128));
  const kv = 2 * 2 * 8 * 32 * 128 * 2;
  const q = 2 * 128 * 128 * 2;
  assert.equal(attend?.work.bytesRead, kv + q + 2 * 2 * 4);
  assert.equal(reduce?.work.bytesWritten, 2 * 128 * 128 * 2);
  // Prefill counts the causal pairs only: s (s + 1) / 2 per head.
  const prefill = attentionFamily.build({ phase: 'prefill', variant: 'llama3-8b', batch: 1, seq: 16, dtype: 'f32' }, ctx);
  assert.equal(prefill.kind, 'case');
  if (prefill.kind === 'case') assert.equal(prefill.kernelCase.stages[0]?.work.flops, 2 * 32 * ((16 * 17) / 2) * 256);
});

test('past the reference budget a case is checked on evenly spaced output rows, which still catch a wrong row', async () => {
  // 3 ragged sequences x 32 query heads = 96 output rows; a budget of 1 FLOP leaves the minimum sample, 64 rows.
  const shape: AttentionShape = { batch: 3, nQ: 32, nKv: 4, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [40, 23, 31], causal: true };
  const good = await build(shape, 'f32', { phase: 'decode', tiling: 'rows', referenceBudgetFlops: 1 });
  const outcome = await runChecked(good);
  assert.deepEqual(outcome.checks[0]?.sampledRows, { checked: 64, total: 96 });
  assert.equal(outcome.checks[0]?.passed, true, JSON.stringify(outcome.checks[0]));
  assert.equal(outcome.checks[0]?.checked, 64 * D_V);
  // The last token row of the cache (sequence 2, KV head 3) turned to canary: the sampled last row sees NaN.
  const bad = await build(shape, 'f32', { phase: 'decode', tiling: 'rows', referenceBudgetFlops: 1 });
  const k = bad.buffers.find((b) => b.name === 'k')!;
  k.length -= Math.ceil(D_QK / 4) * 4;
  k.data = k.data!.subarray(0, k.length);
  const caught = await runChecked(bad);
  assert.equal(caught.checks[0]?.passed, false);
  assert.equal(caught.checks[0]?.worstActual, 'NaN');
  const worstRow = Math.floor(caught.checks[0]!.worstIndex / D_V);
  assert.ok(worstRow >= 2 * 32 + 3 * 8 && worstRow < 96, `the worst element (row ${worstRow}) is named in the whole output's indexing`);
});

// Paged caches (src/kernels/kv-pages.ts): pages of 16 tokens in a shuffled order with free pages among them, each
// sequence's last page partial, a zero-length sequence, and pools of a few pages each, so that every kernel walks
// several cache buffers.
const PAGED_SHAPES: OddShape[] = [
  {
    name: 'MHA decode, ragged [1, 37, 0, 130]',
    phase: 'decode',
    shape: { batch: 4, nQ: 3, nKv: 3, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [1, 37, 0, 130], causal: true, scale: 0.35 },
    splits: 3,
  },
  {
    name: 'GQA decode, q_len 3, ragged [70, 5, 200]',
    phase: 'decode',
    shape: { batch: 3, nQ: 6, nKv: 2, dQk: D_QK, dV: D_V, qLen: 3, kvLens: [70, 5, 200], causal: true, scale: 0.4 },
    splits: 4,
  },
  {
    name: 'MQA decode, 12 q heads, ragged [301, 0, 17]',
    phase: 'decode',
    shape: { batch: 3, nQ: 12, nKv: 1, dQk: D_QK, dV: D_V, qLen: 1, kvLens: [301, 0, 17], causal: true, scale: 0.3 },
  },
  {
    name: 'MHA prefill, 45 queries over ragged [45, 60]',
    phase: 'prefill',
    shape: { batch: 2, nQ: 3, nKv: 3, dQk: D_QK, dV: D_V, qLen: 45, kvLens: [45, 60], causal: true, scale: 0.3 },
  },
  {
    name: 'GQA prefill, 6 q / 2 kv heads, 50 tokens causal',
    phase: 'prefill',
    shape: { batch: 1, nQ: 6, nKv: 2, dQk: D_QK, dV: D_V, qLen: 50, kvLens: [50], causal: true, scale: 0.5 },
  },
];
const PAGE = 16;
/**
 * 3 pools of K (and of V) for every shape, so the shapes share pipelines (the pool count is compile-time): a page holds
 * 16 tokens x n_kv heads x 36 (K) elements; the canary's 64 past them.
 */
const poolBytes = (shape: AttentionShape, dtype: Dtype): number =>
  (Math.ceil(pageCounts(shape.kvLens, PAGE).pageCount / 3) * PAGE * shape.nKv * 36 + 64) * elementBytes(dtype);

for (const { name, phase, shape, splits } of PAGED_SHAPES) {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const k of kernelsOf(phase)) {
      test(`paged (16-token pages, several buffers) ${name} [${dtype}, ${labelOf(k)}]: GPU equals the float64 reference`, async () => {
        const options = { phase, ...k, pageSize: PAGE, maxPoolBytes: poolBytes(shape, dtype), ...(splits !== undefined && { splits }) };
        const kernelCase = await build(shape, dtype, options);
        assertPrefillKernel(kernelCase, phase, k);
        assert.equal(kernelCase.facts?.['kvPools'], 3);
        const check = (await runChecked(kernelCase)).checks[0]!;
        assert.ok(check.passed, `${check.mismatches}/${check.checked} mismatches, worst ${check.worstActual} vs ${check.worstExpected}`);
      });
    }
  }
}

test('a paged cache holds the same values as its contiguous twin: the outputs are bitwise equal', async () => {
  const shape = PAGED_SHAPES[1]!.shape;
  for (const tiling of TILINGS) {
    const contiguous = await runChecked(await build(shape, 'f32', { phase: 'decode', tiling, splits: 4 }));
    const paged = await runChecked(await build(shape, 'f32', { phase: 'decode', tiling, splits: 4, pageSize: 64 }));
    assert.deepEqual(paged.outputs.get('out'), contiguous.outputs.get('out'), tiling);
  }
});

test('paged layout: shuffled pages, free pages and the slots past each sequence hold NaN; a block table pointing at one is caught', async () => {
  const shape = PAGED_SHAPES[0]!.shape;
  for (const tiling of TILINGS) {
    const kernelCase = await build(shape, 'f32', { phase: 'decode', tiling, pageSize: PAGE });
    const seqs = kernelCase.buffers.find((b) => b.name === 'seqs')!;
    const table = seqs.data as Uint32Array;
    const batch = shape.batch;
    // Sequence 3's pages (130 tokens: 9 pages) in the block table after the (length, row) pairs.
    const pages = Array.from(table.subarray(table[2 * 3 + 1]!, table[2 * 3 + 1]! + 9));
    assert.notDeepEqual(
      pages,
      [...pages].sort((a, b) => a - b),
      'pages are not in allocation order',
    );
    const k = kernelCase.buffers.find((b) => b.name === 'k')!;
    const values = new Float32Array(k.length);
    k.fill!(0, values);
    const rowsPerPage = PAGE * shape.nKv;
    const pageCount = k.length / (rowsPerPage * 36);
    const owned = new Set(Array.from(table.subarray(2 * batch)).filter((p) => p !== 0xffffffff));
    const free = Array.from({ length: pageCount }, (_, p) => p).filter((p) => !owned.has(p));
    assert.ok(free.length >= 1);
    for (const p of free) assert.ok(Number.isNaN(values[p * rowsPerPage * 36]!), `free page ${p} holds NaN`);
    // Sequence 3's last page holds 130 - 8 * 16 = 2 tokens: slot 2 of its KV head 0 is NaN.
    assert.ok(Number.isNaN(values[(pages[8]! * rowsPerPage + 2) * 36]!));
    assert.ok(Number.isFinite(values[(pages[8]! * rowsPerPage + 1) * 36]!));
    // Point sequence 3's first page at a free page: the kernels read NaN and the check fails.
    table[table[2 * 3 + 1]!] = free[0]!;
    const caught = await runChecked(kernelCase);
    assert.equal(caught.checks[0]?.passed, false, tiling);
    assert.equal(caught.checks[0]?.worstActual, 'NaN', tiling);
  }
});

test('paged caches past one binding (lavapipe: 128 MiB) spread over several buffers: a 330 MiB cache against float64', async () => {
  const ctx = await context(11);
  // 4 sequences of up to 160K tokens, 1 KV head of K 128 + V 128 f32: 1 KiB a token.
  const shape: AttentionShape = { batch: 4, nQ: 8, nKv: 1, dQk: 128, dV: 128, qLen: 1, kvLens: [90000, 89937, 1, 160000], causal: true };
  const built = attentionCase(shape, 'f32', ctx, { phase: 'decode', tiling: 'rows', pageSize: 64 });
  assert.ok(built.kind === 'case', built.kind === 'skip' ? built.reason : '');
  const kv = built.kernelCase.buffers.filter((b) => b.role === 'kv-cache');
  const bytes = kv.reduce((n, b) => n + b.length * 4, 0);
  assert.ok(bytes > 300 * 2 ** 20, `${bytes} bytes`);
  assert.ok(kv.length >= 4 && kv.every((b) => (b.length + (b.canary ?? 0)) * 4 <= ctx.limits.maxStorageBufferBindingSize));
  const outcome = await runChecked(built.kernelCase);
  assert.ok(outcome.checks[0]!.passed, JSON.stringify(outcome.checks[0]));
  assert.ok(outcome.memory.maxByRole['kv-cache'] >= bytes, 'every cache buffer is tracked under kv-cache');
});

test('a paged cache that needs more buffers than a stage may bind is a skip naming the cache and the limit', async () => {
  const ctx = await context();
  const shape: AttentionShape = { batch: 2, nQ: 4, nKv: 2, dQk: 64, dV: 64, qLen: 1, kvLens: [400, 400], causal: true };
  const built = attentionCase(shape, 'f32', ctx, { phase: 'decode', tiling: 'rows', pageSize: 16, maxPoolBytes: 20000 });
  assert.equal(built.kind, 'skip');
  if (built.kind === 'skip')
    assert.match(
      built.reason,
      /KV cache of .* GiB in \d+ buffers: stage attend binds \d+ storage buffers .*maxStorageBuffersPerShaderStage \(16\)/,
    );
});
