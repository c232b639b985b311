import type { AlignedLayout, MoeShape } from '../reference/moe.js';
import { ceilDiv, paramsUniform, pow2Ceil } from './build.js';
import { grid2d } from './family.js';
import { SHADERS, type Shader } from './shaders.js';
import { elementBytes, type BufferDecl, type Dtype, type HostTail, type StageDecl, type TailDispatch, type Work } from './spec.js';

/**
 * The MoE step's stages (kernels/moe_*.wgsl): route, align, permute, expert FFN and combine, and the two ways of
 * dispatching the expert FFN (grouped on the GPU, or a host loop over the experts).
 */

/** Rows per FFN tile (RT in kernels/include/moe_ffn_tiles.wgsl); the block size must be a multiple of it. */
export const FFN_TILE_ROWS = 8;

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

/** Invocations per FFN workgroup: one per vec4 column, 8 to 64. */
function ffnWorkgroup(columns4: number): number {
  return Math.min(64, Math.max(8, pow2Ceil(columns4)));
}

/** MODE of the FFN kernels: 0 grouped over the padded layout, 1 one expert (host loop), 2 dense (shared experts). */
type FfnMode = 0 | 1 | 2;

/** One FFN dispatch: its uniform, mode, tiles of FFN_TILE_ROWS rows (0: planned by the host) and work. */
interface FfnStage {
  name: string;
  uniform: string;
  mode: FfnMode;
  tiles: number;
  work: Work;
}

/** An FFN kernel's buffers: input rows, weights, output, and the output's vec4 columns (one invocation each). */
interface FfnIo {
  shader: Shader;
  rows: string;
  weights: string[];
  out: string;
  columns4: number;
}

/** The routed experts' (over the padded layout) and the shared experts' (over the tokens) gate-up and down. */
function ffnIo(g: MoeGeometry): Record<'routed' | 'shared', { gateUp: FfnIo; down: FfnIo }> {
  const down = { shader: SHADERS.moeDown, columns4: g.hidden4 };
  const gateUp = SHADERS.moeGateUp;
  return {
    routed: {
      gateUp: { shader: gateUp, rows: 'xp', weights: ['w_gate', 'w_up'], out: 'act', columns4: g.shape.inter / 4 },
      down: { ...down, rows: 'act', weights: ['w_down'], out: 'yp' },
    },
    shared: {
      gateUp: { shader: gateUp, rows: 'x', weights: ['s_gate', 's_up'], out: 's_act', columns4: g.sharedInter / 4 },
      down: { ...down, rows: 's_act', weights: ['s_down'], out: 'ys' },
    },
  };
}

/** The padded layout's buffers every FFN kernel binds (2-5). */
const LAYOUT_BINDINGS = ['block_expert', 'expert_starts', 'expert_counts', 'padded_total'];

function ffnStage(g: MoeGeometry, io: FfnIo, s: FfnStage): StageDecl {
  const wg = ffnWorkgroup(io.columns4);
  const y = Math.min(Math.max(1, s.tiles), g.maxDim);
  return stage(g, 'expert-ffn', s.name, io.shader, {
    constants: { WG: wg, MODE: s.mode },
    bindings: [s.uniform, io.rows, ...LAYOUT_BINDINGS, ...io.weights, io.out],
    workgroups: s.tiles === 0 ? [0] : [ceilDiv(io.columns4, wg), y, ceilDiv(s.tiles, y)],
    work: s.work,
  });
}

/** Work of the routed experts' gate-up / down over `rows` useful rows of `experts` experts (padding is overhead, not work). */
function routedWork(g: MoeGeometry, rows: number, experts: number): { gateUp: Work; down: Work } {
  const { hidden, inter } = g.shape;
  const el = elementBytes(g.dtype);
  return {
    gateUp: w(4 * rows * hidden * inter + 4 * rows * inter, experts * 2 * hidden * inter * el + rows * hidden * el, rows * inter * 4),
    down: w(2 * rows * inter * hidden, experts * inter * hidden * el + rows * inter * 4, rows * hidden * el),
  };
}

