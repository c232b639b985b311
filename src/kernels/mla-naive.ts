import { seqStarts } from '../reference/mla.js';
import { attentionCore, type AttentionCore, type Paging, poolBuffer } from './attention-core.js';
import type { AttentionShape } from './attention.js';
import { CANARY, lazyInput, memo, SHORT_CANARY } from './build.js';
import type { Skip } from './family.js';
import { cacheBuffers, type CachePlan, pagedLayout, type PagedLayout, sequenceBuffer } from './kv-cache.js';
import { gatherStage } from './kv-gather.js';
import { pageCounts } from './kv-pages.js';
import { cachedTokens, latentCache, type LengthRun, lengthRuns, type MlaBuild, qInRows } from './mla-build.js';
import { expandCache, latentSource, newRows, transposeBlocks } from './mla-inputs.js';
import type { RowAddr, Rows } from './mla-stages.js';
import { elementBytes } from './spec.js';

/** Naive MLA's stages: the K/V it decompresses (latent cache, gathered pages, or the expanded cache) and its attend. */

/**
 * One GEMM set of naive MLA's up-projection: `m` latent rows from `src` into the K and V buffers `k`, `v`, addressed
 * by `dst(width)` for rows of `width` elements, z the head.
 */
interface UpProjection {
  m: number;
  src: Rows;
  k: string;
  v: string;
  dst: (width: number) => RowAddr;
}

/**
 * Naive MLA's K/V: the up-projections into them, the paging the attend reads them through, facts of a paged cache the
 * attend does not read itself (naive-latent's); or why none fits.
 */
type NaiveKv = { ups: UpProjection[]; paging?: Paging; facts?: Record<string, number> } | string;

/** Into the packed layout: `tokens` tokens from token `first` of each sequence of a run (its heads `len` tokens apart). */
function packedDst(run: LengthRun, H: number, tokens: number, first: number): (width: number) => RowAddr {
  return (width) => ({
    ...{ off: (run.start * H + first) * width, zs: run.len * width },
    ...{ row: width, outer: H * run.len * width, seg: tokens },
  });
}

/**
 * naive-latent: the latent cache is the input; the whole K/V is decompressed into scratch every step, from the cache
 * itself or, paged, from the contiguous workspace its pages are gathered into first.
 */
export function latentKv(b: MlaBuild): NaiveKv {
  const { spec, dtype, row, qW, kvLens } = b;
  const cached = cachedTokens(kvLens);
  const paged = spec.pageSize ? gatherLatent(b) : undefined;
  if (typeof paged === 'string') return paged;
  if (!paged) b.buffers.push(lazyInput('latent', 'kv-cache', dtype, cached * row, () => latentCache(b), CANARY));
  const src = paged ? LATENT_WORKSPACE : 'latent';
  b.act('k', cached * spec.dims.heads * qW, undefined, 'scratch');
  b.act('v', cached * spec.dims.heads * spec.dims.dV, undefined, 'scratch');
  const ups = lengthRuns(kvLens).map((run): UpProjection => ({
    ...{ m: run.count * run.len, k: 'k', v: 'v', dst: packedDst(run, spec.dims.heads, run.len, 0) },
    src: [src, { ...(run.start > 0 ? { off: run.start * row } : {}), row, outer: run.len * row, seg: run.len }],
  }));
  return { ups, ...(paged && { facts: paged }) };
}

/** The contiguous workspace a paged latent cache is gathered into (role scratch, like the K/V it is decompressed into). */
const LATENT_WORKSPACE = 'latent_ws';

/**
 * naive-latent over a paged cache: the latent pages (FlashMLA's [page][page_size][d_c + d_r], shuffled, over as many
 * buffers as the binding limit asks) with their block table `latent_pages`, and the gather stage that copies each
 * sequence's rows into the packed workspace, where the contiguous up-projection reads them (vLLM's gather_cache);
 * `seqs` stays the contiguous table the attend over K/V reads. Its paging facts, or why the pages fit no buffer.
 */
