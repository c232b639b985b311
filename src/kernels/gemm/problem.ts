import { elementBytes, type Dtype, type Work } from '../spec.js';

/**
 * Where the rows of a batched matrix operand live in its buffer, in elements: row `r` of batch entry `z` starts at
 *   offset + z * batchStride + floor(r / segment.rows) * segment.stride + (r % segment.rows) * rowStride
 * so a caller can read or write straight into another stage's layout (the attention core's
 * [batch][head][token][dim] K, one head's slice of a [token][head][dim] row, a cache slot ...). Without a
 * segment the rows are evenly spaced; batchStride 0 shares one matrix across the batch (a weight every head uses).
 */
export interface RowAddressing {
  offset?: number;
  batchStride?: number;
  rowStride: number;
  /** `rows` consecutive rows `rowStride` apart, segments `stride` apart (e.g. the tokens of one sequence). */
  segment?: { rows: number; stride: number };
}

/** A matrix operand: a buffer bound to the stage and the addressing of its rows. */
export interface Operand {
  buffer: string;
  rows: RowAddressing;
}

/**
 * C[z] = A[z] B[z] for z < batch: A is m x k (rows of k), B is k x n (rows of n: n fastest, as weights are stored
 * for a contiguous walk along the output columns), C is m x n; f32 accumulation, storage in `dtype`.
 * A and B rows are read as whole vec4s, so their offsets and strides are multiples of 4 elements (a row of k or
 * n that is not a multiple of 4 is padded to one, and the padding is never used); the subgroup and GEMV kernels
 * read B in 16-byte units, 8 elements in f16 (planDefect says so). C is written element by element at any offset
 * and stride. m, n and k are any positive sizes.
 */
export interface GemmProblem {
  m: number;
  n: number;
  k: number;
  batch: number;
  dtype: Dtype;
  a: Operand;
  b: Operand;
  c: Operand;
  /** What is stored instead of A B (absent: A B itself). */
  epilogue?: SwigluEpilogue;
  /** Rows in groups, each multiplying its own B (absent: one B per batch entry). */
  groups?: GemmGroups;
}

/**
 * An MoE expert's gate and up projections in one pass: C = silu(A B) * (A B'), B' the matrix `pair` elements after B
 * in B's buffer (gate and up weights side by side in each row: [k][gate n | up n]). Every A value a kernel loads feeds
 * both products, and C (the activation) is written once instead of two intermediate matrices.
 */
export interface SwigluEpilogue {
  kind: 'swiglu';
  pair: number;
}

/**
 * Rows grouped by the B they multiply, with the group of each block of rows in a GPU buffer (vLLM's fused MoE over
 * moe_align_block_size's layout): m is an upper bound (the layout's capacity); only the rows below word 0 of `count`
 * (the padded total, written by an earlier stage) run, so nothing is read back; block `r / block` multiplies the B
 * whose rows start at `b.offset + index[r / block] * stride`; and a row whose `rowIds` entry is `>= sentinel` is
 * padding, never read (its A row counts as zeros) and never written. Batch is 1.
 */
export interface GemmGroups {
  block: number;
  /** u32 buffer: the group (B matrix) of each block of rows. */
  index: string;
  /** Elements between consecutive groups' B matrices. */
  stride: number;
  /** u32 buffer whose word 0 bounds the rows run. */
  count: string;
  /** u32 buffer: one id per row, `sentinel` or above on padding rows. */
  rowIds: string;
  sentinel: number;
}

/** The storage buffers a grouped GEMM binds after C (bindings 4, 5, 6 of kernels/include/gemm_common.wgsl). */
export const groupBindings = (g: GemmGroups): string[] => [g.index, g.count, g.rowIds];

/** Matrices B per problem: 2 with the SwiGLU epilogue (gate and up), else 1. */
export const bMatrices = (p: Pick<GemmProblem, 'epilogue'>): 1 | 2 => (p.epilogue?.kind === 'swiglu' ? 2 : 1);

