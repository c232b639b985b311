import { poolBuffer, type Paging } from './attention-core.js';
import { paramsUniform } from './build.js';
import { grid2d } from './family.js';
import { SHADERS } from './shaders.js';
import { elementBytes, type BufferDecl, type Dtype, type StageDecl } from './spec.js';

/**
 * A paged cache of one KV head gathered into a contiguous workspace in the packed layout (kernels/kv_gather.wgsl),
 * for a stage that reads its rows contiguously: vLLM's gather_cache ahead of naive MLA's up-projection.
 */
export interface PageGather {
  name: string;
  phase: string;
  dtype: Dtype;
  kvLens: readonly number[];
  /** Block-table entries per sequence. */
  maxPages: number;
  paging: Paging;
  /** Elements per row, in the cache and the workspace alike (a multiple of 4). */
  stride: number;
  /**
   * seqs: (kv length, first packed row) per sequence; table: the block table [batch][maxPages]; cache: pool 0 of the
   * cache (the further pools named by poolBuffer); dst: the workspace.
   */
  io: { seqs: string; table: string; cache: string; dst: string };
}

/** The gather's uniform and its one dispatch: a workgroup per (sequence, logical page), the valid rows copied once. */
export function gatherStage(g: PageGather, maxWorkgroupsPerDimension: number): { buffers: BufferDecl[]; stages: StageDecl[] } {
  const batch = g.kvLens.length;
  const rowBytes = g.stride * elementBytes(g.dtype);
  const tokens = g.kvLens.reduce((a, n) => a + n, 0);
  const params = `${g.name}_params`;
  const uniform = paramsUniform(params, SHADERS.kvGather, {
    ...{ batch, max_pages: g.maxPages },
    ...{ row4: g.stride / 4, pool_pages: g.paging.poolPages },
  });
  const stage: StageDecl = {
    name: g.name,
    phase: g.phase,
    shader: SHADERS.kvGather.file,
    dtype: g.dtype,
    constants: { WG: 64, PAGE: g.paging.pageSize },
    bindings: [params, g.io.seqs, g.io.table, g.io.cache, g.io.dst],
    pools: [
      { name: 'cache', buffers: Array.from({ length: g.paging.pools - 1 }, (_, i) => poolBuffer(g.io.cache, i + 1)), access: 'read' },
    ],
    workgroups: grid2d(batch * g.maxPages, maxWorkgroupsPerDimension),
    // The valid rows once each way, the block-table entries of the sequences' pages and the sequence table.
    work: { flops: 0, bytesRead: tokens * rowBytes + 4 * g.paging.tableEntries + 8 * batch, bytesWritten: tokens * rowBytes },
  };
  return { buffers: [uniform], stages: [stage] };
}