function gatherLatent(b: MlaBuild): Record<string, number> | string {
  const { spec, dtype, context, row, kvLens } = b;
  const plan: CachePlan = {
    ...{ kvLens, pageSize: spec.pageSize!, dtype, rowBytes: row * elementBytes(dtype), nKv: 1, seed: context.seed },
    ...(spec.maxPoolBytes !== undefined && { maxPoolBytes: spec.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  const { maxPages } = pageCounts(kvLens, plan.pageSize);
  b.buffers.push(lazyInput('latent_pages', 'activations', 'u32', kvLens.length * maxPages, () => layout.table().blockTable, SHORT_CANARY));
  const source = memo(() => latentSource(spec, b.inputs(), dtype));
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'latent', stride: row, source }));
  b.act(LATENT_WORKSPACE, cachedTokens(kvLens) * row, undefined, 'scratch');
  const io = { seqs: 'seqs', table: 'latent_pages', cache: 'latent', dst: LATENT_WORKSPACE };
  const gather = { name: 'kv-gather', phase: 'gather', dtype, kvLens, maxPages, paging: layout.paging, stride: row, io };
  b.list.add(gatherStage(gather, context.limits.maxComputeWorkgroupsPerDimension));
  return { pageSize: layout.paging.pageSize, kvPools: layout.paging.pools, poolPages: layout.paging.poolPages };
}

/** naive-expanded: the expanded K/V cache is the input; only the new tokens' latent rows are decompressed into it. */
export function expandedKv(b: MlaBuild): NaiveKv {
  const { spec, dtype, T, row, kvLens } = b;
  if (spec.pageSize) return pagedExpandedKv(b);
  const { heads: H, dNope, dRope, dV } = spec.dims;
  const tokens = cachedTokens(kvLens) * H;
  const expanded = memo(() => expandCache(spec, b.inputs(), dtype));
  b.buffers.push(lazyInput('k', 'kv-cache', dtype, tokens * (dNope + dRope), () => expanded().k, CANARY));
  b.buffers.push(lazyInput('v', 'kv-cache', dtype, tokens * dV, () => expanded().v, CANARY));
  b.act('latent_new', T * row, spec.layer === 'full' ? undefined : () => newRows(spec, b.inputs().latent));
  const S = spec.qLen;
  const ups = lengthRuns(kvLens).map((run): UpProjection => ({
    ...{ m: run.count * S, k: 'k', v: 'v', dst: packedDst(run, H, S, run.len - S) },
    src: ['latent_new', { ...(run.seq > 0 ? { off: run.seq * S * row } : {}), row }],
  }));
  return { ups };
}

/**
 * naive-expanded over a paged cache: K and V in pages [head][page_size][dim] (pools of their own, the block table in
 * `seqs`, as the attention family's), the host-expanded tokens filled through the table; the up-projection writes the
 * new tokens through the block table too: one GEMM set per (sequence, page) the new tokens fall in, its rows addressed
 * in that page's pool buffer.
 */
function pagedExpandedKv(b: MlaBuild): NaiveKv {
  const { spec, dtype, context, row, kvLens } = b;
  const { heads: H, dNope, dRope, dV } = spec.dims;
  const qW = dNope + dRope;
  const plan: CachePlan = {
    ...{ kvLens, pageSize: spec.pageSize!, dtype, rowBytes: Math.max(qW, dV) * elementBytes(dtype), nKv: H, seed: context.seed },
    ...(spec.maxPoolBytes !== undefined && { maxPoolBytes: spec.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  b.buffers[b.buffers.findIndex((buffer) => buffer.name === 'seqs')] = sequenceBuffer(plan, layout, SHORT_CANARY);
  const expanded = memo(() => expandCache(spec, b.inputs(), dtype));
  const starts = seqStarts(spec);
  const packed = (data: () => Float32Array, width: number) => () => ({
    ...{ data: data(), width },
    start: (s: number, g: number, t: number) => ((starts[s] as number) * H + g * (kvLens[s] as number) + t) * width,
  });
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'k', stride: qW, source: packed(() => expanded().k, qW) }));
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'v', stride: dV, source: packed(() => expanded().v, dV) }));
  b.act('latent_new', b.T * row, () => newRows(spec, b.inputs().latent));
  const ups = newTokenPages(kvLens, spec.qLen, layout).map((chunk): UpProjection => ({
    ...{ m: chunk.tokens, k: poolBuffer('k', chunk.pool), v: poolBuffer('v', chunk.pool) },
    src: ['latent_new', { ...(chunk.newRow > 0 ? { off: chunk.newRow * row } : {}), row }],
    dst: (width) => ({
      off: (chunk.page * H * layout.paging.pageSize + chunk.slot) * width,
      zs: layout.paging.pageSize * width,
      row: width,
    }),
  }));
  return { ups, paging: layout.paging };
}

