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
  if (!minRow(p.b, roundUp4(p.n))) return `operand b: rows of n=${p.n} need a row stride >= ${roundUp4(p.n)} (whole vec4s)`;
  return null;
}

export const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;

/** Element index of row r of batch entry z. */
export function rowStart(rows: RowAddressing, z: number, r: number): number {
  const { offset = 0, batchStride = 0, rowStride, segment } = rows;
  const within = segment ? (r % segment.rows) * rowStride + Math.floor(r / segment.rows) * segment.stride : r * rowStride;
  return offset + z * batchStride + within;
}

/**
 * Compulsory work (MODELS.md's accounting): 2 m n k FLOPs per batch entry; every operand element read once
 * (a matrix shared across the batch, batchStride 0, once in all) and C written once.
 */
export function gemmWork(p: GemmProblem): Work {
  const elem = elementBytes(p.dtype);
  const copies = (operand: Operand) => (operand.rows.batchStride ? p.batch : 1);
  return {
    flops: 2 * p.batch * p.m * p.n * p.k,
    bytesRead: (copies(p.a) * p.m * p.k + copies(p.b) * p.k * p.n) * elem,
    bytesWritten: p.batch * p.m * p.n * elem,
  };
}
