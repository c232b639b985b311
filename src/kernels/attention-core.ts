import type { AttentionProblem } from '../reference/attention.js';
import {
  blockRows,
  flashSizes,
  pickPlan,
  TILING_STRATEGIES,
  type AttendWishes,
  type AttentionPlan,
  type AttentionStrategy,
  type PlanRequest,
} from './attention-plans.js';
import {
  attentionFlops,
  KV_LAYOUT,
  PAGED_KV_LAYOUT,
  longestKv,
  queryRows,
  shapeProblem,
  type AttentionPhase,
  type AttentionShape,
  type AttentionTiling,
} from './attention-shape.js';
import { attentionPlanSpace } from './attention-space.js';
import { ceilDiv, paramsUniform, storage } from './build.js';
import type { BuildContext } from './family.js';
import { grid2d } from './family.js';
import { SHADERS, type AttendShader } from './shaders.js';
import { elementBytes, type BufferDecl, type Dtype, type PoolDecl, type StageDecl, type Work } from './spec.js';
import { overrideOf, type TunableSlot } from './tunable.js';

/**
 * The attention core's emitter: a plan (attention-plans.ts) becomes the attend stage (+ the reduce of split-KV
 * plans) over buffers the caller declared, with the core's own uniform and partials.
 */

export interface AttentionOptions extends AttendWishes {
  phase?: AttentionPhase;
  tiling?: AttentionTiling;
  /** Strategies to pick the plan with instead of the tiling's (e.g. MLA's absorbed attend). */
  strategies?: readonly AttentionStrategy[];
  /** float64 FLOPs the check's reference may cost before it samples output rows (default REFERENCE_BUDGET_FLOPS). */
  referenceBudgetFlops?: number;
}

/** Buffers an attention core reads and writes, by name (they are declared by the caller). */
export interface AttentionIo {
  /** u32 pairs (kv length, token offset) per sequence. */
  seqs: string;
  /** [batch][q_len][n_q][d_qk rounded up to 4]. */
  q: string;
  /** [batch][n_kv][token][d_qk rounded up to 4], ragged as KV_LAYOUT. */
  k: string;
  /** [batch][n_kv][token][vStride]: the first d_v elements of each row are the value. */
  v: string;
  /** [batch][q_len][n_q][d_v], written in the storage type. */
  out: string;
  /** Row stride of v in elements (a multiple of 4); d_v rounded up to 4 when absent. */
  vStride?: number;
  /**
   * A paged cache (src/kernels/kv-pages.ts): k and v are pool 0 of `pools` buffers each (the others named by
   * poolBuffer), seqs holds the block table after the sequences' (length, block-table row) pairs.
   */
  paging?: Paging;
}

/** A paged cache as the attend kernels see it: tokens per page, pages per pool buffer, pool buffers. */
export interface Paging {
  pageSize: number;
  poolPages: number;
  pools: number;
  /** Block-table entries the attend reads (for its work). */
  tableEntries: number;
}

/** The buffer of pool `i` of a cache whose pool 0 is `name`: name, name_1, name_2, ... (the WGSL pools' names too). */
export function poolBuffer(name: string, i: number): string {
  return i === 0 ? name : `${name}_${i}`;
}

/** The further pool buffers (1, 2, ...) of a cache whose pool 0 is `name`. */
function furtherPools(name: string, paging: Paging | undefined): string[] {
  return Array.from({ length: (paging?.pools ?? 1) - 1 }, (_, i) => poolBuffer(name, i + 1));
}

/** The attend's k and v pools; v the same buffers as k where one cache serves as both (MLA's latent). */
function cachePools(io: AttentionIo): PoolDecl[] {
  const k: PoolDecl = { name: 'k', buffers: furtherPools(io.k, io.paging), access: 'read' };
  if (io.v === io.k && k.buffers.length > 0) return [k, { name: 'v', buffers: [], access: 'read', sameAs: 'k' }];
  return [k, { name: 'v', buffers: furtherPools(io.v, io.paging), access: 'read' }];
}

export interface AttentionCore {
  kind: 'core';
  /** Scratch buffers of the core (params, partials); the io buffers are the caller's. */
  buffers: BufferDecl[];
  /** attend (+ reduce), with phases 'attend' and 'reduce'. */
  stages: StageDecl[];
  facts: Record<string, number | string>;
  /** The attend plan as a tunable slot (ATTEND_SLOT). */
  tunable: TunableSlot;
}

/** The tunable slot of the attention core's plan (BuildContext.plans). */
export const ATTEND_SLOT = 'attend';

