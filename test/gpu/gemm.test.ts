import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { adapterBuildFacts } from '../../src/gpu/device.js';
import type { BuildContext } from '../../src/kernels/family.js';
import {
  emitGemm,
  gemmCase,
  gemmFamily,
  gemmShape,
  gemmTolerance,
  planGemm,
  rowStart,
  type GemmKernel,
  type GemmPlan,
  type GemmPlanKind,
  type GemmProblem,
  type GemmShape,
  type GemmTiling,
} from '../../src/kernels/gemm.js';
import type { Dtype, KernelCase } from '../../src/kernels/spec.js';
import { matmulRows } from '../../src/reference/gemm.js';
import { seededUniform } from '../../src/reference/random.js';
import { buildCase, closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(seed = 5): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed };
}

async function build(shape: GemmShape, dtype: Dtype, tiling: GemmTiling, kernel: GemmKernel | GemmPlan): Promise<KernelCase> {
  const built = gemmCase({ shape, dtype, tiling, kernel }, await context());
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

async function assertPasses(kernelCase: KernelCase, what: string): Promise<void> {
  const { checks } = await runChecked(kernelCase);
  for (const check of checks) {
    assert.ok(
      check.passed,
      `${what}: ${check.mismatches} mismatches, worst [${check.worstIndex}] ${check.worstActual} vs ${check.worstExpected}`,
    );
  }
}

const custom = (m: number, n: number, k: number, batch = 1): GemmShape => {
  const shape = gemmShape({ op: 'custom', model: 'none', rows: m, n, k, batch });
  if (typeof shape === 'string') throw new Error(shape);
  return shape;
};

// Sizes that are multiples of no tile: k and n not even whole vec4s (the rows are padded with NaN, which must never
// reach an output), m past a row block, a batch of 3, and the degenerate 1 x 1 x 1.
const ODD = [custom(37, 45, 51, 3), custom(1, 1, 1), custom(19, 7, 130), custom(70, 133, 5, 2)];
const KERNELS: readonly [GemmPlanKind, GemmTiling][] = [
  ['subgroup', 'rows'],
  ['tiled', 'workgroup'],
  ['gemv', 'workgroup'],
];

for (const dtype of ['f32', 'f16'] as const) {
  for (const [kernel, tiling] of KERNELS) {
    test(`${kernel} (${dtype}): odd sizes pass against float64, NaN padding never read`, async () => {
      for (const shape of ODD)
        await assertPasses(await build(shape, dtype, tiling, kernel), `${shape.m}x${shape.n}x${shape.k} batch ${shape.batch}`);
    });
  }
  test(`gemv (${dtype}): 1 to 5 rows, the last past its row block`, async () => {
    for (const m of [1, 2, 3, 4, 5]) await assertPasses(await build(custom(m, 90, 67), dtype, 'workgroup', 'gemv'), `m=${m}`);
  });
  test(`model shapes at few rows (${dtype}, both tilings): strided rows, a shared A, gaps in C left as they were`, async () => {
    for (const op of ['up-project', 'absorb-q', 'absorb-o'] as const) {
      for (const rows of [1, 17]) {
        const shape = gemmShape({ op, model: 'deepseek-v2-lite', rows });
        if (typeof shape === 'string') throw new Error(shape);
        for (const tiling of ['rows', 'workgroup'] as const)
          await assertPasses(await build(shape, dtype, tiling, 'auto'), `${op} rows=${rows} ${tiling}`);
      }
    }
  });
}

// The strategy shrinks tiles for small problems; these plans keep the large ones, so that odd sizes land inside them.
const LARGE_PLANS: GemmPlan[] = [
  { kind: 'subgroup', wg: 64, tm: 16, tn: 2 },
  { kind: 'subgroup', wg: 16, tm: 5, tn: 3 },
  { kind: 'tiled', wgM: 16, wgN: 16, tm: 4, tn4: 2, bk4: 8 },
  { kind: 'tiled', wgM: 8, wgN: 32, tm: 3, tn4: 1, bk4: 2 },
  { kind: 'gemv', wgN: 64, kSlices: 4, rows: 4 },
  { kind: 'gemv', wgN: 8, kSlices: 32, rows: 3 },
];

test('large and uneven tiles (f32 and f16): odd sizes inside one tile and across several', async () => {
  for (const plan of LARGE_PLANS) {
    for (const dtype of ['f32', 'f16'] as const) {
      for (const shape of [custom(37, 45, 51, 3), custom(70, 133, 130, 2)])
        await assertPasses(
          await build(shape, dtype, 'workgroup', plan),
          `${JSON.stringify(plan)} ${dtype} ${shape.m}x${shape.n}x${shape.k}`,
        );
    }
  }
});

test('mla-gemm runs the same problems (whole vec4s) and refuses odd sizes with the reason', async () => {
  await assertPasses(await build(custom(37, 44, 52, 3), 'f32', 'rows', 'mla-gemm'), 'vec4 sizes');
  const built = gemmCase({ shape: custom(37, 45, 51), dtype: 'f32', tiling: 'rows', kernel: 'mla-gemm' }, await context());
  assert.equal(built.kind, 'skip');
  assert.match(built.kind === 'skip' ? built.reason : '', /whole vec4s/);
});

test('the family builds suite cases with the plan in its facts; tiling and kernel do not change the inputs', async () => {
  const params = { op: 'absorb-o', model: 'deepseek-v2-lite', rows: 1, dtype: 'f32' };
  const rows = await buildCase(gemmFamily, { ...params, tiling: 'rows', kernel: 'auto' });
  const gpu = await buildCase(gemmFamily, { ...params, tiling: 'workgroup', kernel: 'auto' });
  assert.match(String(rows.facts?.['plan']), /^subgroup /);
  assert.match(String(gpu.facts?.['plan']), /^gemv /);
  assert.deepEqual(gemmFamily.inputInvariantAxes, ['tiling', 'kernel']);
  await assertPasses(rows, 'rows');
  await assertPasses(gpu, 'workgroup');
});

/**
 * The API the MLA stages call, with their addressing: naive-latent's up-projection reads the latent cache
 * [batch][token][d_c + d_r] (every head the same rows: batchStride 0) and writes K [batch][head][token][qW]:
 * matrix row r = (sequence b, token t) with t < L, so rows come in segments of L tokens, H L qW apart.
 */
test('segmented addressing through planGemm + emitGemm: rows in segments, a batch stride inside each row', async () => {
  const ctx = await context();
  const [seqs, L, H, dC, dR, dN] = [2, 7, 3, 20, 4, 12];
  const row = dC + dR;
  const qW = dN + dR;
  const latent = seededUniform(seqs * L * row, 3, 'f32');
  const w = seededUniform(H * dC * dN, 4, 'f32', -0.3, 0.3);
  const kLength = seqs * H * L * qW;
  for (const [kernel, tiling] of [...KERNELS, ['mla-gemm', 'rows']] as [GemmPlanKind, GemmTiling][]) {
    const problem: GemmProblem = {
      m: seqs * L,
      n: dN,
      k: dC,
      batch: H,
      dtype: 'f32',
      a: { buffer: 'latent', rows: { batchStride: 0, rowStride: row } },
      b: { buffer: 'w', rows: { batchStride: dC * dN, rowStride: dN } },
      c: { buffer: 'k', rows: { batchStride: L * qW, rowStride: qW, segment: { rows: L, stride: H * L * qW } } },
    };
    const plan = planGemm(problem, ctx, tiling, kernel);
    if (typeof plan === 'string') throw new Error(plan);
    const emitted = emitGemm(problem, plan, { name: 'up-k', phase: 'up-project' }, ctx.limits);
    assert.equal(emitted.stage.phase, 'up-project');
    // Expected: the rope columns keep their fill, the rest is latent[b][t][:d_c] W[h].
    const expected = new Float64Array(kLength).fill(0.5);
    const dense = new Float32Array(seqs * L * dC);
    for (let r = 0; r < seqs * L; r++) dense.set(latent.subarray(r * row, r * row + dC), r * dC);
    for (let h = 0; h < H; h++) {
      const picks = Array.from({ length: seqs * L }, (_, r) => [0, r] as const);
      const out = matmulRows({ batch: 1, m: seqs * L, n: dN, k: dC }, dense, w.subarray(h * dC * dN, (h + 1) * dC * dN), picks);
      for (let r = 0; r < seqs * L; r++) expected.set(out.subarray(r * dN, (r + 1) * dN), rowStart(problem.c.rows, h, r));
    }
    const fill = new Float32Array(kLength).fill(0.5);
    for (let h = 0; h < H; h++)
      for (let r = 0; r < seqs * L; r++) fill.fill(NaN, rowStart(problem.c.rows, h, r), rowStart(problem.c.rows, h, r) + dN);
    const kernelCase: KernelCase = {
      buffers: [
        { name: 'latent', role: 'kv-cache', usage: 'storage', type: 'f32', length: latent.length, canary: 8, data: latent },
        { name: 'w', role: 'weights', usage: 'storage', type: 'f32', length: w.length, canary: 8, data: w },
        { name: 'k', role: 'activations', usage: 'storage', type: 'f32', length: kLength, canary: 8, data: fill },
        ...emitted.buffers,
      ],
      stages: [emitted.stage],
      checks: [{ buffer: 'k', shape: [seqs, H, L, qW], expected: () => expected, tolerance: gemmTolerance('f32', dC, 2) }],
    };
    await assertPasses(kernelCase, `${kernel}`);
  }
});