function extensionDefect(p: GemmProblem): string | null {
  const { epilogue, groups } = p;
  if (epilogue && (!Number.isInteger(epilogue.pair) || epilogue.pair < roundUp4(p.n) || epilogue.pair % 4 !== 0))
    return `swiglu: the up matrix must start a whole vec4 at or past the gate's ${p.n} columns (pair=${epilogue.pair})`;
  if (!groups) return null;
  if (p.batch !== 1) return `grouped rows take their B from the group index: batch must be 1, got ${p.batch}`;
  if (!Number.isInteger(groups.block) || groups.block < 1) return `groups: block=${groups.block} must be a positive integer`;
  if (!Number.isInteger(groups.stride) || groups.stride < 0 || groups.stride % 4 !== 0)
    return `groups: stride=${groups.stride} must be whole vec4s (a multiple of 4 elements)`;
  if (!Number.isInteger(groups.sentinel) || groups.sentinel < 0)
    return `groups: sentinel=${groups.sentinel} must be a non-negative integer`;
  return null;
}

/** Why the problem's sizes or addressing cannot be run, or null. */
export function problemDefect(p: GemmProblem): string | null {
  for (const [name, value] of Object.entries({ m: p.m, n: p.n, k: p.k, batch: p.batch })) {
    if (!Number.isInteger(value) || value < 1) return `${name}=${value} must be a positive integer`;
  }
  for (const [name, operand] of [
    ['a', p.a],
    ['b', p.b],
  ] as const) {
    const { offset = 0, batchStride = 0, rowStride, segment } = operand.rows;
    const strides = [offset, batchStride, rowStride, segment?.stride ?? 0];
    if (strides.some((s) => s % 4 !== 0))
      return `operand ${name} (${operand.buffer}): offsets and strides must be whole vec4s (multiples of 4 elements), got ${JSON.stringify(operand.rows)}`;
  }
  for (const [name, operand] of [
    ['a', p.a],
    ['b', p.b],
    ['c', p.c],
  ] as const) {
    const { offset = 0, batchStride = 0, rowStride, segment } = operand.rows;
    if ([offset, batchStride, rowStride, segment?.stride ?? 0].some((s) => !Number.isInteger(s) || s < 0))
      return `operand ${name}: offsets and strides must be non-negative integers`;
    if (segment && (!Number.isInteger(segment.rows) || segment.rows < 1)) return `operand ${name}: a segment needs >= 1 rows`;
  }
  const minRow = (operand: Operand, width: number) => operand.rows.rowStride >= width || (operand === p.b ? p.k : p.m) === 1;
  if (!minRow(p.a, roundUp4(p.k))) return `operand a: rows of k=${p.k} need a row stride >= ${roundUp4(p.k)} (whole vec4s)`;
  const bWidth = p.epilogue ? p.epilogue.pair + roundUp4(p.n) : roundUp4(p.n);
  if (!minRow(p.b, bWidth)) return `operand b: rows of ${bMatrices(p) * p.n} columns need a row stride >= ${bWidth} (whole vec4s)`;
  return extensionDefect(p);
}

export const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Element index of row r of batch entry z. */
export function rowStart(rows: RowAddressing, z: number, r: number): number {
  const { offset = 0, batchStride = 0, rowStride, segment } = rows;
  const within = segment ? (r % segment.rows) * rowStride + Math.floor(r / segment.rows) * segment.stride : r * rowStride;
  return offset + z * batchStride + within;
}

/** FLOPs per output element of the SwiGLU epilogue: silu(g) = g / (1 + exp(-g)) (exp, add, divide), times up. */
export const SWIGLU_FLOPS = 4;

/**
 * Compulsory work (MODELS.md's accounting): 2 m n k FLOPs per batch entry and B matrix (two with the SwiGLU
 * epilogue, plus its 4 per output); every operand element read once (a matrix shared across the batch, batchStride
 * 0, once in all) and C written once. `rows` and `groups` count the rows and B matrices that really run where the
 * problem is grouped (its m is only a bound; the caller knows its layout): the padding rows are overhead, not work.
 */
export function gemmWork(p: GemmProblem, used: { rows: number; groups: number } = { rows: p.m, groups: 1 }): Work {
  const elem = elementBytes(p.dtype);
  const copies = (operand: Operand) => (operand.rows.batchStride ? p.batch : 1);
  const mats = bMatrices(p);
  const rows = used.rows;
  return {
    flops: 2 * p.batch * rows * p.n * p.k * mats + (p.epilogue ? SWIGLU_FLOPS * p.batch * rows * p.n : 0),
    bytesRead: (copies(p.a) * rows * p.k + copies(p.b) * used.groups * mats * p.k * p.n) * elem,
    bytesWritten: p.batch * rows * p.n * elem,
  };
}
