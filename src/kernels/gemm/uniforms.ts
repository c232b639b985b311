import { SHADERS } from '../shaders.js';
import type { BufferDecl } from '../spec.js';
import { packStruct } from '../uniforms.js';
import { type GemmProblem, type RowAddressing } from './problem.js';

/** A segment as long as any row index: the rows are evenly spaced. */
const NO_SEGMENT = 0x7fffffff;

/** A row addressing as the shaders' Addr struct (kernels/include/mla_addr.wgsl's fields), scaled to `unit` elements. */
export function addrOf(rows: RowAddressing, unit = 1): { off: number; zs: number; outer: number; row: number; seg: number } {
  const strides = [rows.offset ?? 0, rows.batchStride ?? 0, rows.segment?.stride ?? 0, rows.rowStride];
  if (strides.some((w) => w % unit !== 0)) throw new Error(`gemm: ${JSON.stringify(rows)} is not in whole units of ${unit} elements`);
  const [off, zs, outer, row] = strides.map((w) => w / unit) as [number, number, number, number];
  return { off, zs, outer, row, seg: rows.segment?.rows ?? NO_SEGMENT };
}

/** The grid a plan lays over the output: column blocks x row blocks (x batch, the third dimension). */
export interface GemmGrid {
  colBlocks: number;
  rowBlocks: number;
}

export function gemmParamsWords(p: GemmProblem, grid: GemmGrid): Uint32Array {
  return packStruct(SHADERS.gemmTiled.params, {
    m: p.m,
    n: p.n,
    k: p.k,
    n4: Math.ceil(p.n / 4),
    k4: Math.ceil(p.k / 4),
    col_blocks: grid.colBlocks,
    row_blocks: grid.rowBlocks,
    batch: p.batch,
    a: addrOf(p.a.rows),
    b: addrOf(p.b.rows),
    c: addrOf(p.c.rows),
    pair: p.epilogue?.pair ?? 0,
    block: p.groups?.block ?? 1,
    group_stride: p.groups?.stride ?? 0,
    sentinel: p.groups?.sentinel ?? 0,
  });
}

export function uniformDecl(name: string, words: Uint32Array): BufferDecl {
  return { name, role: 'scratch', usage: 'uniform', type: 'u32', length: words.length, data: words };
}

/** Words of the fields that follow a problem's rows (m, the row blocks, A's and C's offsets), in gemmParamsWords. */
export const GEMM_ROW_WORDS = { m: 0, rowBlocks: 6, aOffset: 8, cOffset: 24 } as const;

/**
 * The words of the same problem over other rows: a copy of `words` with m, the row blocks and A's and C's offsets (in
 * elements) set. A host loop's per-dispatch uniform, without packing the whole struct again.
 */
export function withRows(words: Uint32Array, rows: { m: number; rowBlocks: number; aOffset: number; cOffset: number }): Uint32Array {
  const out = words.slice();
  out[GEMM_ROW_WORDS.m] = rows.m;
  out[GEMM_ROW_WORDS.rowBlocks] = rows.rowBlocks;
  out[GEMM_ROW_WORDS.aOffset] = rows.aOffset;
  out[GEMM_ROW_WORDS.cOffset] = rows.cOffset;
  return out;
}
