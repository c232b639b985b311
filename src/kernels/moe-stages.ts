import type { AlignedLayout, MoeShape } from '../reference/moe.js';
import { ceilDiv } from './build.js';
import type { GemmTiling } from './gemm.js';
import { grid2d } from './family.js';
import { groupedFfn, hostLoopFfn, sharedFfn, type FfnContext } from './moe-ffn.js';
import { SHADERS, type Shader } from './shaders.js';
import { elementBytes, type BufferDecl, type Dtype, type HostTail, type StageDecl, type TailDispatch, type Work } from './spec.js';
import type { TunableSlot } from './tunable.js';

/**
 * The MoE step's stages (kernels/moe_*.wgsl): route, align, permute, expert FFN (the GEMM family, src/kernels/moe-ffn.ts)
 * and combine, and the two ways of dispatching the expert FFN (grouped on the GPU, or a host loop over the experts).
 */

export const MOE_DISPATCHES = ['gpu', 'host-loop'] as const;
export type MoeDispatch = (typeof MOE_DISPATCHES)[number];

/**
 * How one MoE step runs: 'gpu' keeps it all on the GPU (the expert FFN grouped over the padded layout),
 * 'host-loop' reads the per-expert counts back and dispatches each expert's FFN from the host. Both align the
 * pairs into blocks of `block` rows and count them in chunks of `chunk` pairs.
 */
export interface MoePlan {
  readonly kind: MoeDispatch;
  readonly block: number;
  readonly chunk: number;
}

/**
 * Rows per expert block where the case does not fix it (vLLM's BLOCK_SIZE_M; the grouped GEMMs' row tiles lie within
 * a block). GPUs (tiling workgroup): vLLM fused_moe's default, 64, or 16 where the step has no more tokens than experts
 * (each expert then holds a few rows, and most of a 64-row block would be padding the tiles still compute). CPU
 * adapters (tiling rows): 8, what the subgroup kernel's row groups take.
 */
export function defaultBlock(shape: Pick<MoeShape, 'tokens' | 'experts'>, tiling: GemmTiling): number {
  if (tiling === 'rows') return 8;
  return shape.tokens <= shape.experts ? 16 : 64;
}

/** The plan for a dispatch and block size: align chunks of >= 32 pairs, at most 256 of them. */
export function planMoe(shape: MoeShape, dispatch: MoeDispatch, block: number): MoePlan {
  return { kind: dispatch, block, chunk: Math.max(32, ceilDiv(shape.tokens * shape.topK, 256)) };
}

/** A step's sizes as its kernels see them: the shape, the plan and the routing's padded layout. */
export interface MoeGeometry {
  shape: MoeShape;
  dtype: Dtype;
  plan: MoePlan;
  layout: AlignedLayout;
  pairs: number;
  chunks: number;
  hidden4: number;
  sharedInter: number;
  maxDim: number;
  /** The expert FFN's sizes, device, GEMM tiling and given plans. */
  ffn: FfnContext;
}

const w = (flops: number, bytesRead: number, bytesWritten: number): Work => ({ flops, bytesRead, bytesWritten });

function stage(
  g: MoeGeometry,
  phase: string,
  name: string,
  shader: Shader,
  fields: Pick<StageDecl, 'constants' | 'bindings' | 'workgroups' | 'work'>,
): StageDecl {
  return { name, phase, shader: shader.file, dtype: g.dtype, ...fields };
}

/** Router logits and keys per (token, expert), then top-k and gates per token. */
export function routeStages(g: MoeGeometry): StageDecl[] {
  const { tokens, experts, hidden } = g.shape;
  const el = elementBytes(g.dtype);
  const sigmoid = g.shape.scoreFunction === 'sigmoid' ? 1 : 0;
  return [
    stage(g, 'route', 'logits', SHADERS.moeLogits, {
      constants: { WG: 64, SIGMOID: sigmoid },
      bindings: ['route_params', 'x', 'gate', 'bias', 'logits', 'keys'],
      workgroups: grid2d(ceilDiv(tokens * experts, 64), g.maxDim),
      work: w(2 * tokens * experts * hidden, (tokens * hidden + hidden * experts) * el + experts * 4, 2 * tokens * experts * 4),
    }),
    stage(g, 'route', 'select', SHADERS.moeSelect, {
      constants: { WG: 16, SIGMOID: sigmoid, RENORMALIZE: g.shape.renormalize ? 1 : 0 },
      bindings: ['route_params', 'logits', 'keys', 'topk_ids', 'topk_weights'],
      workgroups: grid2d(ceilDiv(tokens, 16), g.maxDim),
      work: w(2 * tokens * experts, 2 * tokens * experts * 4, g.pairs * 8),
    }),
  ];
}

