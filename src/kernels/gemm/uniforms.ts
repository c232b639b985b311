import type { BufferDecl } from '../spec.js';
import { type GemmProblem, type RowAddressing } from './problem.js';

/**
 * The uniform block of the gemm kernels (kernels/gemm_*.wgsl), declared once: the WGSL structs `Addr` and
 * `Params` must list these fields in this order, all u32 (a unit test reads them out of each shader).
 */
export const ADDR_FIELDS = ['off', 'zs', 'outer', 'row', 'seg', '_p0', '_p1', '_p2'] as const;
export const PARAMS_FIELDS = ['m', 'n', 'k', 'n4', 'k4', 'col_blocks', 'row_blocks', 'batch', 'a: Addr', 'b: Addr', 'c: Addr'] as const;

/** A segment as long as any row index: the rows are evenly spaced. */
const NO_SEGMENT = 0x7fffffff;

function addrWords(rows: RowAddressing): number[] {
  return [rows.offset ?? 0, rows.batchStride ?? 0, rows.segment?.stride ?? 0, rows.rowStride, rows.segment?.rows ?? NO_SEGMENT, 0, 0, 0];
}

/** The grid a plan lays over the output: column blocks x row blocks (x batch, the third dimension). */
export interface GemmGrid {
  colBlocks: number;
  rowBlocks: number;
}

export function gemmParamsWords(p: GemmProblem, grid: GemmGrid): Uint32Array {
  const head = [p.m, p.n, p.k, Math.ceil(p.n / 4), Math.ceil(p.k / 4), grid.colBlocks, grid.rowBlocks, p.batch];
  const words = [...head, ...addrWords(p.a.rows), ...addrWords(p.b.rows), ...addrWords(p.c.rows)];
  if (words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) throw new Error(`gemm: a size or stride does not fit a u32: ${words.join(', ')}`);
  return Uint32Array.from(words);
}

export function uniformDecl(name: string, words: Uint32Array): BufferDecl {
  return { name, role: 'scratch', usage: 'uniform', type: 'u32', length: words.length, data: words };
}
