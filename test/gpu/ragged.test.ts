import { adapterBuildFacts } from '../../src/gpu/device.js';
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { attentionCase, raggedLengths, type AttentionShape, type AttentionTiling } from '../../src/kernels/attention.js';
import type { BuildContext } from '../../src/kernels/family.js';
import { lengthRuns } from '../../src/kernels/mla-build.js';
import { MLA_FORMS, type MlaForm, type MlaSpec } from '../../src/kernels/mla-spec.js';
import { mlaCase, mlaFamily } from '../../src/kernels/mla.js';
import type { Dtype, KernelCase, OutputCheck } from '../../src/kernels/spec.js';
import { allclose } from '../../src/reference/allclose.js';
import type { MlaDims } from '../../src/reference/mla.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(seed = 13): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed };
}

// test/gpu/mla.test.ts's small dims with the presets' structure; ragged batches of a few sequences whose lengths are
// no multiple of a tile or a page (16), one of them a padding slot with no cached token.
const DIMS: MlaDims = { heads: 3, dNope: 16, dRope: 8, dV: 12, dLatent: 32, dQLatent: 0, dModel: 24 };
const ROW = DIMS.dLatent + DIMS.dRope;
const BATCHES: { qLen: number; kvLens: number[] }[] = [
  { qLen: 1, kvLens: [37, 20, 0, 29] },
  { qLen: 3, kvLens: [5, 37, 3, 0, 18] },
];

function spec(form: MlaForm, kvLens: number[], over: Partial<MlaSpec> = {}): MlaSpec {
  const base = { dims: DIMS, form, batch: kvLens.length, context: Math.max(...kvLens), qLen: 1, kvLens };
  return { ...base, layer: 'attention', oProj: false, tiling: 'rows', ...over };
}

