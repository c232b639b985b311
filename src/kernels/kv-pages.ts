import type { DeviceLimits } from '../core/device-facts.js';
import { mulberry32 } from '../core/random.js';
import type { CacheRows } from '../reference/attention.js';
import { SEEDED_PERIOD, seededUniform } from '../reference/random.js';
import { kvStarts } from '../reference/attention.js';
import { ceilDiv } from './build.js';
import type { Dtype } from './spec.js';

/**
 * Paged KV caches, as serving engines keep them (vLLM's and FlashMLA's block tables, FlashInfer's page indices):
 * the cache is a pool of pages of `pageSize` tokens, each sequence's tokens fill the pages its block-table row
 * names, in a shuffled order (as an allocator leaves them after churn), with free pages between them. A page holds
 * [n_kv][pageSize][row] elements (KV head major: one head's tokens of a page are contiguous, FlashInfer's HND
 * layout; MLA's one latent head makes it FlashMLA's [page][64][576]). A cache past one storage binding spreads its
 * pages over several buffers ("pools"): page p lives in pool floor(p / poolPages), at page p mod poolPages there.
 */

/** A block-table entry past a sequence's pages. */
export const NO_PAGE = 0xffffffff;

export interface PageTable {
  readonly pageSize: number;
  /** Block-table entries per sequence: the longest sequence's pages. */
  readonly maxPages: number;
  /** Physical pages: the sequences' and the free ones between them. */
  readonly pageCount: number;
  /** [batch][maxPages]: the physical page of each logical page, NO_PAGE past a sequence's pages. */
  readonly blockTable: Uint32Array;
  /** Per physical page p: its sequence at [2p] and logical page at [2p + 1]; -1 for a free page. */
  readonly owners: Int32Array;
}

/** Free pages the allocator leaves between the used ones: about 1 in 32, at least one. */
function sparePages(used: number): number {
  return Math.max(1, Math.ceil(used / 32));
}

/** A page table's sizes, known before its table is made: pages per block-table row, used and all pages. */
export function pageCounts(kvLens: readonly number[], pageSize: number): { maxPages: number; used: number; pageCount: number } {
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new Error(`page size ${pageSize} must be a positive integer`);
  const pagesOf = kvLens.map((len) => ceilDiv(len, pageSize));
  const used = pagesOf.reduce((a, b) => a + b, 0);
  return { maxPages: Math.max(1, ...pagesOf), used, pageCount: used + sparePages(used) };
}

/** The pages of sequences of `kvLens` tokens, in a seeded shuffled order with free pages among them. */
export function pageTable(kvLens: readonly number[], pageSize: number, seed: number): PageTable {
  const { maxPages, pageCount } = pageCounts(kvLens, pageSize);
  const pagesOf = kvLens.map((len) => ceilDiv(len, pageSize));
  const order = Uint32Array.from({ length: pageCount }, (_, i) => i);
  const random = mulberry32(seed ^ 0x5eed9a9e);
  for (let i = pageCount - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const blockTable = new Uint32Array(kvLens.length * maxPages).fill(NO_PAGE);
  const owners = new Int32Array(2 * pageCount).fill(-1);
  let next = 0;
  pagesOf.forEach((pages, b) => {
    for (let j = 0; j < pages; j++) {
      const page = order[next++]!;
      blockTable[b * maxPages + j] = page;
      owners[2 * page] = b;
      owners[2 * page + 1] = j;
    }
  });
  return { pageSize, maxPages, pageCount, blockTable, owners };
}

/**
 * The sequence table the attend kernels read (binding `seqs`): per sequence its KV length and, for a contiguous
 * cache, its token offset in the packed layout, for a paged one the index of its block-table row in this same
 * buffer; then (paged) the block table. One buffer, so paging costs no storage binding.
 */
export function sequenceTable(kvLens: readonly number[], pages?: PageTable): Uint32Array {
  const batch = kvLens.length;
  const table = new Uint32Array(2 * batch + (pages ? pages.blockTable.length : 0));
  const starts = kvStarts(kvLens);
  kvLens.forEach((len, b) => {
    table[2 * b] = len;
    table[2 * b + 1] = pages ? 2 * batch + b * pages.maxPages : (starts[b] as number);
  });
  if (pages) table.set(pages.blockTable, 2 * batch);
  return table;
}

/** How a paged cache's pages spread over buffers: `poolPages` pages per buffer, `pools` buffers. */
export interface PoolSplit {
  readonly poolPages: number;
  readonly pools: number;
}

/**
 * As many pages per buffer as one storage binding (and one buffer) holds past `reserveBytes` (the canary), or
 * `maxPoolBytes` where asked, balanced over the fewest buffers; or why a page does not fit a buffer at all.
 */
export function splitPools(
  pageCount: number,
  pageBytes: number,
  limits: Pick<DeviceLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>,
  reserveBytes: number,
  maxPoolBytes = Infinity,
): PoolSplit | string {
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, maxPoolBytes) - reserveBytes;
  const perPool = Math.floor(limit / pageBytes);
  if (perPool < 1) return `a KV page of ${pageBytes} bytes does not fit one storage binding of ${limit + reserveBytes} bytes`;
  const pools = ceilDiv(pageCount, perPool);
  return { poolPages: ceilDiv(pageCount, pools), pools };
}

