import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gemmParamsWords, withRows } from '../../src/kernels/gemm/uniforms.js';
import { workgroupBytes } from '../../src/kernels/gemm/strategy.js';
import {
  emitGemm,
  gemmRowsLaunch,
  gemmShape,
  gemmWork,
  planGemm,
  planGrid,
  problemDefect,
  rowStart,
  tiledPlan,
  type GemmDevice,
  type GemmProblem,
} from '../../src/kernels/gemm.js';
import { batchedMatmul, matmulRows } from '../../src/reference/gemm.js';

const problem = (over: Partial<GemmProblem> = {}): GemmProblem => ({
  m: 37,
  n: 45,
  k: 51,
  batch: 3,
  dtype: 'f32',
  a: { buffer: 'a', rows: { batchStride: 37 * 52, rowStride: 52 } },
  b: { buffer: 'b', rows: { batchStride: 51 * 48, rowStride: 48 } },
  c: { buffer: 'c', rows: { batchStride: 37 * 45, rowStride: 45 } },
  ...over,
});

test('params words: sizes, vec4 counts, the grid, then a, b, c addressing (evenly spaced rows: the segment never wraps)', () => {
  const words = gemmParamsWords(problem(), { colBlocks: 2, rowBlocks: 3 });
  assert.equal(words.length, 36);
  assert.deepEqual([...words.slice(0, 8)], [37, 45, 51, 12, 13, 2, 3, 3]);
  // The extensions' words: no SwiGLU pair, one block of rows, no group stride, no sentinel.
  assert.deepEqual([...words.slice(32)], [0, 1, 0, 0]);
  assert.deepEqual([...words.slice(8, 16)], [0, 37 * 52, 0, 52, 0x7fffffff, 0, 0, 0]);
  const segmented = gemmParamsWords(
    problem({ c: { buffer: 'c', rows: { offset: 4, rowStride: 45, segment: { rows: 7, stride: 1000 } } } }),
    { colBlocks: 1, rowBlocks: 1 },
  );
  assert.deepEqual([...segmented.slice(24, 29)], [4, 0, 1000, 45, 7]);
});

test('rowStart follows the segment rule the shaders use', () => {
  const rows = { offset: 3, batchStride: 100, rowStride: 10, segment: { rows: 4, stride: 1000 } };
  assert.equal(rowStart(rows, 2, 9), 3 + 200 + 2 * 1000 + 1 * 10);
  assert.equal(rowStart({ rowStride: 8 }, 5, 2), 16);
});

test('work: 2 m n k per batch entry; each operand read once, a shared one once in all', () => {
  const p = problem();
  assert.deepEqual(gemmWork(p), { flops: 2 * 3 * 37 * 45 * 51, bytesRead: (3 * 37 * 51 + 3 * 51 * 45) * 4, bytesWritten: 3 * 37 * 45 * 4 });
  const shared = gemmWork(problem({ a: { buffer: 'a', rows: { batchStride: 0, rowStride: 52 } }, dtype: 'f16' }));
  assert.equal(shared.bytesRead, (37 * 51 + 3 * 51 * 45) * 2);
});

test('problem defects: A and B rows in whole vec4s, wide enough for their padded rows', () => {
  assert.equal(problemDefect(problem()), null);
  assert.match(problemDefect(problem({ a: { buffer: 'a', rows: { rowStride: 51 } } })) ?? '', /whole vec4s/);
  assert.match(problemDefect(problem({ b: { buffer: 'b', rows: { rowStride: 44 } } })) ?? '', /row stride >= 48/);
  assert.equal(problemDefect(problem({ c: { buffer: 'c', rows: { offset: 3, rowStride: 45 } } })), null, 'C is written element by element');
  assert.match(problemDefect(problem({ k: 0 })) ?? '', /k=0/);
});

const GPU: GemmDevice = {
  limits: {
    maxComputeWorkgroupStorageSize: 16384,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupSizeY: 256,
    maxComputeWorkgroupsPerDimension: 65535,
  },
  features: new Set(['subgroups', 'shader-f16']),
  subgroupMinSize: 32,
};
const LAVAPIPE: GemmDevice = { ...GPU, limits: { ...GPU.limits, maxComputeWorkgroupStorageSize: 32768 }, subgroupMinSize: 8 };
const square = (size: number): GemmProblem => ({
  m: size,
  n: size,
  k: size,
  batch: 1,
  dtype: 'f32',
  a: { buffer: 'a', rows: { rowStride: size } },
  b: { buffer: 'b', rows: { rowStride: size } },
  c: { buffer: 'c', rows: { rowStride: size } },
});

