import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { adapterBuildFacts } from '../../src/gpu/device.js';
import type { BuildContext } from '../../src/kernels/family.js';
import { emitGemm, gemmTolerance, planDefect, planGemm, type GemmPlan, type GemmProblem, type GemmTiling } from '../../src/kernels/gemm.js';
import type { BufferDecl, Dtype, KernelCase } from '../../src/kernels/spec.js';
import { seededUniform } from '../../src/reference/random.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

async function context(): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed: 3 };
}

/** What C's rows hold before the stage: rows the kernel must not write keep it. */
const FILL = 0.25;
const BLOCK = 8;
const CANARY = 8;
const silu = (v: number): number => v / (1 + Math.exp(-v));
const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/**
 * An expert-sorted, block-padded layout as MoE's align stage writes it: group g's rows start at the sum of the
 * earlier groups' counts rounded up to BLOCK; padding rows and every row from the padded total to the capacity hold
 * the sentinel (and NaN in A); each block names its group (`groups` past the total).
 */
function layout(counts: readonly number[]): {
  ids: Uint32Array;
  blockGroup: Uint32Array;
  total: number;
  capacity: number;
  rowGroup: number[];
} {
  const total = counts.reduce((sum, c) => sum + roundUp(c, BLOCK), 0);
  const capacity = total + 2 * BLOCK;
  const sentinel = 1000;
  const ids = new Uint32Array(capacity).fill(sentinel);
  const blockGroup = new Uint32Array(capacity / BLOCK).fill(counts.length);
  const rowGroup = new Array<number>(capacity).fill(-1);
  let start = 0;
  counts.forEach((count, g) => {
    for (let r = 0; r < count; r++) {
      ids[start + r] = start + r;
      rowGroup[start + r] = g;
    }
    for (let b = start / BLOCK; b < (start + roundUp(count, BLOCK)) / BLOCK; b++) blockGroup[b] = g;
    start += roundUp(count, BLOCK);
  });
  return { ids, blockGroup, total, capacity, rowGroup };
}

interface Built {
  kernelCase: KernelCase;
  problem: GemmProblem;
}

/**
 * C = A B (or silu(A B) * (A B') with `swiglu`) over grouped rows: odd n and k, a group with no rows, NaN in A's padding
 * rows, past the padded total and in B's padding columns (none of which may reach C), C's unwritten rows checked to
 * keep FILL.
 */
function groupedCase(ctx: BuildContext, dtype: Dtype, tiling: GemmTiling, opts: { swiglu: boolean; plan?: GemmPlan }): Built {
  const [n, k] = [21, 37];
  const counts = [5, 0, 11, 8, 1];
  const { ids, blockGroup, total, capacity, rowGroup } = layout(counts);
  const unit = dtype === 'f16' ? 8 : 4;
  const pair = roundUp(n, unit);
  const bRow = opts.swiglu ? 2 * pair : pair;
  const kRow = roundUp(k, 4);
  const x = seededUniform(capacity * k, 7, dtype);
  const w = seededUniform(counts.length * k * 2 * n, 8, dtype, -1 / Math.sqrt(k), 1 / Math.sqrt(k));
  const a = new Float32Array(capacity * kRow).fill(NaN);
  for (let r = 0; r < capacity; r++) if (rowGroup[r]! >= 0) a.set(x.subarray(r * k, (r + 1) * k), r * kRow);
  const b = new Float32Array(counts.length * k * bRow).fill(NaN);
  const gateAt = (g: number, l: number, j: number) => w[((g * k + l) * 2 + 0) * n + j]!;
  const upAt = (g: number, l: number, j: number) => w[((g * k + l) * 2 + 1) * n + j]!;
  for (let g = 0; g < counts.length; g++)
    for (let l = 0; l < k; l++)
      for (let j = 0; j < n; j++) {
        b[(g * k + l) * bRow + j] = gateAt(g, l, j);
        if (opts.swiglu) b[(g * k + l) * bRow + pair + j] = upAt(g, l, j);
      }
  const expected = new Float64Array(capacity * n).fill(FILL);
  let maxOut = 0;
  for (let r = 0; r < capacity; r++) {
    const g = rowGroup[r]!;
    if (g < 0) continue;
    for (let j = 0; j < n; j++) {
      let [v, u] = [0, 0];
      for (let l = 0; l < k; l++) {
        v += x[r * k + l]! * gateAt(g, l, j);
        u += x[r * k + l]! * upAt(g, l, j);
      }
      const out = opts.swiglu ? silu(v) * u : v;
      expected[r * n + j] = out;
      maxOut = Math.max(maxOut, Math.abs(out), Math.abs(v), Math.abs(u));
    }
  }
  const problem: GemmProblem = {
    m: capacity,
    n,
    k,
    batch: 1,
    dtype,
    a: { buffer: 'a', rows: { rowStride: kRow } },
    b: { buffer: 'b', rows: { rowStride: bRow } },
    c: { buffer: 'c', rows: { rowStride: n } },
    ...(opts.swiglu && { epilogue: { kind: 'swiglu' as const, pair } }),
    groups: { block: BLOCK, index: 'block_group', stride: k * bRow, count: 'total', rowIds: 'ids', sentinel: 1000 },
  };
  const plan = opts.plan ?? planGemm(problem, ctx, tiling);
  if (typeof plan === 'string') throw new Error(plan);
  const emitted = emitGemm(problem, plan, { name: 'grouped' }, ctx.limits);
  const decl = (name: string, type: BufferDecl['type'], data: Float32Array | Uint32Array): BufferDecl => ({
    name,
    role: 'activations',
    usage: 'storage',
    type,
    length: data.length,
    canary: CANARY,
    data,
  });
  const kernelCase: KernelCase = {
    buffers: [
      decl('a', dtype, a),
      decl('b', dtype, b),
      decl('c', dtype, new Float32Array(capacity * n).fill(FILL)),
      decl('block_group', 'u32', blockGroup),
      decl('total', 'u32', Uint32Array.of(total)),
      decl('ids', 'u32', ids),
      ...emitted.buffers,
    ],
    stages: [emitted.stage],
    checks: [{ buffer: 'c', shape: [capacity, n], expected: () => expected, tolerance: gemmTolerance(dtype, k, maxOut) }],
  };
  return { kernelCase, problem };
}