/** Pages of pool `pool` (the last one may hold fewer). */
export function poolPageCount(pages: Pick<PageTable, 'pageCount'>, split: PoolSplit, pool: number): number {
  return Math.max(0, Math.min(split.poolPages, pages.pageCount - pool * split.poolPages));
}

/** A cache's values by (sequence, KV head, token), `width` of them per row: CacheRows of that width. */
export interface CacheSource extends CacheRows {
  readonly data: Float32Array;
  readonly width: number;
}

/**
 * The values seededUniform(total, seed, dtype) would give an array of `total` elements laid out row after row
 * (row(b, g, t) its row index, `width` elements each), without the array: one period of seeded values (it repeats
 * past SEEDED_PERIOD elements), with a row's worth appended so that every row is contiguous in it.
 */
export function seededCache(
  total: number,
  width: number,
  seed: number,
  dtype: Dtype,
  row: (b: number, g: number, t: number) => number,
): CacheSource {
  const period = total > 2 ** 24 ? SEEDED_PERIOD : Math.max(1, total);
  const table = seededUniform(period, seed, dtype);
  const data = new Float32Array(period + width);
  data.set(table);
  for (let i = 0; i < width; i++) data[period + i] = table[i % period] as number;
  return { data, width, start: (b, g, t) => (row(b, g, t) * width) % period };
}

/** The logical row of (b, g, t) in the packed ragged layout ([batch][n_kv][token], see attention.ts). */
export function packedRow(kvLens: readonly number[], nKv: number): (b: number, g: number, t: number) => number {
  const starts = kvStarts(kvLens);
  return (b, g, t) => (starts[b] as number) * nKv + g * (kvLens[b] as number) + t;
}

/** Where pool rows come from: the pages, their split, the cache's KV heads, row stride and sequence lengths. */
export interface PagedCache {
  pages: PageTable;
  split: PoolSplit;
  nKv: number;
  /** Elements per stored row (the source's width rounded up to whole vec4s). */
  stride: number;
  kvLens: readonly number[];
  source: CacheSource;
}

/** Elements of pool `pool`: its pages x n_kv x page size rows of `stride`. */
export function poolLength(
  cache: Pick<PagedCache, 'split' | 'nKv' | 'stride'> & { pages: Pick<PageTable, 'pageCount' | 'pageSize'> },
  pool: number,
): number {
  return poolPageCount(cache.pages, cache.split, pool) * cache.nKv * cache.pages.pageSize * cache.stride;
}

/**
 * The contents of pool `pool`, element range by element range (BufferDecl.fill): each row the source's values, zero
 * padded to the stride; NaN in free pages and in the slots past a sequence's last token (its last, partial page).
 */
export function poolFill(cache: PagedCache, pool: number): (start: number, out: Float32Array) => void {
  const { pages, split, nKv, stride, kvLens, source } = cache;
  const size = pages.pageSize;
  return (start, out) => {
    const end = start + out.length;
    for (let e = start; e < end;) {
      const row = Math.floor(e / stride);
      const col = e - row * stride;
      const n = Math.min(stride - col, end - e);
      const slot = row % size;
      const g = Math.floor(row / size) % nKv;
      const page = pool * split.poolPages + Math.floor(row / (size * nKv));
      const seq = pages.owners[2 * page] as number;
      const t = (pages.owners[2 * page + 1] as number) * size + slot;
      const at = e - start;
      if (seq < 0 || t >= (kvLens[seq] as number)) {
        out.fill(NaN, at, at + n);
      } else {
        const base = source.start(seq, g, t);
        for (let c = col; c < col + n; c++) out[at + c - col] = c < source.width ? (source.data[base + c] as number) : 0;
      }
      e += n;
    }
  };
}

/** Rows of a contiguous cache in the packed layout, stored `stride` apart, element range by element range. */
export function packedFill(
  source: CacheSource,
  kvLens: readonly number[],
  nKv: number,
  stride: number,
): (start: number, out: Float32Array) => void {
  const firstRows = kvStarts(kvLens).map((start) => start * nKv);
  return (start, out) => {
    const end = start + out.length;
    let b = 0;
    for (let e = start; e < end;) {
      const row = Math.floor(e / stride);
      const col = e - row * stride;
      const n = Math.min(stride - col, end - e);
      while (b + 1 < kvLens.length && row >= (firstRows[b + 1] as number)) b++;
      while (b > 0 && row < (firstRows[b] as number)) b--;
      const inSeq = row - (firstRows[b] as number);
      const len = kvLens[b] as number;
      const base = source.start(b, Math.floor(inSeq / len), inSeq % len);
      for (let c = col; c < col + n; c++) out[e - start + c - col] = c < source.width ? (source.data[base + c] as number) : 0;
      e += n;
    }
  };
}