test('strategy: CPU adapters get the subgroup kernel; GPUs a GEMV for up to 4 rows, workgroup tiles above', () => {
  assert.deepEqual(planGemm(square(1024), LAVAPIPE, 'rows'), { kind: 'subgroup', wg: 64, tm: 16, tn: 1 });
  assert.deepEqual(planGemm({ ...square(512), m: 1 }, LAVAPIPE, 'rows'), { kind: 'subgroup', wg: 64, tm: 1, tn: 2 });
  assert.deepEqual(planGemm({ ...square(128), m: 1 }, LAVAPIPE, 'rows'), { kind: 'subgroup', wg: 16, tm: 1, tn: 2 });
  // f16: a 16-byte unit of B is 8 columns, so half the lanes cover the row.
  assert.deepEqual(planGemm({ ...square(128), m: 1, dtype: 'f16' }, LAVAPIPE, 'rows'), { kind: 'subgroup', wg: 8, tm: 1, tn: 2 });
  assert.deepEqual(planGemm({ ...square(1024), dtype: 'f16' }, LAVAPIPE, 'rows'), { kind: 'subgroup', wg: 64, tm: 8, tn: 1 });
  // B rows of 124 f16 are not whole 16-byte units: the subgroup and GEMV kernels refuse them, the strategy falls
  // back to the tiled kernel, a forced kind says why not.
  assert.match(
    String(planGemm({ ...square(124), m: 1, dtype: 'f16' }, LAVAPIPE, 'rows', 'subgroup')),
    /16-byte units: its offsets and strides \(the SwiGLU pair and group stride too\) must be multiples of 8 f16/,
  );
  assert.equal((planGemm({ ...square(124), m: 1, dtype: 'f16' }, LAVAPIPE, 'rows') as { kind: string }).kind, 'tiled');
  assert.equal((planGemm({ ...square(124), m: 1, dtype: 'f16' }, GPU, 'workgroup') as { kind: string }).kind, 'tiled');
  assert.deepEqual(planGemm({ ...square(512), m: 3 }, GPU, 'workgroup'), { kind: 'gemv', wgN: 64, kSlices: 4, rows: 3 });
  assert.deepEqual(planGemm(square(4096), GPU, 'workgroup'), { kind: 'tiled', wgM: 16, wgN: 16, tm: 4, tn4: 2, bk4: 4 });
  // Balanced row blocks: 17 rows are two blocks of 9, not 16 + 1.
  assert.equal((planGemm({ ...square(64), m: 17 }, LAVAPIPE, 'rows') as { tm: number }).tm, 9);
  // No subgroups: the rows tiling falls back to the kernels that run anywhere.
  assert.equal((planGemm(square(256), { ...LAVAPIPE, features: new Set() }, 'rows') as { kind: string }).kind, 'tiled');
  assert.match(String(planGemm(square(256), { ...LAVAPIPE, features: new Set() }, 'rows', 'subgroup')), /no subgroups/);
});

test('strategy: decode-sized GEMMs trade register tiles for workgroups; staged tiles fit workgroup memory', () => {
  const small = tiledPlan({ ...square(512), m: 16 }, GPU.limits);
  const grid = planGrid({ ...square(512), m: 16 }, small);
  assert.ok(small.tm * small.wgM < 32 && small.tn4 === 1, JSON.stringify(small));
  assert.ok(grid.colBlocks * grid.rowBlocks >= 8);
  for (const size of [64, 256, 1024, 8192]) {
    const plan = planGemm(square(size), GPU, 'workgroup');
    assert.ok(
      typeof plan !== 'string' && workgroupBytes(plan, 'f32') <= GPU.limits.maxComputeWorkgroupStorageSize,
      `${size}: ${JSON.stringify(plan)}`,
    );
  }
  const tight = { ...GPU, limits: { ...GPU.limits, maxComputeWorkgroupStorageSize: 4096 } };
  const fitted = planGemm(square(4096), tight, 'workgroup');
  assert.ok(typeof fitted !== 'string' && workgroupBytes(fitted, 'f32') <= 4096, JSON.stringify(fitted));
  assert.match(
    String(planGemm({ ...square(512), m: 4 }, { ...GPU, limits: { ...GPU.limits, maxComputeWorkgroupStorageSize: 1024 } }, 'workgroup')),
    /workgroup memory/,
  );
});

