import type { DeviceLimits } from '../core/device-facts.js';
import { attentionCore, type AttentionCore, type AttentionIo } from './attention-core.js';
import { type AttentionStrategy, subgroupRowsPlan, type SubgroupRowsPlan } from './attention-plans.js';
import type { AttentionShape } from './attention.js';
import { CANARY, lazyInput, memo, SHORT_CANARY } from './build.js';
import type { Skip } from './family.js';
import { cacheBuffers, type CachePlan, pagedLayout, sequenceBuffer } from './kv-cache.js';
import { latentCache, type MlaBuild, qInRows } from './mla-build.js';
import { latentSource, transposeBlocks } from './mla-inputs.js';
import type { RowAddr } from './mla-stages.js';
import { elementBytes } from './spec.js';

/** Absorbed MLA's stages: W_UK folded into the query, the attend over the latent cache in MQA shape, W_UV after. */

/**
 * The latent cache the absorbed attend reads as K (all d_c + d_r) and V (the first d_c): one contiguous buffer, or
 * pages of `pageSize` tokens in a shuffled order spread over as many buffers as the binding limit asks (FlashMLA's
 * [page][64][576]), with the block table after the sequence table in `seqs`; or why its pages fit no buffer.
 */
function latentCacheIo(b: MlaBuild): Pick<AttentionIo, 'k' | 'v' | 'vStride' | 'paging'> | string {
  const { spec, dtype, context, row } = b;
  const io = { k: 'latent', v: 'latent', vStride: row };
  if (!spec.pageSize) {
    const cached = Math.max(
      1,
      b.kvLens.reduce((a, n) => a + n, 0),
    );
    b.buffers.push(lazyInput('latent', 'kv-cache', dtype, cached * row, () => latentCache(b), CANARY));
    return io;
  }
  const plan: CachePlan = {
    ...{ kvLens: b.kvLens, pageSize: spec.pageSize, dtype, rowBytes: row * elementBytes(dtype), nKv: 1, seed: context.seed },
    ...(spec.maxPoolBytes !== undefined && { maxPoolBytes: spec.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  b.buffers[b.buffers.findIndex((buffer) => buffer.name === 'seqs')] = sequenceBuffer(plan, layout, SHORT_CANARY);
  const source = memo(() => latentSource(spec, b.inputs(), dtype));
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'latent', stride: row, source }));
  return { ...io, paging: layout.paging };
}

/** Absorbed MLA: W_UK folded into the query, the core over the latent cache in MQA shape, W_UV applied after. */
export function emitAbsorbed(b: MlaBuild): AttentionCore | Skip {
  const { spec, dtype, context, T, row, qW, list } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = spec.dims;
  const { batch, qLen: S } = spec;
  const cache = latentCacheIo(b);
  if (typeof cache === 'string') return { kind: 'skip', reason: cache };
  b.weights('w_uk', H * dNope * dC, () => b.inputs().weights.wUK);
  b.weights('w_uv_t', H * dV * dC, () => transposeBlocks(b.inputs().weights.wUV, H, dV, dC));
  b.act('q', T * H * row);
  b.act('o_lat', T * H * dC);
  b.act('out', T * H * dV);
  list.gemm('absorb-q', 'absorb-q', {
    m: T,
    n: dC,
    k: dNope,
    z: H,
    a: ['q_in', { zs: qW, row: H * qW }],
    b: ['w_uk', { zs: dNope * dC, row: dC }],
    c: ['q', { zs: row, row: H * row }],
  });
  const qRows: RowAddr = { off: dC, zs: row, row: H * row, outer: S * H * row, seg: S };
  list.rope('q-rope', 'q-rope', {
    m: T,
    z: H,
    copy: 0,
    rot: dRope,
    posSeg: b.posSeg,
    src: ['q_in', qInRows(b, dNope)],
    table: 'cos_sin',
    dst: ['q', qRows],
  });
  const shape: AttentionShape = { batch, nQ: H, nKv: 1, dQk: row, dV: dC, qLen: S, kvLens: b.kvLens, causal: true, scale: b.scale };
  const io = { seqs: 'seqs', q: 'q', out: 'o_lat', ...cache };
  const core = attentionCore(shape, dtype, context, io, {
    tiling: spec.tiling,
    phase: 'decode',
    ...(spec.tiling === 'rows' && { strategies: [absorbedRowsStrategy] }),
  });
  if (core.kind === 'skip') return core;
  list.add(core);
  list.gemm('absorb-o', 'absorb-o', {
    m: T,
    n: dV,
    k: dC,
    z: H,
    a: ['o_lat', { zs: dC, row: H * dC }],
    b: ['w_uv_t', { zs: dC * dV, row: dV }],
    c: ['out', { zs: dV, row: H * dV }],
  });
  return core;
}

/**
 * The absorbed attend on CPU adapters: the attention core's subgroup rows kernel
 * (kernels/attention_rows_subgroup.wgsl) over the latent cache, k and v the same rows (the core adds V_STRIDE4 =
 * the row stride), two query rows per invocation, the rows of a sequence in as few workgroups as fit.
 */
export function absorbedRowsPlan(
  shape: AttentionShape,
  limits: DeviceLimits,
  subgroupMinSize: number | undefined,
  rpi = 2,
): SubgroupRowsPlan | string {
  if (shape.nKv !== 1) return 'the absorbed attend is MQA-shaped (one latent KV head)';
  const plan = subgroupRowsPlan(shape, 'decode', limits, subgroupMinSize, { rpi });
  return typeof plan === 'string' ? `${plan} (tiling=workgroup runs anywhere)` : plan;
}

const absorbedRowsStrategy: AttentionStrategy = ({ shape, limits, subgroupMinSize }) => absorbedRowsPlan(shape, limits, subgroupMinSize);