/** Where a plan's attend runs: row blocks per KV head, tokens per split and splits, over batch x n_kv. */
interface Grid {
  batch: number;
  nKv: number;
  rowBlocks: number;
  chunk: number;
  splits: number;
  maxPerDim: number;
}

/** How the emitter dispatches one plan kind's attend kernel. */
interface AttendKernel<P extends AttentionPlan> {
  shader: AttendShader;
  /** Reads v rows V_STRIDE4 vec4s apart (the prefill kernel: d_v only). */
  stridedV: boolean;
  /** 'direct': the attend writes the normalised output (no partials, no reduce). */
  output(plan: P): 'partials' | 'direct';
  entryPoint?(plan: P): string | undefined;
  constants(plan: P, shape: AttentionShape): Record<string, number>;
  sizes?(plan: P, shape: AttentionShape): Record<string, number>;
  workgroups(plan: P, grid: Grid): [number, number?, number?];
  facts(plan: P, grid: Grid): Record<string, number | string>;
}

const heads = (shape: AttentionShape): Record<string, number> => ({ D_QK: shape.dQk, D_V: shape.dV });
const splitFacts = (g: Grid): Record<string, number> => ({ splits: g.splits, splitTokens: g.chunk });
const rowGroupFacts = (g: Grid, wg: number, rpi: number, kernel: string): Record<string, number | string> => ({
  ...splitFacts(g),
  rowGroups: g.rowBlocks,
  kvReadsPerKvHead: g.rowBlocks,
  tileWG: wg,
  tileRPI: rpi,
  rowsKernel: kernel,
});
/** One invocation (rows) or workgroup (the subgroup kernels) per grid cell, the flat grid split into x and y. */
const flatGrid = (g: Grid, perWorkgroup = 1): [number, number] =>
  grid2d(ceilDiv(g.batch * g.nKv * g.splits * g.rowBlocks, perWorkgroup), g.maxPerDim);