/** Per-chunk expert histograms, then one workgroup's scan into the block-padded layout. */
export function alignStages(g: MoeGeometry): StageDecl[] {
  const { experts } = g.shape;
  const { capacity } = g.layout;
  const histBytes = g.chunks * experts * 4;
  return [
    stage(g, 'align', 'count', SHADERS.moeCount, {
      constants: { WG: 8 },
      bindings: ['align_params', 'topk_ids', 'hist'],
      workgroups: [ceilDiv(g.chunks, 8)],
      work: w(0, g.pairs * 4, histBytes),
    }),
    stage(g, 'align', 'scan', SHADERS.moeScan, {
      constants: { WG: 256 },
      bindings: ['align_params', 'hist', 'expert_counts', 'expert_starts', 'sorted_ids', 'block_expert', 'padded_total', 'chunk_rows'],
      workgroups: [1],
      work: w(0, 2 * histBytes, histBytes + (capacity - g.pairs) * 4 + (capacity / g.plan.block + 2 * experts + 2) * 4),
    }),
  ];
}

/** Pairs into the expert-contiguous layout, then the activation rows gathered into it. */
export function permuteStages(g: MoeGeometry): StageDecl[] {
  const histBytes = g.chunks * g.shape.experts * 4;
  const pairBytes = g.pairs * g.shape.hidden * elementBytes(g.dtype);
  return [
    stage(g, 'permute', 'scatter', SHADERS.moeScatter, {
      constants: { WG: 8 },
      bindings: ['align_params', 'topk_ids', 'chunk_rows', 'sorted_ids', 'positions', 'cursor'],
      workgroups: [ceilDiv(g.chunks, 8)],
      work: w(0, g.pairs * 4 + histBytes, g.pairs * 8 + histBytes),
    }),
    stage(g, 'permute', 'gather', SHADERS.moeGather, {
      constants: { WG: 64 },
      bindings: ['align_params', 'x', 'sorted_ids', 'padded_total', 'xp'],
      workgroups: grid2d(ceilDiv(g.layout.capacity * g.hidden4, 64), g.maxDim),
      work: w(0, pairBytes + g.layout.capacity * 4, pairBytes),
    }),
  ];
}

/** Shared output + gate-weighted expert rows, in token order. */
export function combineStage(g: MoeGeometry): StageDecl {
  const { tokens, hidden, shared } = g.shape;
  const el = elementBytes(g.dtype);
  const pairBytes = g.pairs * hidden * el;
  return stage(g, 'combine', 'combine', SHADERS.moeCombine, {
    constants: { WG: 64, HAS_SHARED: shared > 0 ? 1 : 0 },
    bindings: ['combine_params', 'topk_weights', 'positions', 'yp', 'ys', 'out'],
    workgroups: grid2d(ceilDiv(tokens * g.hidden4, 64), g.maxDim),
    work: w(
      2 * g.pairs * hidden + (shared > 0 ? tokens * hidden : 0),
      pairBytes + (shared > 0 ? tokens * hidden * el : 0) + g.pairs * 8,
      tokens * hidden * el,
    ),
  });
}

/** A plan's stages after route, align and permute: static ones, the host tail's templates, and their uniforms. */
export interface DispatchStages {
  stages: StageDecl[];
  /** Uniforms beyond the fixed ones (the FFN GEMMs'). */
  uniforms: BufferDecl[];
  /** The FFN GEMMs' plans as tunable slots, and their plans as facts. */
  tunables: TunableSlot[];
  facts: Record<string, string>;
  hostTail?: HostTail;
}

/** Grouped: the routed experts in one gate-up and one down GEMM over the padded layout, then the shared experts. */
function gpuDispatch(g: MoeGeometry): DispatchStages {
  const routed = groupedFfn(g.ffn, g.layout.counts.filter((c) => c > 0).length);
  const shared = sharedFfn(g.ffn);
  return {
    stages: [...routed.stages, ...shared.stages, combineStage(g)],
    uniforms: [...routed.buffers, ...shared.buffers],
    tunables: [...routed.tunables, ...shared.tunables],
    facts: { ...routed.facts, ...shared.facts },
  };
}

/** Host loop: per-expert GEMM pairs planned from the counts read back, then the shared experts and combine. */
function hostLoopDispatch(g: MoeGeometry): DispatchStages {
  const loop = hostLoopFfn(g.ffn, g.layout.counts);
  const shared = sharedFfn(g.ffn);
  const fixed = [...shared.stages, combineStage(g)];
  const templates = [...loop.stages, ...fixed];
  const plan = (counts: Uint32Array): TailDispatch[] => [
    ...loop.plan(counts),
    ...fixed.map((stage, i) => ({ template: loop.stages.length + i, workgroups: stage.workgroups })),
  ];
  return {
    stages: [],
    uniforms: [...loop.buffers, ...shared.buffers],
    tunables: [...loop.tunables, ...shared.tunables],
    facts: { ...loop.facts, ...shared.facts },
    hostTail: { readback: 'expert_counts', words: g.shape.experts, templates, plan },
  };
}

/** Each plan kind's stages after permute (adding a dispatch strategy is adding an emitter). */
export const DISPATCH_EMITTERS: Record<MoeDispatch, (g: MoeGeometry) => DispatchStages> = {
  gpu: gpuDispatch,
  'host-loop': hostLoopDispatch,
};