test('emit: one dispatch over the caller buffers, its uniform named after the stage, work from the problem', () => {
  const p = problem();
  const plan = planGemm(p, LAVAPIPE, 'rows');
  assert.ok(typeof plan !== 'string');
  const { buffers, stage } = emitGemm(p, plan, { name: 'absorb-q', phase: 'absorb-q' }, GPU.limits);
  assert.deepEqual(stage.bindings, ['absorb-q_params', 'a', 'b', 'c']);
  assert.equal(buffers[0]?.name, 'absorb-q_params');
  assert.deepEqual(stage.sizes, { TM: 13, TN: 1, PACK: 1, DUAL: 1 });
  assert.equal(stage.entryPoint, undefined);
  assert.deepEqual(stage.workgroups, [3, 1, 3]);
  assert.deepEqual(stage.work, gemmWork(p));
});

/** An MoE expert gate-up over the padded layout: gate and up side by side (pair 48), B per block of 8 rows. */
const grouped = (over: Partial<GemmProblem> = {}): GemmProblem => ({
  m: 120,
  n: 45,
  k: 51,
  batch: 1,
  dtype: 'f32',
  a: { buffer: 'xp', rows: { rowStride: 52 } },
  b: { buffer: 'w', rows: { rowStride: 96 } },
  c: { buffer: 'act', rows: { rowStride: 45 } },
  epilogue: { kind: 'swiglu', pair: 48 },
  groups: { block: 8, index: 'block_expert', stride: 51 * 96, count: 'padded_total', rowIds: 'sorted_ids', sentinel: 77 },
  ...over,
});