function prefixed(prefix: string, values: object): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}${key}`, value as number]));
}

const KERNELS: { [K in AttentionPlan['kind']]: AttendKernel<Extract<AttentionPlan, { kind: K }>> } = {
  decode: {
    shader: SHADERS.attentionDecode,
    stridedV: true,
    output: () => 'partials',
    constants: (plan, shape) => ({ ...plan.tiles, ...heads(shape) }),
    workgroups: (_plan, g) => [g.splits, g.nKv * g.rowBlocks, g.batch],
    facts: (plan, g) => ({ ...splitFacts(g), rowBlocks: g.rowBlocks, kvReadsPerKvHead: g.rowBlocks, ...prefixed('tile', plan.tiles) }),
  },
  prefill: {
    shader: SHADERS.attentionPrefill,
    stridedV: false,
    output: () => 'direct',
    constants: (plan, shape) => ({ ...plan.tiles, ...heads(shape) }),
    workgroups: (_plan, g) => [g.rowBlocks, g.nKv, g.batch],
    facts: (plan, g) => ({
      prefillKernel: 'tiled',
      rowBlocks: g.rowBlocks,
      kvReadsPerKvHead: g.rowBlocks,
      ...prefixed('tile', plan.tiles),
    }),
  },
  flash: {
    shader: SHADERS.attentionFlash,
    stridedV: true,
    output: () => 'direct',
    constants: (plan, shape) => ({ WG: plan.wg, RPI: plan.rpi, BK: plan.bk, ...heads(shape) }),
    sizes: (plan, shape) => flashSizes(plan, shape),
    workgroups: (_plan, g) => [g.rowBlocks, g.nKv, g.batch],
    facts: (plan, g) => ({
      prefillKernel: 'flash',
      rowBlocks: g.rowBlocks,
      kvReadsPerKvHead: g.rowBlocks,
      ...{ tileWG: plan.wg, tileRPI: plan.rpi, tileBK: plan.bk },
    }),
  },
  rows: {
    shader: SHADERS.attentionRows,
    stridedV: true,
    output: () => 'partials',
    constants: (plan, shape) => ({ WG: plan.wg, RPI: plan.rpi, ...heads(shape) }),
    workgroups: (plan, g) => flatGrid(g, plan.wg),
    facts: (plan, g) => rowGroupFacts(g, plan.wg, plan.rpi, 'per-invocation'),
  },
  'rows-subgroup': {
    shader: SHADERS.attentionRowsSubgroup,
    stridedV: true,
    output: (plan) => plan.output,
    entryPoint: (plan) => (plan.output === 'direct' ? 'main_direct' : undefined),
    constants: (plan, shape) => ({ WG: plan.wg, RPI: plan.rpi, ...heads(shape) }),
    // Not powers of two: llvmpipe lays private arrays out per lane, and power-of-two strides alias in L1.
    sizes: (plan, shape) => ({ MAXQ: plan.rpi * ceilDiv(shape.dQk, 4) + 2, MAXV: plan.rpi * ceilDiv(shape.dV, 4) + 2 }),
    workgroups: (_plan, g) => flatGrid(g),
    facts: (plan, g) => rowGroupFacts(g, plan.wg, plan.rpi, 'subgroup'),
  },
  columns: {
    shader: SHADERS.attentionColumns,
    stridedV: true,
    output: () => 'partials',
    constants: (plan, shape) => ({ R: plan.r, ...heads(shape) }),
    workgroups: (_plan, g) => flatGrid(g),
    facts: (plan, g) => rowGroupFacts(g, 8, plan.r, 'columns'),
  },
};

/** The table entry of a plan's kind (the table's mapped type pairs them; TypeScript cannot follow that through a union). */
function kernelOf<P extends AttentionPlan>(plan: P): AttendKernel<P> {
  return KERNELS[plan.kind] as unknown as AttendKernel<P>;
}

/** What the emitter needs beyond the plan: the problem, the io buffers, the traffic of the compulsory reads. */
interface EmitInput {
  shape: AttentionShape;
  scale: number;
  dtype: Dtype;
  io: AttentionIo;
  grid: Grid;
  /** V_STRIDE4 where v rows are wider than d_v (empty otherwise). */
  vConstants: Record<string, number>;
  /** The attend's flops and compulsory reads: K/V once per KV head (re-reads by further row blocks come from cache), Q once. */
  attendWork: Omit<Work, 'bytesWritten'>;
}

/** The attend kernels' one Params struct (kernels/include/attention_common.wgsl). */
function attendParams(kernel: AttendKernel<AttentionPlan>, { shape, scale, grid, io }: EmitInput): BufferDecl {
  const group = shape.nQ / shape.nKv;
  return paramsUniform('params', kernel.shader, {
    ...{ n_q: shape.nQ, n_kv: shape.nKv, q_len: shape.qLen, group, rows: queryRows(shape), row_blocks: grid.rowBlocks },
    ...{ chunk: grid.chunk, n_splits: grid.splits, causal: shape.causal ? 1 : 0, scale_log2: scale * Math.LOG2E },
    ...{ dq4: ceilDiv(shape.dQk, 4), dv4: ceilDiv(shape.dV, 4), batch: shape.batch },
    pool_pages: io.paging?.poolPages ?? 1,
  });
}

/** The plan's stages and scratch buffers: attend writing the output, or attend writing partials + reduce. */
function emit(plan: AttentionPlan, input: EmitInput): { buffers: BufferDecl[]; stages: StageDecl[] } {
  const kernel = kernelOf(plan);
  const { shape, dtype, io, grid } = input;
  const entryPoint = kernel.entryPoint?.(plan);
  const sizes = kernel.sizes?.(plan, shape);
  const paged: Record<string, number> = io.paging ? { PAGE: io.paging.pageSize } : {};
  const attend = {
    name: 'attend',
    shader: kernel.shader.file,
    ...(entryPoint && { entryPoint }),
    dtype,
    constants: { ...kernel.constants(plan, shape), ...(kernel.stridedV ? input.vConstants : {}), ...paged },
    ...(sizes && { sizes }),
    pools: cachePools(io),
    workgroups: kernel.workgroups(plan, grid),
  };
  const params = attendParams(kernel, input);
  const outRows = shape.batch * shape.qLen * shape.nQ;
  const outBytes = outRows * shape.dV * elementBytes(dtype);
  if (kernel.output(plan) === 'direct') {
    const stage: StageDecl = {
      ...attend,
      bindings: ['params', io.seqs, io.q, io.k, io.v, io.out],
      work: { ...input.attendWork, bytesWritten: outBytes },
    };
    return { buffers: [params], stages: [stage] };
  }
  const partials = outRows * grid.splits;
  const partialBytes = partials * (shape.dV + 2) * 4;
  const reduceWg = 64;
  const buffers = [
    params,
    storage('part_o', 'scratch', 'f32', partials * shape.dV),
    storage('part_ml', 'scratch', 'f32', partials * 2),
    paramsUniform('reduce_params', SHADERS.attentionReduce, { rows: outRows, n_splits: grid.splits }),
  ];
  const stages: StageDecl[] = [
    {
      ...attend,
      bindings: ['params', io.seqs, io.q, io.k, io.v, 'part_o', 'part_ml'],
      work: { ...input.attendWork, bytesWritten: partialBytes },
    },
    {
      name: 'reduce',
      shader: SHADERS.attentionReduce.file,
      dtype,
      constants: { WG: reduceWg, D_V: shape.dV },
      bindings: ['reduce_params', 'part_o', 'part_ml', io.out],
      workgroups: grid2d(ceilDiv(outRows * shape.dV, reduceWg), grid.maxPerDim),
      work: { flops: 3 * partials * shape.dV, bytesRead: partialBytes, bytesWritten: outBytes },
    },
  ];
  return { buffers, stages };
}

/**
 * The attention core over buffers produced elsewhere: the plan the strategies pick (the tiling's, or the
 * caller's), emitted. Work counts K/V once per KV head (once in all when k and v are the same buffer) and Q once.
 */
export function attentionCore(
  shape: AttentionShape,
  dtype: Dtype,
  context: BuildContext,
  io: AttentionIo,
  options: AttentionOptions = {},
): AttentionCore | { kind: 'skip'; reason: string } {
  const invalid = shapeProblem(shape);
  if (invalid) return { kind: 'skip', reason: invalid };
  const phase = options.phase ?? (shape.qLen <= 16 ? 'decode' : 'prefill');
  const { batch, nQ, nKv, dQk, dV, qLen, kvLens } = shape;
  const [dQkPad, dVPad] = [ceilDiv(dQk, 4) * 4, ceilDiv(dV, 4) * 4];
  const vStride = io.vStride ?? dVPad;
  if (vStride % 4 !== 0 || vStride < dV)
    return { kind: 'skip', reason: `v row stride ${vStride} must be a multiple of 4 and >= d_v=${dV}` };
  const tiling = options.tiling ?? 'workgroup';
  const request: PlanRequest = {
    shape,
    phase,
    limits: context.limits,
    subgroupMinSize: context.subgroupMinSize,
    privateMemory: context.privateMemory ?? 'registers',
    stridedV: vStride !== dVPad,
    wishes: options,
  };
  const strategies = options.strategies ?? TILING_STRATEGIES[tiling];
  const picked = pickPlan(strategies, request);
  const plan = overrideOf(context.plans, ATTEND_SLOT, 'attention') ?? picked;
  if (typeof plan === 'string') return { kind: 'skip', reason: plan };

  const scale = shape.scale ?? 1 / Math.sqrt(dQk);
  const problem: AttentionProblem = { ...shape, kvLens: [...kvLens], scale };
  const cachedTokens = kvLens.reduce((a, b) => a + b, 0);
  const elem = elementBytes(dtype);
  const kvBytes = cachedTokens * nKv * (dQkPad + (io.k === io.v ? 0 : dVPad)) * elem;
  const chunk = 'chunk' in plan ? plan.chunk : longestKv(shape);
  const grid: Grid = {
    batch,
    nKv,
    rowBlocks: ceilDiv(queryRows(shape), blockRows(plan)),
    chunk,
    splits: ceilDiv(longestKv(shape), chunk),
    maxPerDim: context.limits.maxComputeWorkgroupsPerDimension,
  };
  const { buffers, stages } = emit(plan, {
    shape,
    scale,
    dtype,
    io,
    grid,
    vConstants: vStride === dVPad ? {} : { V_STRIDE4: vStride / 4 },
    attendWork: {
      flops: attentionFlops(problem),
      bytesRead: dQkPad * batch * qLen * nQ * elem + kvBytes + batch * 8 + 4 * (io.paging?.tableEntries ?? 0),
    },
  });
  const paging = io.paging && { pageSize: io.paging.pageSize, kvPools: io.paging.pools, poolPages: io.paging.poolPages };
  const facts = {
    phase,
    nQ,
    nKv,
    dQk,
    dV,
    qLen,
    causal: shape.causal ? 1 : 0,
    kvLayout: io.paging ? PAGED_KV_LAYOUT : KV_LAYOUT,
    cachedTokens,
    tiling,
    ...paging,
    ...kernelOf(plan).facts(plan, grid),
  };
  const tunable: TunableSlot = {
    name: ATTEND_SLOT,
    chosen: { family: 'attention', plan },
    // The space around the strategy's plan, not a given one: a given plan is legal only where it is a member.
    space: () =>
      attentionPlanSpace(request, strategies, typeof picked === 'string' ? null : picked).map((p) => ({ family: 'attention', plan: p })),
  };
  return { kind: 'core', buffers, stages, facts, tunable };
}