/** New tokens sharing one page: `tokens` of them from slot `slot` of page `page` of pool `pool`, from latent_new row `newRow`. */
export interface PageChunk {
  pool: number;
  page: number;
  slot: number;
  tokens: number;
  newRow: number;
}

/** Where each sequence's q_len new tokens lie in a paged cache, page by page (none for an empty sequence). */
export function newTokenPages(kvLens: readonly number[], qLen: number, layout: Pick<PagedLayout, 'table' | 'paging'>): PageChunk[] {
  const { pageSize: P, poolPages } = layout.paging;
  const table = layout.table();
  const chunks: PageChunk[] = [];
  kvLens.forEach((len, seq) => {
    for (let t = len - qLen; len > 0 && t < len;) {
      const end = Math.min(len, (Math.floor(t / P) + 1) * P);
      const physical = table.blockTable[seq * table.maxPages + Math.floor(t / P)] as number;
      const [pool, page] = [Math.floor(physical / poolPages), physical % poolPages];
      chunks.push({ pool, page, slot: t % P, tokens: end - t, newRow: seq * qLen + t - (len - qLen) });
      t = end;
    }
  });
  return chunks;
}

/** The up-project stages of one GEMM set: k_nope and v through W_UK / W_UV, the shared k_rope broadcast to every head. */
function emitUpProjection(b: MlaBuild, up: UpProjection, suffix: string): void {
  const { qW, list } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = b.spec.dims;
  const at = (width: number, off: number): RowAddr => {
    const dst = up.dst(width);
    return { ...dst, off: (dst.off ?? 0) + off };
  };
  const up1 = (name: string, n: number, w: string, dst: string, width: number) =>
    list.gemm(name + suffix, 'up-project', {
      ...{ m: up.m, n, k: dC, z: H, a: up.src },
      ...{ b: [w, { zs: dC * n, row: n }] as Rows, c: [dst, at(width, 0)] as Rows },
    });
  up1('up-k', dNope, 'w_uk_t', up.k, qW);
  up1('up-v', dV, 'w_uv_t', up.v, dV);
  const ropeSrc: Rows = [up.src[0], { ...up.src[1], off: (up.src[1].off ?? 0) + dC }];
  list.rope('k-rope-broadcast' + suffix, 'up-project', {
    ...{ m: up.m, z: H, copy: dRope, rot: 0, posSeg: 1, src: ropeSrc },
    ...{ table: 'cos_sin', dst: [up.k, at(qW, dNope)] as Rows },
  });
}

/** Naive MLA: q assembled with RoPE, K/V decompressed (latent or expanded cache), the core at qk d_nope + d_r / v d_v. */
export function emitNaive(b: MlaBuild, cache: (b: MlaBuild) => NaiveKv): AttentionCore | Skip {
  const { spec, dtype, context, T, qW, list } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = spec.dims;
  const { batch, qLen: S } = spec;
  b.weights('w_uk_t', H * dNope * dC, () => transposeBlocks(b.inputs().weights.wUK, H, dNope, dC));
  b.weights('w_uv_t', H * dV * dC, () => transposeBlocks(b.inputs().weights.wUV, H, dV, dC));
  b.act('q', T * H * qW);
  list.rope('q-rope', 'q-rope', {
    m: T,
    z: H,
    copy: dNope,
    rot: dRope,
    posSeg: b.posSeg,
    src: ['q_in', qInRows(b, 0)],
    table: 'cos_sin',
    dst: ['q', qInRows(b, 0)],
  });
  const kv = cache(b);
  if (typeof kv === 'string') return { kind: 'skip', reason: kv };
  kv.ups.forEach((up, i) => emitUpProjection(b, up, kv.ups.length > 1 ? `-${i}` : ''));
  b.act('out', T * H * dV);
  const shape: AttentionShape = { batch, nQ: H, nKv: H, dQk: qW, dV, qLen: S, kvLens: b.kvLens, causal: true, scale: b.scale };
  const core = attentionCore(
    shape,
    dtype,
    context,
    { seqs: 'seqs', q: 'q', k: 'k', v: 'v', out: 'out', ...(kv.paging && { paging: kv.paging }) },
    { tiling: spec.tiling, phase: S <= 16 ? 'decode' : 'prefill' },
  );
  if (core.kind === 'skip') return core;
  list.add(core);
  return kv.facts ? { ...core, facts: { ...core.facts, ...kv.facts } } : core;
}