async function assertPasses(kernelCase: KernelCase, what: string): Promise<void> {
  const { checks } = await runChecked(kernelCase);
  for (const check of checks)
    assert.ok(
      check.passed,
      `${what}: ${check.mismatches} mismatches, worst [${check.worstIndex}] ${check.worstActual} vs ${check.worstExpected}`,
    );
}

// Plans the strategy would not pick: fewer rows per tile than a block, several tiles per block, wide column tiles.
const EXPLICIT: GemmPlan[] = [
  { kind: 'subgroup', wg: 16, tm: 4, tn: 1 },
  { kind: 'subgroup', wg: 8, tm: 2, tn: 2 },
  { kind: 'tiled', wgM: 4, wgN: 8, tm: 2, tn4: 1, bk4: 2 },
  { kind: 'tiled', wgM: 8, wgN: 16, tm: 1, tn4: 2, bk4: 4 },
];

for (const dtype of ['f32', 'f16'] as const) {
  for (const swiglu of [true, false]) {
    const what = swiglu ? 'SwiGLU' : 'plain';
    test(`grouped ${what} GEMM (${dtype}): B per block, padding rows and rows past the total neither read nor written`, async () => {
      const ctx = await context();
      for (const tiling of ['rows', 'workgroup'] as const) {
        const { kernelCase } = groupedCase(ctx, dtype, tiling, { swiglu });
        assert.equal(kernelCase.stages[0]!.entryPoint, 'main_grouped');
        assert.deepEqual(kernelCase.stages[0]!.bindings.slice(4), ['block_group', 'total', 'ids']);
        await assertPasses(kernelCase, `${tiling} ${kernelCase.stages[0]!.shader}`);
      }
      for (const plan of EXPLICIT) await assertPasses(groupedCase(ctx, dtype, 'rows', { swiglu, plan }).kernelCase, JSON.stringify(plan));
    });
  }
}

test('SwiGLU without groups (one expert, the host loop): rows from an offset, B from an offset', async () => {
  const ctx = await context();
  for (const dtype of ['f32', 'f16'] as const) {
    // Group 2 of the grouped case alone: its 11 rows at its start, its B at its offset, plain rows.
    const { problem, kernelCase } = groupedCase(ctx, dtype, 'rows', { swiglu: true });
    const { groups, ...plain } = problem;
    const start = 8;
    const one: GemmProblem = {
      ...plain,
      m: 11,
      a: { buffer: 'a', rows: { offset: start * problem.a.rows.rowStride, rowStride: problem.a.rows.rowStride } },
      b: { buffer: 'b', rows: { offset: 2 * groups!.stride, rowStride: problem.b.rows.rowStride } },
      c: { buffer: 'c', rows: { offset: start * problem.n, rowStride: problem.n } },
    };
    const expected = kernelCase.checks[0]!.expected() as Float64Array;
    const only = new Float64Array(expected.length).fill(FILL);
    only.set(expected.subarray(start * problem.n, (start + 11) * problem.n), start * problem.n);
    for (const tiling of ['rows', 'workgroup'] as const) {
      const plan = planGemm(one, ctx, tiling);
      if (typeof plan === 'string') throw new Error(plan);
      const emitted = emitGemm(one, plan, { name: 'expert' }, ctx.limits);
      assert.equal(emitted.stage.entryPoint, undefined);
      assert.equal(emitted.stage.bindings.length, 4);
      const single: KernelCase = {
        buffers: [...kernelCase.buffers.filter((b) => !b.name.endsWith('_params')), ...emitted.buffers],
        stages: [emitted.stage],
        checks: [{ ...kernelCase.checks[0]!, expected: () => only }],
      };
      await assertPasses(single, `${dtype} ${tiling} ${plan.kind}`);
    }
  }
});

test('kernels without grouped rows or the epilogue are refused with the reason; tiles must lie in one block', async () => {
  const ctx = await context();
  const { problem } = groupedCase(ctx, 'f32', 'rows', { swiglu: true });
  assert.match(
    planDefect(problem, { kind: 'gemv', wgN: 32, kSlices: 4, rows: 4 }, ctx) ?? '',
    /gemv kernel does not run the SwiGLU epilogue and grouped rows/,
  );
  assert.match(planDefect(problem, { kind: 'mla-gemm', wg: 32, tm: 4, tn: 1 }, ctx) ?? '', /mla-gemm kernel does not run/);
  assert.match(planDefect(problem, { kind: 'subgroup', wg: 8, tm: 3, tn: 1 }, ctx) ?? '', /a tile of 3 rows must lie in one block of 8/);
  assert.match(planDefect(problem, { kind: 'tiled', wgM: 16, wgN: 16, tm: 1, tn4: 1, bk4: 4 }, ctx) ?? '', /a tile of 16 rows/);
  // The strategy never picks them: the workgroup tiling's few-row GEMV preference falls through to tiled.
  const few = { ...problem, m: 3 };
  const plan = planGemm(few, ctx, 'workgroup');
  assert.ok(typeof plan !== 'string' && plan.kind === 'tiled', JSON.stringify(plan));
});
