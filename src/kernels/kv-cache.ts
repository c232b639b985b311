import type { DeviceLimits } from '../core/device-facts.js';
import type { Paging } from './attention-core.js';
import { poolBuffer } from './attention-core.js';
import { CANARY, ceilDiv, lazyInput, memo } from './build.js';
import {
  packedFill,
  pageCounts,
  pageTable,
  poolFill,
  poolLength,
  sequenceTable,
  splitPools,
  type CacheSource,
  type PageTable,
  type PoolSplit,
} from './kv-pages.js';
import { elementBytes, type BufferDecl, type Dtype } from './spec.js';

/**
 * A case's KV cache buffers, declared without host data: contiguous (one buffer, the packed layout) or paged (pool
 * buffers of pages, src/kernels/kv-pages.ts), each filled from its seeded source as it is uploaded, chunk by chunk.
 * A cache holds the same values either way, so a paged case and its contiguous twin see the same data.
 */

/** How a case lays its cache out: page size 0 is contiguous. */
export interface CachePlan {
  kvLens: readonly number[];
  /** Tokens per page; 0: contiguous. */
  pageSize: number;
  dtype: Dtype;
  /** Bytes of a stored token row of the widest cache (K or V: each has its own pools), for the pool split. */
  rowBytes: number;
  nKv: number;
  seed: number;
  /** Test hook: at most this many bytes per pool buffer (several buffers for a small cache). */
  maxPoolBytes?: number;
}

/** A paged layout: the kernels' view (Paging), the pool split, and the page table, made on first use. */
export interface PagedLayout {
  paging: Paging;
  split: PoolSplit;
  table: () => PageTable;
}

/** The paged layout of a plan, or why its pages do not fit a buffer. */
export function pagedLayout(
  plan: CachePlan,
  limits: Pick<DeviceLimits, 'maxStorageBufferBindingSize' | 'maxBufferSize'>,
): PagedLayout | string {
  const counts = pageCounts(plan.kvLens, plan.pageSize);
  const pageBytes = plan.pageSize * plan.nKv * plan.rowBytes;
  const elem = elementBytes(plan.dtype);
  const split = splitPools(counts.pageCount, pageBytes, limits, CANARY * elem, plan.maxPoolBytes);
  if (typeof split === 'string') return split;
  const tableEntries = plan.kvLens.reduce((n, len) => n + ceilDiv(len, plan.pageSize), 0);
  return {
    paging: { pageSize: plan.pageSize, poolPages: split.poolPages, pools: split.pools, tableEntries },
    split,
    table: memo(() => pageTable(plan.kvLens, plan.pageSize, plan.seed)),
  };
}

/** The sequence table (and, paged, the block table after it) as the `seqs` input, made on upload. */
export function sequenceBuffer(plan: CachePlan, layout: PagedLayout | undefined, canary: number): BufferDecl {
  const batch = plan.kvLens.length;
  const counts = layout && pageCounts(plan.kvLens, plan.pageSize);
  const length = 2 * batch + (counts ? batch * counts.maxPages : 0);
  return lazyInput('seqs', 'activations', 'u32', length, () => sequenceTable(plan.kvLens, layout?.table()), canary);
}

/** One cache (K, V or MLA's latent): pool 0's buffer name, its stored row stride and its values. */
export interface CacheBuffers {
  name: string;
  stride: number;
  source: () => CacheSource;
}

/** The cache's buffers: one contiguous buffer, or one per pool; role kv-cache, NaN canaries past the valid data. */
export function cacheBuffers(plan: CachePlan, layout: PagedLayout | undefined, cache: CacheBuffers): BufferDecl[] {
  const { kvLens, nKv, dtype } = plan;
  const decl = (name: string, length: number, fill: (start: number, out: Float32Array) => void): BufferDecl => ({
    name,
    role: 'kv-cache',
    usage: 'storage',
    type: dtype,
    length,
    canary: CANARY,
    fill,
  });
  if (!layout) {
    const rows = kvLens.reduce((a, b) => a + b, 0) * nKv;
    return [decl(cache.name, rows * cache.stride, (start, out) => packedFill(cache.source(), kvLens, nKv, cache.stride)(start, out))];
  }
  return Array.from({ length: layout.split.pools }, (_, pool) => {
    const paged = () => ({ pages: layout.table(), split: layout.split, nKv, stride: cache.stride, kvLens, source: cache.source() });
    const length = poolLength(
      {
        pages: { pageCount: pageCounts(kvLens, plan.pageSize).pageCount, pageSize: plan.pageSize },
        split: layout.split,
        nKv,
        stride: cache.stride,
      },
      pool,
    );
    return decl(poolBuffer(cache.name, pool), length, (start, out) => poolFill(paged(), pool)(start, out));
  });
}