async function build(s: MlaSpec, dtype: Dtype, seed = 13): Promise<KernelCase> {
  const built = mlaCase(s, dtype, await context(seed));
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

/** The output rows of every zero-length sequence are exactly 0 (never NaN). */
function assertZeroRows(out: Float32Array, kvLens: readonly number[], rowsPerSeq: number, label: string): void {
  kvLens.forEach((len, b) => {
    if (len > 0) return;
    const rows = out.subarray(b * rowsPerSeq, (b + 1) * rowsPerSeq);
    assert.ok(
      rows.every((x) => x === 0),
      `${label}: sequence ${b} has no cached token: zeros, got ${rows.find((x) => x !== 0)}`,
    );
  });
}

// A paged latent cache: 16-token pages in a shuffled order, each sequence's last page partial, free pages (NaN),
// two f32 pages a buffer (four f16): several buffers.
const PAGED = { pageSize: 16, maxPoolBytes: 2 * 16 * ROW * 4 + 64 * 4 };
// The expanded cache's pages hold every head: [3 heads][16][d_nope + d_r = 24] (K, the wider), two f32 pages a buffer.
const PAGED_EXPANDED = { pageSize: 16, maxPoolBytes: 2 * 16 * DIMS.heads * (DIMS.dNope + DIMS.dRope) * 4 + 64 * 4 };

for (const [dtype, tiling] of [
  ['f32', 'rows'],
  ['f16', 'rows'],
  ['f32', 'workgroup'],
] as [Dtype, AttentionTiling][]) {
  test(`ragged decode, every form contiguous and paged, passes numerics; empty sequences output zeros (${dtype}, ${tiling})`, async () => {
    for (const { qLen, kvLens } of BATCHES) {
      const variants: [string, MlaSpec][] = [
        ...MLA_FORMS.map((form): [string, MlaSpec] => [form, spec(form, kvLens, { qLen, tiling })]),
        ['absorbed paged', spec('absorbed', kvLens, { qLen, tiling, ...PAGED })],
        ['naive-latent paged', spec('naive-latent', kvLens, { qLen, tiling, ...PAGED })],
        ['naive-expanded paged', spec('naive-expanded', kvLens, { qLen, tiling, ...PAGED_EXPANDED })],
      ];
      for (const [name, s] of variants) {
        const kernelCase = await build(s, dtype);
        const label = `${name} q_len ${qLen} [${kvLens}]`;
        if (s.pageSize) assert.ok((kernelCase.facts?.['kvPools'] as number) >= 2, `${label}: ${kernelCase.facts?.['kvPools']} pools`);
        const { checks, outputs } = await runChecked(kernelCase);
        assert.ok(checks[0]!.passed, `${label}: ${JSON.stringify(checks[0])}`);
        assertZeroRows(outputs.get('out') as Float32Array, kvLens, qLen * DIMS.heads * DIMS.dV, label);
      }
    }
  });
}

test('a ragged paged latent cache holds the same values as its contiguous twin: the outputs are bitwise equal', async () => {
  for (const { qLen, kvLens } of BATCHES) {
    for (const tiling of ['rows', 'workgroup'] as const) {
      const paged = await runChecked(await build(spec('absorbed', kvLens, { qLen, tiling, ...PAGED }), 'f32'));
      const contiguous = await runChecked(await build(spec('absorbed', kvLens, { qLen, tiling }), 'f32'));
      assert.deepEqual(paged.outputs.get('out'), contiguous.outputs.get('out'), `${tiling} q_len ${qLen}`);
    }
  }
});

test('ragged paged layout: the block table holds each sequence its own pages, NaN past a partial last page and in free pages', async () => {
  const kvLens = BATCHES[0]!.kvLens;
  const kernelCase = await build(spec('absorbed', kvLens, { pageSize: 16 }), 'f32');
  const table = kernelCase.buffers.find((b) => b.name === 'seqs')!.data as Uint32Array;
  assert.deepEqual(
    kvLens.map((_, b) => table[2 * b]),
    kvLens,
  );
  // Sequence 0: 37 tokens = 2 pages + 5; sequence 2 (no token) has no page.
  const pagesOf = (b: number): number[] => {
    const at = table[2 * b + 1]!;
    return Array.from(table.subarray(at, at + 3)).filter((p) => p !== 0xffffffff);
  };
  assert.equal(pagesOf(0).length, 3);
  assert.equal(pagesOf(2).length, 0);
  const latent = kernelCase.buffers.find((b) => b.name === 'latent')!;
  const values = new Float32Array(latent.length);
  latent.fill!(0, values);
  const last = pagesOf(0)[2]!;
  assert.ok(Number.isFinite(values[(last * 16 + 4) * ROW]!), 'slot 4 of the last page holds token 36');
  assert.ok(Number.isNaN(values[(last * 16 + 5) * ROW]!), 'slot 5 is past the sequence: NaN');
  const owned = new Set([0, 1, 3].flatMap(pagesOf));
  const free = Array.from({ length: latent.length / (16 * ROW) }, (_, p) => p).filter((p) => !owned.has(p));
  assert.ok(free.length >= 1 && free.every((p) => Number.isNaN(values[p * 16 * ROW]!)), 'free pages hold NaN');
  // A kernel that read each sequence to `context` (37) would reach the NaN slots: point sequence 1's length at 37.
  table[2 * 1] = 37;
  const caught = await runChecked(kernelCase);
  assert.equal(caught.checks[0]?.passed, false);
});

test('the ragged checks can fail: one RoPE table for every sequence (uniform positions) is caught', async () => {
  const { qLen, kvLens } = BATCHES[1]!;
  for (const form of ['absorbed', 'naive-latent'] as const) {
    const kernelCase = await build(spec(form, kvLens, { qLen }), 'f32');
    const table = kernelCase.buffers.find((b) => b.name === 'cos_sin')!;
    const rows = Float32Array.from(table.data as Float32Array);
    assert.equal(rows.length, kvLens.length * qLen * DIMS.dRope, 'a row per (sequence, new token)');
    // Every sequence given the longest one's positions.
    const longest = kvLens.indexOf(Math.max(...kvLens));
    const first = rows.slice(longest * qLen * DIMS.dRope, (longest + 1) * qLen * DIMS.dRope);
    for (let b = 0; b < kvLens.length; b++) rows.set(first, b * qLen * DIMS.dRope);
    const bad = { ...kernelCase, buffers: kernelCase.buffers.map((b) => (b.name === 'cos_sin' ? { ...b, data: rows } : b)) };
    assert.equal((await runChecked(bad)).checks[0]?.passed, false, form);
  }
});

test('the ragged axis: lengths fall linearly from context (at least q_len), the case says so in its facts and passes', async () => {
  const ctx = await context();
  const params = { preset: 'custom', heads: 3, d_nope: 16, d_rope: 8, d_v: 12, d_latent: 32, d_model: 24, batch: 4, context: 40 };
  const lens = raggedLengths(4, 40, 0.9).map((len) => Math.max(len, 2));
  assert.deepEqual(lens, [40, 28, 16, 4]);
  for (const form of [...MLA_FORMS, 'mqa']) {
    const built = mlaFamily.build({ ...params, form, dtype: 'f32', tiling: 'rows', q_len: 2, ragged: 0.9 }, ctx);
    assert.ok(built.kind === 'case', built.kind === 'skip' ? built.reason : '');
    if (form !== 'mqa') assert.equal(built.kernelCase.facts?.['cachedTokens'], 88, form);
    const { checks } = await runChecked(built.kernelCase);
    assert.ok(checks[0]!.passed, `${form}: ${JSON.stringify(checks[0])}`);
  }
  const prefill = mlaFamily.build({ ...params, form: 'absorbed', dtype: 'f32', seq: 8, ragged: 0.5 }, ctx);
  assert.ok(prefill.kind === 'skip' && /decode batch/.test(prefill.reason));
  const short = mlaCase(spec('absorbed', [8, 2], { qLen: 3 }), 'f32', ctx);
  assert.ok(short.kind === 'skip' && /0 or an integer from q_len=3/.test(short.reason), short.kind === 'skip' ? short.reason : '');
});

test('the absorbed FLOP and byte facts count the cached tokens of a ragged batch', async () => {
  const built = mlaCase(spec('absorbed', [37, 20, 0, 29]), 'f16', await context());
  assert.ok(built.kind === 'case');
  const facts = built.kernelCase.facts!;
  assert.equal(facts['cachedTokens'], 86);
  assert.equal(facts['flashMlaFlops'], 2 * 86 * DIMS.heads * (ROW + DIMS.dLatent));
  assert.equal(facts['kvBytesPerToken'], ROW * 2);
});

// Attention decode with sequences that hold no cached token (a padding slot in the batch): zeros, never NaN, on the
// contiguous layout (the paged one is in attention.test.ts), with several KV splits so the reduce merges empty ones.
for (const tiling of ['rows', 'workgroup'] as const) {
  for (const dtype of ['f32', 'f16'] as const) {
    test(`attention decode with zero-length sequences outputs zeros for them and passes elsewhere (${dtype}, ${tiling})`, async () => {
      const shapes: AttentionShape[] = [
        { batch: 4, nQ: 6, nKv: 2, dQk: 32, dV: 20, qLen: 1, kvLens: [0, 37, 0, 130], causal: true },
        { batch: 3, nQ: 4, nKv: 1, dQk: 32, dV: 20, qLen: 2, kvLens: [19, 0, 64], causal: true },
        { batch: 2, nQ: 3, nKv: 3, dQk: 32, dV: 20, qLen: 1, kvLens: [0, 0], causal: true },
      ];
      for (const shape of shapes) {
        const built = attentionCase(shape, dtype, await context(), { phase: 'decode', tiling, splits: 3 });
        assert.ok(built.kind === 'case', built.kind === 'skip' ? built.reason : '');
        const { checks, outputs } = await runChecked(built.kernelCase);
        assert.ok(checks[0]!.passed, `[${shape.kvLens}]: ${JSON.stringify(checks[0])}`);
        assertZeroRows(outputs.get('out') as Float32Array, shape.kvLens, shape.qLen * shape.nQ * shape.dV, `[${shape.kvLens}]`);
      }
    });
  }
}

test("naive MLA's up-project runs once per run of equal lengths (none for an empty sequence); an even batch keeps one", async () => {
  const upStages = (k: KernelCase): string[] => k.stages.filter((s) => s.phase === 'up-project').map((s) => s.name);
  assert.deepEqual(upStages(await build(spec('naive-latent', [37, 20, 20, 0, 29]), 'f32')), [
    ...['up-k-0', 'up-v-0', 'k-rope-broadcast-0'],
    ...['up-k-1', 'up-v-1', 'k-rope-broadcast-1'],
    ...['up-k-2', 'up-v-2', 'k-rope-broadcast-2'],
  ]);
  assert.deepEqual(upStages(await build(spec('naive-expanded', [9, 9, 9]), 'f32')), ['up-k', 'up-v', 'k-rope-broadcast']);
});

// naive-expanded over a paged cache: the up-projection writes the new tokens' K/V through the block table.
test('paged naive-expanded: the new tokens are written through the block table (NaN until then) and equal the contiguous cache', async () => {
  for (const { qLen, kvLens } of [...BATCHES, { qLen: 3, kvLens: [37, 37] }]) {
    for (const tiling of ['rows', 'workgroup'] as const) {
      const label = `${tiling} q_len ${qLen} [${kvLens}]`;
      const paged = await build(spec('naive-expanded', kvLens, { qLen, tiling, ...PAGED_EXPANDED }), 'f32');
      assert.ok((paged.facts?.['kvPools'] as number) >= 2, `${label}: ${paged.facts?.['kvPools']} pools`);
      const run = await runChecked(paged);
      assert.ok(run.checks[0]!.passed, `${label}: ${JSON.stringify(run.checks[0])}`);
      const contiguous = await runChecked(await build(spec('naive-expanded', kvLens, { qLen, tiling }), 'f32'));
      const [got, want] = [run.outputs.get('out') as Float32Array, contiguous.outputs.get('out') as Float32Array];
      if (tiling === 'rows') {
        assert.deepEqual(got, want, label);
      } else {
        // The paged up-projection is a GEMM per (sequence, page), fewer rows than the contiguous one's, so the GPU tiling
        // may pick another GEMM kernel (gemv below 5 rows) and sum in another order: a few f32 roundings apart.
        const scale = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        const report = allclose(got, want, { atol: 16 * 2 ** -24 * scale, rtol: 8 * 2 ** -24 });
        assert.ok(report.passed, `${label}: ${JSON.stringify(report)}`);
      }
      // Without the up-projection the new tokens' slots still hold NaN, and the attend reads them.
      const skipped = { ...paged, stages: paged.stages.filter((stage) => stage.phase !== 'up-project') };
      const caught = (await runChecked(skipped)).checks[0]!;
      assert.equal(caught.passed, false, label);
      assert.equal(caught.worstActual, 'NaN', label);
    }
  }
});

// naive-latent over a paged cache gathers each sequence's latent rows through the block table into a packed workspace.
test('paged naive-latent: the gather copies each sequence its own rows, never a free page or a slot past its end, and equals the contiguous twin', async () => {
  for (const { qLen, kvLens } of BATCHES) {
    for (const tiling of ['rows', 'workgroup'] as const) {
      const label = `${tiling} q_len ${qLen} [${kvLens}]`;
      const paged = await build(spec('naive-latent', kvLens, { qLen, tiling, ...PAGED }), 'f32');
      assert.ok((paged.facts?.['kvPools'] as number) >= 2, `${label}: ${paged.facts?.['kvPools']} pools`);
      const cached = kvLens.reduce((a, n) => a + n, 0);
      const pages = kvLens.reduce((a, n) => a + Math.ceil(n / 16), 0);
      const gather = paged.stages.find((stage) => stage.phase === 'gather')!;
      assert.deepEqual(gather.work, {
        flops: 0,
        bytesRead: cached * ROW * 4 + 4 * pages + 8 * kvLens.length,
        bytesWritten: cached * ROW * 4,
      });
      const roles = new Map(paged.buffers.map((b) => [b.name, b.role]));
      assert.equal(roles.get('latent_ws'), 'scratch', label);
      // The workspace read back one row longer than the gather writes, that row zero: a gather that copied whole pages
      // (the last, partial one past its sequence: NaN) would write the last sequence's NaN slots there.
      const contiguous = await build(spec('naive-latent', kvLens, { qLen, tiling }), 'f32');
      const latent = contiguous.buffers.find((b) => b.name === 'latent')!.data as Float32Array;
      const ws = paged.buffers.find((b) => b.name === 'latent_ws')!;
      const wsCheck: OutputCheck = {
        buffer: 'latent_ws',
        shape: [ws.length + ROW],
        expected: () => Float64Array.from({ length: ws.length + ROW }, (_, i) => (i < cached * ROW ? latent[i]! : 0)),
        tolerance: { atol: 0, rtol: 0 },
      };
      const probe: KernelCase = {
        ...paged,
        buffers: paged.buffers.map((b) => (b === ws ? { ...b, length: ws.length + ROW, data: new Float32Array(ws.length + ROW) } : b)),
        checks: [...paged.checks, wsCheck],
      };
      const run = await runChecked(probe);
      assert.ok(run.checks[0]!.passed, `${label}: ${JSON.stringify(run.checks[0])}`);
      assert.ok(
        run.checks[1]!.passed,
        `${label}: the workspace is the packed latent cache, nothing past it: ${JSON.stringify(run.checks[1])}`,
      );
      const twin = await runChecked(contiguous);
      assert.deepEqual(run.outputs.get('out'), twin.outputs.get('out'), label);
      // Sequence 0's first page pointed at sequence 1's is caught: the pages are read through the block table. (Swapping
      // two of one sequence's pages would not be: attention over a set of rotated keys is blind to their order.)
      const table = Uint32Array.from(paged.buffers.find((b) => b.name === 'latent_pages')!.data as Uint32Array);
      table[0] = table[table.length / kvLens.length]!;
      const swapped = { ...paged, buffers: paged.buffers.map((b) => (b.name === 'latent_pages' ? { ...b, data: table } : b)) };
      assert.equal((await runChecked(swapped)).checks[0]?.passed, false, label);
    }
  }
});

test("ragged per-layer path (query compression, norms, RoPE into each sequence's slots, o-proj): every form in f32, absorbed in f16", async () => {
  const dims: MlaDims = { ...DIMS, dQLatent: 20 };
  for (const [dtype, forms] of [
    ['f32', MLA_FORMS],
    ['f16', ['absorbed']],
  ] as [Dtype, readonly MlaForm[]][]) {
    for (const form of forms) {
      for (const { qLen, kvLens } of BATCHES) {
        const label = `${form} ${dtype} q_len ${qLen} [${kvLens}]`;
        const kernelCase = await build(spec(form, kvLens, { dims, qLen, layer: 'full', oProj: true }), dtype);
        const stores = kernelCase.stages.filter((stage) => stage.name.startsWith('kv-store')).length;
        assert.equal(stores, form === 'naive-expanded' ? 0 : lengthRuns(kvLens).length, `${label}: a row copy per run of equal lengths`);
        const { checks, outputs } = await runChecked(kernelCase);
        assert.equal(checks.length, 2);
        for (const check of checks) assert.ok(check.passed, `${label} ${check.buffer}: ${JSON.stringify(check)}`);
        assertZeroRows(outputs.get('out') as Float32Array, kvLens, qLen * DIMS.heads * DIMS.dV, label);
        assertZeroRows(outputs.get('y') as Float32Array, kvLens, qLen * DIMS.dModel, `${label} y`);
        if (form !== 'absorbed' || dtype !== 'f32') continue;
        // Without the row copies the new tokens' slots still hold NaN, and the attend reads them.
        const unstored = { ...kernelCase, stages: kernelCase.stages.filter((stage) => !stage.name.startsWith('kv-store')) };
        assert.equal((await runChecked(unstored)).checks[0]?.worstActual, 'NaN', label);
      }
    }
  }
});