/** The shared experts: the FFN kernels dense over the tokens. */
function sharedStages(g: MoeGeometry): StageDecl[] {
  const { tokens, hidden, shared } = g.shape;
  if (shared === 0) return [];
  const el = elementBytes(g.dtype);
  const inter = g.sharedInter;
  const dense = { uniform: 'ffn_shared', mode: 2 as const, tiles: ceilDiv(tokens, FFN_TILE_ROWS) };
  const io = ffnIo(g).shared;
  return [
    ffnStage(g, io.gateUp, {
      ...dense,
      name: 'shared-gate-up',
      work: w(4 * tokens * hidden * inter + 4 * tokens * inter, 2 * hidden * inter * el + tokens * hidden * el, tokens * inter * 4),
    }),
    ffnStage(g, io.down, {
      ...dense,
      name: 'shared-down',
      work: w(2 * tokens * inter * hidden, inter * hidden * el + tokens * inter * 4, tokens * hidden * el),
    }),
  ];
}

/** Shared output + gate-weighted expert rows, in token order. */
function combineStage(g: MoeGeometry): StageDecl {
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

/** The FFN uniform (kernels/include/moe_ffn_tiles.wgsl): one expert's, the grouped layout's, or the dense tokens'. */
export function ffnUniform(g: MoeGeometry, name: string, expert: number, inter: number, rows: number): BufferDecl {
  return paramsUniform(name, SHADERS.moeGateUp, { expert, hidden: g.shape.hidden, inter, rows, block: g.plan.block });
}

/** A plan's stages after route, align and permute: static ones, and the host tail's templates and uniforms. */
export interface DispatchStages {
  stages: StageDecl[];
  /** Uniforms beyond the fixed ones (the host loop's per-expert FFN uniforms). */
  uniforms: BufferDecl[];
  hostTail?: HostTail;
}

/** Grouped: every tile of the padded layout in one gate-up and one down dispatch. */
function gpuDispatch(g: MoeGeometry): DispatchStages {
  const tiles = g.layout.capacity / FFN_TILE_ROWS;
  const work = routedWork(g, g.pairs, g.layout.counts.filter((c) => c > 0).length);
  const routed = { uniform: 'ffn_routed', mode: 0 as const, tiles };
  const io = ffnIo(g).routed;
  const ffn = [
    ffnStage(g, io.gateUp, { ...routed, name: 'gate-up', work: work.gateUp }),
    ffnStage(g, io.down, { ...routed, name: 'down', work: work.down }),
  ];
  return { stages: [...ffn, ...sharedStages(g), combineStage(g)], uniforms: [] };
}

/** Host loop: per-expert uniforms and dispatch pairs, planned from the counts read back; each declares the work its tokens will need. */
function hostLoopDispatch(g: MoeGeometry): DispatchStages {
  const { experts } = g.shape;
  const uniforms: BufferDecl[] = [];
  const templates: StageDecl[] = [];
  const io = ffnIo(g).routed;
  for (let e = 0; e < experts; e++) {
    uniforms.push(ffnUniform(g, `ffn_expert_${e}`, e, g.shape.inter, 0));
    const rows = g.layout.counts[e]!;
    const work = routedWork(g, rows, rows > 0 ? 1 : 0);
    const expert = { uniform: `ffn_expert_${e}`, mode: 1 as const, tiles: 0 };
    templates.push(
      ffnStage(g, io.gateUp, { ...expert, name: `gate-up-${e}`, work: work.gateUp }),
      ffnStage(g, io.down, { ...expert, name: `down-${e}`, work: work.down }),
    );
  }
  const fixed = [...sharedStages(g), combineStage(g)];
  templates.push(...fixed);
  const gateUpColumns = ceilDiv(g.shape.inter / 4, ffnWorkgroup(g.shape.inter / 4));
  const downColumns = ceilDiv(g.hidden4, ffnWorkgroup(g.hidden4));
  const plan = (counts: Uint32Array): TailDispatch[] => {
    const dispatches: TailDispatch[] = [];
    counts.forEach((count, e) => {
      if (count === 0) return;
      const tiles = ceilDiv(count, FFN_TILE_ROWS);
      dispatches.push({ template: 2 * e, workgroups: [gateUpColumns, tiles] }, { template: 2 * e + 1, workgroups: [downColumns, tiles] });
    });
    fixed.forEach((stage, i) => dispatches.push({ template: 2 * experts + i, workgroups: stage.workgroups }));
    return dispatches;
  };
  return { stages: [], uniforms, hostTail: { readback: 'expert_counts', words: experts, templates, plan } };
}

/** Each plan kind's stages after permute (adding a dispatch strategy is adding an emitter). */
export const DISPATCH_EMITTERS: Record<MoeDispatch, (g: MoeGeometry) => DispatchStages> = {
  gpu: gpuDispatch,
  'host-loop': hostLoopDispatch,
};