test('grouped SwiGLU problems: defects, work of the rows that run, uniform words, the grouped entry point', () => {
  assert.equal(problemDefect(grouped()), null);
  assert.match(problemDefect(grouped({ epilogue: { kind: 'swiglu', pair: 44 } })) ?? '', /at or past the gate's 45 columns/);
  assert.match(problemDefect(grouped({ b: { buffer: 'w', rows: { rowStride: 64 } } })) ?? '', /rows of 90 columns need a row stride >= 96/);
  assert.match(problemDefect(grouped({ batch: 2 })) ?? '', /batch must be 1/);
  // Two products and the epilogue per real row; each used group's gate and up read once; padding rows are no work.
  assert.deepEqual(gemmWork(grouped(), { rows: 70, groups: 5 }), {
    flops: 2 * 2 * 70 * 45 * 51 + 4 * 70 * 45,
    bytesRead: (70 * 51 + 5 * 2 * 51 * 45) * 4,
    bytesWritten: 70 * 45 * 4,
  });
  const words = gemmParamsWords(grouped(), { colBlocks: 1, rowBlocks: 15 });
  assert.deepEqual([...words.slice(32)], [48, 8, 51 * 96, 77]);
  const plan = planGemm(grouped(), LAVAPIPE, 'rows');
  assert.ok(typeof plan !== 'string');
  const { stage } = emitGemm(grouped(), plan, { name: 'gate-up', work: { flops: 1, bytesRead: 2, bytesWritten: 3 } }, GPU.limits);
  assert.equal(stage.entryPoint, 'main_grouped');
  assert.deepEqual(stage.bindings, ['gate-up_params', 'xp', 'w', 'act', 'block_expert', 'padded_total', 'sorted_ids']);
  assert.equal(stage.sizes?.['DUAL'], 2);
  assert.deepEqual(stage.work, { flops: 1, bytesRead: 2, bytesWritten: 3 });
});

test('a host loop moves an emitted GEMM to other rows: the same words and grid as emitting it there', () => {
  const { groups, ...plain } = grouped();
  assert.ok(groups);
  const at = (m: number, first: number): GemmProblem => ({
    ...plain,
    m,
    a: { buffer: 'xp', rows: { offset: first * 52, rowStride: 52 } },
    c: { buffer: 'act', rows: { offset: first * 45, rowStride: 45 } },
  });
  const plan = planGemm(at(8, 0), LAVAPIPE, 'rows');
  assert.ok(typeof plan !== 'string');
  const words = emitGemm(at(8, 0), plan, { name: 'e' }, GPU.limits).buffers[0]!.data as Uint32Array;
  for (const [m, first] of [
    [3, 16],
    [21, 40],
  ] as const) {
    const moved = gemmRowsLaunch({ problem: at(8, 0), plan, words }, m, first, GPU.limits);
    const direct = emitGemm(at(m, first), plan, { name: 'e' }, GPU.limits);
    assert.deepEqual([...moved.words], [...(direct.buffers[0]!.data as Uint32Array)]);
    assert.deepEqual(moved.workgroups, direct.stage.workgroups);
  }
  assert.ok(withRows(words, { m: 1, rowBlocks: 1, aOffset: 0, cOffset: 0 }) !== words, 'a copy');
});

test('strategy for grouped SwiGLU: tiles within a block, accumulators of both matrices within budget', () => {
  // f32: 8 rows x 1 unit x 2 matrices = 16 accumulators; f16 units hold two vec4s: 4 rows.
  assert.deepEqual(planGemm(grouped(), LAVAPIPE, 'rows'), { kind: 'subgroup', wg: 16, tm: 8, tn: 1 });
  assert.deepEqual(planGemm(grouped({ dtype: 'f16', b: { buffer: 'w', rows: { rowStride: 96 } } }), LAVAPIPE, 'rows'), {
    kind: 'subgroup',
    wg: 8,
    tm: 4,
    tn: 1,
  });
  // Blocks of 24 rows: the largest divisor within the budget.
  assert.equal((planGemm(grouped({ groups: { ...grouped().groups!, block: 24 } }), LAVAPIPE, 'rows') as { tm: number }).tm, 8);
  const tiled = planGemm(grouped(), GPU, 'workgroup');
  assert.ok(typeof tiled !== 'string' && tiled.kind === 'tiled' && 8 % (tiled.wgM * tiled.tm) === 0, JSON.stringify(tiled));
  assert.ok(workgroupBytes(tiled, 'f32', 2) > workgroupBytes(tiled, 'f32', 1));
  // No grouping, one matrix: the plans of before.
  const { epilogue, groups, ...plain } = grouped();
  assert.ok(epilogue && groups);
  assert.deepEqual(planGemm({ ...plain, b: { buffer: 'w', rows: { rowStride: 48 } } }, LAVAPIPE, 'rows'), {
    kind: 'subgroup',
    wg: 16,
    tm: 15,
    tn: 1,
  });
});

test('shapes: the MLA and MoE products of DeepSeek-V2-Lite with their layouts', () => {
  assert.deepEqual(gemmShape({ op: 'up-project', model: 'deepseek-v2-lite', rows: 1024 }), {
    m: 1024,
    n: 256,
    k: 512,
    batch: 16,
    a: { row: 576, order: 'shared' },
    b: { row: 256 },
    c: { row: 256, order: 'batch-major' },
  });
  const absorbQ = gemmShape({ op: 'absorb-q', model: 'deepseek-v2-lite', rows: 1 });
  assert.ok(typeof absorbQ !== 'string');
  assert.deepEqual([absorbQ.m, absorbQ.n, absorbQ.k, absorbQ.batch, absorbQ.a.row, absorbQ.c.row], [1, 512, 128, 16, 192, 576]);
  const qProj = gemmShape({ op: 'q-proj', model: 'deepseek-v2', rows: 16 });
  assert.ok(typeof qProj !== 'string');
  assert.deepEqual([qProj.n, qProj.k], [128 * 192, 1536]);
  const gateUp = gemmShape({ op: 'expert-gate-up', model: 'deepseek-v3', rows: 32, batch: 8 });
  assert.ok(typeof gateUp !== 'string');
  assert.deepEqual([gateUp.n, gateUp.k, gateUp.batch], [4096, 7168, 8]);
  assert.match(String(gemmShape({ op: 'square', model: 'deepseek-v2', rows: 64 })), /model=none/);
  assert.match(String(gemmShape({ op: 'absorb-q', model: 'deepseek-v2', rows: 1, batch: 4 })), /own batch/);
  assert.ok(typeof gemmShape({ op: 'absorb-q', model: 'deepseek-v2', rows: 1, batch: 1 }) !== 'string');
});

test('float64 reference: rows picked in any order; a shared A', () => {
  const shape = { batch: 2, m: 2, n: 2, k: 3 };
  const a = [1, 2, 3, 4, 5, 6, /* z=1 */ 1, 0, 0, 0, 1, 0];
  const b = [1, 0, 0, 1, 1, 1, /* z=1 */ 2, 3, 4, 5, 6, 7];
  assert.deepEqual([...batchedMatmul(shape, a, b)], [4, 5, 10, 11, 2, 3, 4, 5]);
  assert.deepEqual(
    [
      ...matmulRows(shape, a, b, [
        [1, 1],
        [0, 0],
      ]),
    ],
    [4, 5, 4, 5],
  );
  assert.deepEqual([...matmulRows({ ...shape, sharedA: true }, a, b, [[1, 0]])], [2 + 8 + 18, 3 + 10 + 21]);
});
