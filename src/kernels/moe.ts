import type { DeviceLimits } from '../gpu/device.js';
import { EPSILON, reductionTolerance } from '../reference/allclose.js';
import {
  alignReference,
  loadImbalance,
  moeReference,
  paddedCapacity,
  routeReference,
  routingProblem,
  type MoeInputs,
  type MoeShape,
  type ScoreFunction,
} from '../reference/moe.js';
import type { AxisValue } from '../suites/schema.js';
import type { BuildContext, BuildResult, KernelFamily } from './family.js';
import { ceilDiv, dtypeUnsupported, maxAbs, paramsUniform, pow2Ceil, storage } from './build.js';
import { grid2d, numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import { SHADERS } from './shaders.js';
import { generateMoeInputs, MOE_BALANCES, type MoeBalance } from './moe-inputs.js';
import { DTYPES, elementBytes, REFERENCE_BUDGET_FLOPS, sampleRows, type BufferDecl, type Dtype, type HostTail, type KernelCase, type StageDecl, type TailDispatch, type Tolerance, type Work } from './spec.js';

/**
 * MoE token dispatch (issue #5): route -> align -> permute -> expert FFN -> combine, all on the GPU, against a
 * host-loop baseline (per-expert counts read back, then one dispatch pair per expert, as ONNX Runtime's WebGPU
 * MoE does). Phases and kernels (kernels/moe_*.wgsl):
 *   route:      moe_logits (router logit + selection key per (token, expert)), moe_select (per token:
 *               group-limited top-k, gate weights);
 *   align:      moe_count (per chunk of pairs: counts per expert, no atomics), moe_scan (one workgroup:
 *               per-expert chunk offsets, block-padded expert starts, sentinels, expert per block);
 *   permute:    moe_scatter (pair -> row of the expert-contiguous layout, and back), moe_gather (activation rows);
 *   expert-ffn: moe_gate_up + moe_down, grouped over the padded layout by a block-to-expert map, then the same
 *               kernels dense over the tokens for the shared experts;
 *   combine:    moe_combine (shared output + gate-weighted expert rows, in token order).
 * Layout (vLLM moe_align_block_size): see AlignedLayout in src/reference/moe.ts.
 */

export interface MoePreset {
  hidden: number;
  inter: number;
  experts: number;
  shared: number;
  topK: number;
  nGroup: number;
  topkGroup: number;
  scoreFunction: ScoreFunction;
  renormalize: boolean;
  routeScale: number;
}

/** Official configs (MODELS.md). */
export const MOE_PRESETS: Record<'v2' | 'v2-lite' | 'v3', MoePreset> = {
  v2: { hidden: 5120, inter: 1536, experts: 160, shared: 2, topK: 6, nGroup: 8, topkGroup: 3, scoreFunction: 'softmax', renormalize: false, routeScale: 16 },
  'v2-lite': { hidden: 2048, inter: 1408, experts: 64, shared: 2, topK: 6, nGroup: 1, topkGroup: 1, scoreFunction: 'softmax', renormalize: false, routeScale: 1 },
  v3: { hidden: 7168, inter: 2048, experts: 256, shared: 1, topK: 8, nGroup: 8, topkGroup: 4, scoreFunction: 'sigmoid', renormalize: true, routeScale: 2.5 },
};
const PRESET_NAMES = Object.keys(MOE_PRESETS) as (keyof typeof MOE_PRESETS)[];

export const MOE_DISPATCHES = ['gpu', 'host-loop'] as const;
export type MoeDispatch = (typeof MOE_DISPATCHES)[number];

/** Rows per FFN tile (RT in moe_gate_up/moe_down.wgsl); the block size must be a multiple of it. */
export const FFN_TILE_ROWS = 8;
export const DEFAULT_BLOCK = 8;
/** moe_scan.wgsl's workgroup arrays. */
const MAX_EXPERTS = 1024;
/** moe_select.wgsl walks the k choices with no per-slot storage; kept small so one invocation stays short. */
const MAX_TOP_K = 32;
/** Canary elements of every MoE buffer. */
const MOE_CANARY = 16;

export interface MoeOptions {
  dispatch?: MoeDispatch;
  balance?: MoeBalance;
  block?: number;
  /** Inputs to use instead of generated ones (tests that create ties on purpose). */
  inputs?: MoeInputs;
  /** float64 FLOPs the output check's reference may cost before it samples tokens (default REFERENCE_BUDGET_FLOPS). */
  referenceBudgetFlops?: number;
}

function shapeProblem(shape: MoeShape, block: number): string | null {
  const { tokens, hidden, inter, shared } = shape;
  if (!Number.isInteger(tokens) || tokens < 0) return `tokens=${tokens} must be a non-negative integer`;
  for (const [name, value] of Object.entries({ hidden, inter })) {
    if (!Number.isInteger(value) || value < 4 || value % 4 !== 0) return `${name}=${value} must be a positive multiple of 4 (vec4 rows)`;
  }
  if (!Number.isInteger(shared) || shared < 0) return `shared=${shared} must be a non-negative integer`;
  if (!Number.isInteger(block) || block < FFN_TILE_ROWS || block % FFN_TILE_ROWS !== 0) return `block=${block} must be a multiple of ${FFN_TILE_ROWS}`;
  if (shape.experts > MAX_EXPERTS) return `experts=${shape.experts} above the align kernel's ${MAX_EXPERTS}`;
  if (shape.topK > MAX_TOP_K) return `top_k=${shape.topK} above ${MAX_TOP_K}`;
  return routingProblem(shape);
}

/** The largest buffer of a case, judged before any host data is generated (the real presets need GiBs). */
function sizeProblem(shape: MoeShape, dtype: Dtype, block: number, limits: DeviceLimits): string | null {
  const el = elementBytes(dtype);
  const capacity = paddedCapacity(shape.tokens * shape.topK, shape.experts, block);
  const largest: [string, number][] = [
    ['w_gate', shape.experts * shape.hidden * shape.inter * el],
    ['xp', capacity * shape.hidden * el],
    ['act', capacity * shape.inter * 4],
    ['logits', shape.tokens * shape.experts * 4],
    ['s_act', shape.tokens * shape.shared * shape.inter * 4],
  ];
  const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  for (const [name, bytes] of largest) {
    if (bytes > limit) {
      return `buffer ${name} needs ${(bytes / 2 ** 20).toFixed(0)} MiB, above the device's maxStorageBufferBindingSize/maxBufferSize (${(limit / 2 ** 20).toFixed(0)} MiB)`;
    }
  }
  return null;
}

const exact: Tolerance = { atol: 0, rtol: 0 };
const asF64 = (values: ArrayLike<number>): (() => Float64Array) => () => Float64Array.from(values as ArrayLike<number>);

/** One MoE layer step as a case; `moeFamily` maps suite axes onto it. */
export function moeCase(shape: MoeShape, dtype: Dtype, context: BuildContext, options: MoeOptions = {}): BuildResult {
  const block = options.block ?? DEFAULT_BLOCK;
  const dispatch = options.dispatch ?? 'gpu';
  const problem = shapeProblem(shape, block);
  if (problem) return { kind: 'skip', reason: problem };
  const unsupported = dtypeUnsupported(dtype, context);
  if (unsupported) return { kind: 'skip', reason: unsupported };
  const tooBig = sizeProblem(shape, dtype, block, context.limits);
  if (tooBig) return { kind: 'skip', reason: tooBig };

  const { tokens, hidden, experts, inter, topK, shared } = shape;
  // Inputs from a test are taken as given; generated ones come with their router logits, computed once.
  const generated = options.inputs ? { inputs: options.inputs } : generateMoeInputs(shape, dtype, context.seed, options.balance ?? 'uniform');
  const { inputs } = generated;
  const routing = routeReference(shape, inputs, 'routerLogits' in generated ? generated.routerLogits : undefined);
  const layout = alignReference(routing.ids, experts, block);
  const pairs = tokens * topK;
  const { capacity } = layout;
  const el = elementBytes(dtype);
  const hidden4 = hidden / 4;
  const sharedInter = shared * inter;
  const chunk = Math.max(32, ceilDiv(pairs, 256));
  const chunks = ceilDiv(pairs, chunk);
  const nonEmpty = layout.counts.filter((c) => c > 0).length;
  const maxDim = context.limits.maxComputeWorkgroupsPerDimension;

  // Large GPU cases: the float64 output on evenly spaced tokens, as many as the reference budget pays for.
  const perTokenFlops = 6 * hidden * (topK * inter + sharedInter);
  const sampledTokens = sampleRows(tokens, hidden, perTokenFlops, options.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS);
  let expected: ReturnType<typeof moeReference> | undefined;
  const reference = (): ReturnType<typeof moeReference> => (expected ??= moeReference(shape, inputs, routing, sampledTokens?.rows));
  const weightTolerance: Tolerance = { atol: 1e-7 * shape.routeScale, rtol: 1e-5 + 2 * experts * EPSILON.f32 };
  const outputTolerance = (): Tolerance => {
    const { maxRouted, maxShared } = reference();
    let weightSum = 0;
    for (let t = 0; t < tokens; t++) {
      let sum = 0;
      for (let j = 0; j < topK; j++) sum += Math.abs(routing.weights[t * topK + j]!);
      weightSum = Math.max(weightSum, sum);
    }
    const magnitude = weightSum * maxRouted + maxShared;
    const base = reductionTolerance(dtype, hidden + Math.max(inter, sharedInter), magnitude);
    return { atol: base.atol + magnitude * (EPSILON[dtype] + weightTolerance.rtol), rtol: base.rtol };
  };

  const routeValues = { tokens, hidden, experts, top_k: topK, n_group: shape.nGroup, topk_group: shape.topkGroup, route_scale: shape.routeScale };
  const alignValues = { pairs, experts, block, chunk, chunks, capacity, top_k: topK, hidden4 };
  const ffnParams = (name: string, expert: number, ffnInter: number, rows: number): BufferDecl =>
    paramsUniform(name, SHADERS.moeGateUp, { expert, hidden, inter: ffnInter, rows, block });
  const buffer = (name: string, role: BufferDecl['role'], type: BufferDecl['type'], length: number, data?: BufferDecl['data']): BufferDecl =>
    storage(name, role, type, length, { canary: MOE_CANARY, ...(data && { data }) });

  const buffers: BufferDecl[] = [
    // One uniform per group of kernels that declare the same struct (moe_route_params, moe_align_params, moe_ffn_tiles).
    paramsUniform('route_params', SHADERS.moeLogits, routeValues),
    paramsUniform('align_params', SHADERS.moeCount, alignValues),
    ffnParams('ffn_routed', 0, inter, capacity),
    ffnParams('ffn_shared', 0, sharedInter, tokens),
    paramsUniform('combine_params', SHADERS.moeCombine, { tokens, hidden4, top_k: topK }),
    buffer('x', 'activations', dtype, tokens * hidden, inputs.x),
    buffer('gate', 'weights', dtype, hidden * experts, inputs.gate),
    buffer('bias', 'weights', 'f32', experts, inputs.bias),
    buffer('logits', 'scratch', 'f32', tokens * experts),
    buffer('keys', 'scratch', 'f32', tokens * experts),
    buffer('topk_ids', 'activations', 'u32', pairs),
    buffer('topk_weights', 'activations', 'f32', pairs),
    buffer('hist', 'scratch', 'u32', chunks * experts),
    buffer('chunk_rows', 'scratch', 'u32', chunks * experts),
    buffer('cursor', 'scratch', 'u32', chunks * experts),
    buffer('expert_counts', 'scratch', 'u32', experts),
    buffer('expert_starts', 'scratch', 'u32', experts + 1),
    buffer('sorted_ids', 'activations', 'u32', capacity),
    buffer('block_expert', 'activations', 'u32', capacity / block),
    buffer('padded_total', 'scratch', 'u32', 1),
    buffer('positions', 'activations', 'u32', pairs),
    buffer('xp', 'activations', dtype, capacity * hidden),
    buffer('act', 'scratch', 'f32', capacity * inter),
    buffer('yp', 'activations', dtype, capacity * hidden),
    buffer('w_gate', 'weights', dtype, experts * hidden * inter, inputs.wGate),
    buffer('w_up', 'weights', dtype, experts * hidden * inter, inputs.wUp),
    buffer('w_down', 'weights', dtype, experts * inter * hidden, inputs.wDown),
    buffer('s_gate', 'weights', dtype, hidden * sharedInter, inputs.sGate),
    buffer('s_up', 'weights', dtype, hidden * sharedInter, inputs.sUp),
    buffer('s_down', 'weights', dtype, sharedInter * hidden, inputs.sDown),
    buffer('s_act', 'scratch', 'f32', tokens * sharedInter),
    buffer('ys', 'activations', dtype, tokens * hidden),
    buffer('out', 'activations', dtype, tokens * hidden),
  ];

  // ---- work, from shapes and the routing (useful rows only; padding rows are overhead, not work) ----
  const w = (flops: number, bytesRead: number, bytesWritten: number): Work => ({ flops, bytesRead, bytesWritten });
  const pairBytes = pairs * hidden * el;
  const routedGateUpWork = (rows: number, expertsWithTokens: number): Work =>
    w(4 * rows * hidden * inter + 4 * rows * inter, expertsWithTokens * 2 * hidden * inter * el + rows * hidden * el, rows * inter * 4);
  const routedDownWork = (rows: number, expertsWithTokens: number): Work =>
    w(2 * rows * inter * hidden, expertsWithTokens * inter * hidden * el + rows * inter * 4, rows * hidden * el);
  const ffnStage = (name: string, shader: string, uniformName: string, bindings: string[], mode: number, columns4: number, tiles: number, work: Work): StageDecl => {
    const wg = Math.min(64, Math.max(8, pow2Ceil(columns4)));
    const y = Math.min(Math.max(1, tiles), maxDim);
    return {
      name,
      phase: 'expert-ffn',
      shader,
      dtype,
      constants: { WG: wg, MODE: mode },
      bindings: [uniformName, ...bindings],
      workgroups: tiles === 0 ? [0] : [ceilDiv(columns4, wg), y, ceilDiv(tiles, y)],
      work,
    };
  };
  const layoutBuffers = ['block_expert', 'expert_starts', 'expert_counts', 'padded_total'];
  const gateUp = (name: string, uniformName: string, mode: number, tiles: number, work: Work): StageDecl =>
    ffnStage(name, SHADERS.moeGateUp.file, uniformName, ['xp', ...layoutBuffers, 'w_gate', 'w_up', 'act'], mode, inter / 4, tiles, work);
  const down = (name: string, uniformName: string, mode: number, tiles: number, work: Work): StageDecl =>
    ffnStage(name, SHADERS.moeDown.file, uniformName, ['act', ...layoutBuffers, 'w_down', 'yp'], mode, hidden4, tiles, work);
  const sharedTiles = ceilDiv(tokens, FFN_TILE_ROWS);
  const sharedStages: StageDecl[] =
    shared === 0
      ? []
      : [
          ffnStage('shared-gate-up', SHADERS.moeGateUp.file, 'ffn_shared', ['x', ...layoutBuffers, 's_gate', 's_up', 's_act'], 2, sharedInter / 4, sharedTiles, w(
            4 * tokens * hidden * sharedInter + 4 * tokens * sharedInter,
            2 * hidden * sharedInter * el + tokens * hidden * el,
            tokens * sharedInter * 4,
          )),
          ffnStage('shared-down', SHADERS.moeDown.file, 'ffn_shared', ['s_act', ...layoutBuffers, 's_down', 'ys'], 2, hidden4, sharedTiles, w(
            2 * tokens * sharedInter * hidden,
            sharedInter * hidden * el + tokens * sharedInter * 4,
            tokens * hidden * el,
          )),
        ];
  const combineStage: StageDecl = {
    name: 'combine',
    phase: 'combine',
    shader: SHADERS.moeCombine.file,
    dtype,
    constants: { WG: 64, HAS_SHARED: shared > 0 ? 1 : 0 },
    bindings: ['combine_params', 'topk_weights', 'positions', 'yp', 'ys', 'out'],
    workgroups: grid2d(ceilDiv(tokens * hidden4, 64), maxDim),
    work: w(2 * pairs * hidden + (shared > 0 ? tokens * hidden : 0), pairBytes + (shared > 0 ? tokens * hidden * el : 0) + pairs * 8, tokens * hidden * el),
  };
  const routeStages: StageDecl[] = [
    {
      name: 'logits',
      phase: 'route',
      shader: SHADERS.moeLogits.file,
      dtype,
      constants: { WG: 64, SIGMOID: shape.scoreFunction === 'sigmoid' ? 1 : 0 },
      bindings: ['route_params', 'x', 'gate', 'bias', 'logits', 'keys'],
      workgroups: grid2d(ceilDiv(tokens * experts, 64), maxDim),
      work: w(2 * tokens * experts * hidden, (tokens * hidden + hidden * experts) * el + experts * 4, 2 * tokens * experts * 4),
    },
    {
      name: 'select',
      phase: 'route',
      shader: SHADERS.moeSelect.file,
      dtype,
      constants: { WG: 16, SIGMOID: shape.scoreFunction === 'sigmoid' ? 1 : 0, RENORMALIZE: shape.renormalize ? 1 : 0 },
      bindings: ['route_params', 'logits', 'keys', 'topk_ids', 'topk_weights'],
      workgroups: grid2d(ceilDiv(tokens, 16), maxDim),
      work: w(2 * tokens * experts, 2 * tokens * experts * 4, pairs * 8),
    },
  ];
  const histBytes = chunks * experts * 4;
  const alignStages: StageDecl[] = [
    {
      name: 'count',
      phase: 'align',
      shader: SHADERS.moeCount.file,
      dtype,
      constants: { WG: 8 },
      bindings: ['align_params', 'topk_ids', 'hist'],
      workgroups: [ceilDiv(chunks, 8)],
      work: w(0, pairs * 4, histBytes),
    },
    {
      name: 'scan',
      phase: 'align',
      shader: SHADERS.moeScan.file,
      dtype,
      constants: { WG: 256 },
      bindings: ['align_params', 'hist', 'expert_counts', 'expert_starts', 'sorted_ids', 'block_expert', 'padded_total', 'chunk_rows'],
      workgroups: [1],
      work: w(0, 2 * histBytes, histBytes + (capacity - pairs) * 4 + (capacity / block + 2 * experts + 2) * 4),
    },
  ];
  const permuteStages: StageDecl[] = [
    {
      name: 'scatter',
      phase: 'permute',
      shader: SHADERS.moeScatter.file,
      dtype,
      constants: { WG: 8 },
      bindings: ['align_params', 'topk_ids', 'chunk_rows', 'sorted_ids', 'positions', 'cursor'],
      workgroups: [ceilDiv(chunks, 8)],
      work: w(0, pairs * 4 + histBytes, pairs * 8 + histBytes),
    },
    {
      name: 'gather',
      phase: 'permute',
      shader: SHADERS.moeGather.file,
      dtype,
      constants: { WG: 64 },
      bindings: ['align_params', 'x', 'sorted_ids', 'padded_total', 'xp'],
      workgroups: grid2d(ceilDiv(capacity * hidden4, 64), maxDim),
      work: w(0, pairBytes + capacity * 4, pairBytes),
    },
  ];

  let stages: StageDecl[];
  let hostTail: HostTail | undefined;
  if (dispatch === 'gpu') {
    const tiles = capacity / FFN_TILE_ROWS;
    stages = [
      ...routeStages,
      ...alignStages,
      ...permuteStages,
      gateUp('gate-up', 'ffn_routed', 0, tiles, routedGateUpWork(pairs, nonEmpty)),
      down('down', 'ffn_routed', 0, tiles, routedDownWork(pairs, nonEmpty)),
      ...sharedStages,
      combineStage,
    ];
  } else {
    // Host loop: per-expert uniforms; each expert's dispatch pair declares the work its tokens will need.
    const templates: StageDecl[] = [];
    for (let e = 0; e < experts; e++) {
      buffers.push(ffnParams(`ffn_expert_${e}`, e, inter, 0));
      const rows = layout.counts[e]!;
      const has = rows > 0 ? 1 : 0;
      templates.push(gateUp(`gate-up-${e}`, `ffn_expert_${e}`, 1, 0, routedGateUpWork(rows, has)));
      templates.push(down(`down-${e}`, `ffn_expert_${e}`, 1, 0, routedDownWork(rows, has)));
    }
    const fixed = [...sharedStages, combineStage];
    templates.push(...fixed);
    stages = [...routeStages, ...alignStages, ...permuteStages];
    const gateUpColumns = ceilDiv(inter / 4, Math.min(64, Math.max(8, pow2Ceil(inter / 4))));
    const downColumns = ceilDiv(hidden4, Math.min(64, Math.max(8, pow2Ceil(hidden4))));
    hostTail = {
      readback: 'expert_counts',
      words: experts,
      templates,
      plan(counts: Uint32Array): TailDispatch[] {
        const dispatches: TailDispatch[] = [];
        counts.forEach((count, e) => {
          if (count === 0) return;
          const tiles = ceilDiv(count, FFN_TILE_ROWS);
          dispatches.push({ template: 2 * e, workgroups: [gateUpColumns, tiles] });
          dispatches.push({ template: 2 * e + 1, workgroups: [downColumns, tiles] });
        });
        fixed.forEach((stage, i) => dispatches.push({ template: 2 * experts + i, workgroups: stage.workgroups }));
        return dispatches;
      },
    };
  }

  const checks = [
    { buffer: 'topk_ids', shape: [tokens, topK], expected: asF64(routing.ids), tolerance: exact },
    { buffer: 'topk_weights', shape: [tokens, topK], expected: () => routing.weights, tolerance: weightTolerance },
    { buffer: 'expert_counts', shape: [experts], expected: asF64(layout.counts), tolerance: exact },
    { buffer: 'padded_total', shape: [1], expected: asF64([layout.paddedTotal]), tolerance: exact },
    { buffer: 'sorted_ids', shape: [capacity], expected: asF64(layout.sortedIds), tolerance: exact },
    { buffer: 'block_expert', shape: [capacity / block], expected: asF64(layout.blockExpert), tolerance: exact },
    { buffer: 'positions', shape: [tokens, topK], expected: asF64(layout.positions), tolerance: exact },
    {
      buffer: 'out',
      shape: [tokens, hidden],
      expected: () => reference().out,
      get tolerance(): Tolerance {
        return outputTolerance();
      },
      ...(sampledTokens && { sampledRows: sampledTokens }),
    },
  ];

  const maxPerExpert = maxAbs(layout.counts);
  const facts: Record<string, number | string> = {
    dispatch,
    tokens,
    hidden,
    inter,
    experts,
    shared,
    topK,
    nGroup: shape.nGroup,
    topkGroup: shape.topkGroup,
    scoreFunction: shape.scoreFunction,
    routeScale: shape.routeScale,
    block,
    pairs,
    paddedTokens: layout.paddedTotal,
    capacity,
    expertsWithTokens: nonEmpty,
    maxTokensPerExpert: maxPerExpert,
    meanTokensPerExpert: pairs / experts,
    loadImbalance: loadImbalance(layout.counts),
    // Bytes of hidden x element size per selected (token, expert) pair (DeepEP accounting): what a same-size
    // copy would move for the permute and combine phases.
    permuteBytes: pairBytes,
    combineBytes: pairBytes,
    endToEnd: 'timing.wall: one step per submission, submit to done (host-loop: readback round trip included)',
  };
  const kernelCase: KernelCase = { buffers, stages, checks, facts, stepTiming: 'wall', ...(hostTail && { hostTail }) };
  return { kind: 'case', kernelCase };
}

/** An axis that overrides a preset's value ('preset', or left out, keeps it). */
function presetNumber(params: Record<string, AxisValue>, name: string, preset: number): number {
  return params[name] === 'preset' ? preset : optionalNumber(params, name, preset);
}

export const moeFamily: KernelFamily = {
  name: 'moe',
  requiredAxes: ['preset', 'tokens', 'dispatch', 'dtype'],
  // gpu and host-loop run on the same inputs (same routing, same load), so their times compare directly.
  inputInvariantAxes: ['dispatch'],
  build(params, context): BuildResult {
    const preset = MOE_PRESETS[stringParam(params, 'preset', PRESET_NAMES)];
    const dtype = stringParam(params, 'dtype', DTYPES);
    const dispatch = stringParam(params, 'dispatch', MOE_DISPATCHES);
    const balance = optionalString(params, 'balance', MOE_BALANCES, 'uniform');
    const shape: MoeShape = {
      tokens: numberParam(params, 'tokens'),
      hidden: presetNumber(params, 'hidden', preset.hidden),
      inter: presetNumber(params, 'inter', preset.inter),
      experts: presetNumber(params, 'experts', preset.experts),
      shared: presetNumber(params, 'shared', preset.shared),
      topK: presetNumber(params, 'top_k', preset.topK),
      nGroup: presetNumber(params, 'n_group', preset.nGroup),
      topkGroup: presetNumber(params, 'topk_group', preset.topkGroup),
      scoreFunction: preset.scoreFunction,
      renormalize: preset.renormalize,
      routeScale: preset.routeScale,
    };
    const built = moeCase(shape, dtype, context, { dispatch, balance, block: presetNumber(params, 'block', DEFAULT_BLOCK) });
    if (built.kind === 'case') built.kernelCase.facts = { preset: String(params['preset']), balance, ...built.kernelCase.facts };
    return built;
  },
};
