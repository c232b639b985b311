import type { DeviceLimits } from '../core/device-facts.js';
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
  type RoutingResult,
  type ScoreFunction,
} from '../reference/moe.js';
import type { AxisValue } from '../core/numbers.js';
import { ceilDiv, dtypeUnsupported, maxAbs, paramsUniform, storage } from './build.js';
import type { BuildContext, BuildResult, KernelFamily } from './family.js';
import { numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import { generateMoeInputs, MOE_BALANCES, type MoeBalance } from './moe-inputs.js';
import { MOE_SLOT, moePlanSpace } from './moe-space.js';
import { overrideOf } from './tunable.js';
import { GEMM_TILINGS, type GemmTiling } from './gemm.js';
import { ffnWeights, gateUpLength, pairOffset, type FfnContext } from './moe-ffn.js';
import {
  alignStages,
  defaultBlock,
  DISPATCH_EMITTERS,
  MOE_DISPATCHES,
  permuteStages,
  planMoe,
  routeStages,
  type MoeDispatch,
  type MoeGeometry,
} from './moe-stages.js';
import { SHADERS } from './shaders.js';
import {
  DTYPES,
  elementBytes,
  REFERENCE_BUDGET_FLOPS,
  sampleRows,
  type BufferDecl,
  type Dtype,
  type KernelCase,
  type OutputCheck,
  type Tolerance,
} from './spec.js';

export { MOE_DISPATCHES, type MoeDispatch } from './moe-stages.js';

/**
 * MoE token dispatch (issue #5): route -> align -> permute -> expert FFN -> combine, all on the GPU, against a
 * host-loop baseline (per-expert counts read back, then one dispatch pair per expert, as ONNX Runtime's WebGPU
 * MoE does). Phases and kernels (kernels/moe_*.wgsl):
 *   route:      moe_logits (router logit + selection key per (token, expert)), moe_select (per token:
 *               group-limited top-k, gate weights);
 *   align:      moe_count (per chunk of pairs: counts per expert, no atomics), moe_scan (one workgroup:
 *               per-expert chunk offsets, block-padded expert starts, sentinels, expert per block);
 *   permute:    moe_scatter (pair -> row of the expert-contiguous layout, and back), moe_gather (activation rows);
 *   expert-ffn: the GEMM family (src/kernels/moe-ffn.ts): gate-up (SwiGLU epilogue) and down, grouped over the
 *               padded layout by a block-to-expert map (or one GEMM pair per expert for the host loop), then
 *               plain GEMMs over the tokens for the shared experts;
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
  v2: {
    hidden: 5120,
    inter: 1536,
    experts: 160,
    shared: 2,
    topK: 6,
    nGroup: 8,
    topkGroup: 3,
    scoreFunction: 'softmax',
    renormalize: false,
    routeScale: 16,
  },
  'v2-lite': {
    hidden: 2048,
    inter: 1408,
    experts: 64,
    shared: 2,
    topK: 6,
    nGroup: 1,
    topkGroup: 1,
    scoreFunction: 'softmax',
    renormalize: false,
    routeScale: 1,
  },
  v3: {
    hidden: 7168,
    inter: 2048,
    experts: 256,
    shared: 1,
    topK: 8,
    nGroup: 8,
    topkGroup: 4,
    scoreFunction: 'sigmoid',
    renormalize: true,
    routeScale: 2.5,
  },
};
const PRESET_NAMES = Object.keys(MOE_PRESETS) as (keyof typeof MOE_PRESETS)[];

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
  /** The expert FFN GEMMs' kernels: workgroup (GPUs) or rows (CPU adapters); default workgroup. */
  tiling?: GemmTiling;
}

function shapeProblem(shape: MoeShape, block: number): string | null {
  const { tokens, hidden, inter, shared } = shape;
  if (!Number.isInteger(tokens) || tokens < 0) return `tokens=${tokens} must be a non-negative integer`;
  for (const [name, value] of Object.entries({ hidden, inter })) {
    if (!Number.isInteger(value) || value < 4 || value % 4 !== 0) return `${name}=${value} must be a positive multiple of 4 (vec4 rows)`;
  }
  if (!Number.isInteger(shared) || shared < 0) return `shared=${shared} must be a non-negative integer`;
  if (!Number.isInteger(block) || block < 1) return `block=${block} must be a positive integer`;
  if (shape.experts > MAX_EXPERTS) return `experts=${shape.experts} above the align kernel's ${MAX_EXPERTS}`;
  if (shape.topK > MAX_TOP_K) return `top_k=${shape.topK} above ${MAX_TOP_K}`;
  return routingProblem(shape);
}

/** The largest buffer of a case, judged before any host data is generated (the real presets need GiBs). */
function sizeProblem(shape: MoeShape, dtype: Dtype, block: number, limits: DeviceLimits): string | null {
  const el = elementBytes(dtype);
  const capacity = paddedCapacity(shape.tokens * shape.topK, shape.experts, block);
  const largest: [string, number][] = [
    ['w_gate_up', gateUpLength({ ...shape, dtype }) * el],
    ['xp', capacity * shape.hidden * el],
    ['act', capacity * shape.inter * el],
    ['logits', shape.tokens * shape.experts * 4],
    ['s_act', shape.tokens * shape.shared * shape.inter * el],
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
const asF64 =
  (values: ArrayLike<number>): (() => Float64Array) =>
  () =>
    Float64Array.from(values as ArrayLike<number>);

/** Every buffer of the step but the plan's extra uniforms: the shared uniforms, inputs, weights, scratch and outputs. */
function moeBuffers(g: MoeGeometry, inputs: MoeInputs): BufferDecl[] {
  const { shape, dtype, pairs, chunks, hidden4, sharedInter } = g;
  const { tokens, hidden, experts, inter, topK } = shape;
  const { capacity } = g.layout;
  const { block, chunk } = g.plan;
  const buffer = (
    name: string,
    role: BufferDecl['role'],
    type: BufferDecl['type'],
    length: number,
    data?: BufferDecl['data'],
  ): BufferDecl => storage(name, role, type, length, { canary: MOE_CANARY, ...(data && { data }) });
  return [
    // One uniform per group of kernels that declare the same struct (moe_route_params, moe_align_params).
    paramsUniform('route_params', SHADERS.moeLogits, {
      tokens,
      hidden,
      experts,
      top_k: topK,
      n_group: shape.nGroup,
      topk_group: shape.topkGroup,
      route_scale: shape.routeScale,
    }),
    paramsUniform('align_params', SHADERS.moeCount, { pairs, experts, block, chunk, chunks, capacity, top_k: topK, hidden4 }),
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
    buffer('yp', 'activations', dtype, capacity * hidden),
    buffer('w_down', 'weights', dtype, experts * inter * hidden, inputs.wDown),
    buffer('s_down', 'weights', dtype, sharedInter * hidden, inputs.sDown),
    buffer('ys', 'activations', dtype, tokens * hidden),
    buffer('out', 'activations', dtype, tokens * hidden),
    ...ffnBuffers(g, inputs, buffer),
  ];
}

/** The expert FFN's weights (gate and up side by side) and activations (in the storage type: a GEMM's A and C). */
function ffnBuffers(
  g: MoeGeometry,
  inputs: MoeInputs,
  buffer: (name: string, role: BufferDecl['role'], type: BufferDecl['type'], length: number, data?: Float32Array) => BufferDecl,
): BufferDecl[] {
  const { shape, dtype, sharedInter } = g;
  const weights = ffnWeights(g.ffn, inputs);
  return [
    buffer('w_gate_up', 'weights', dtype, weights.wGateUp.length, weights.wGateUp),
    buffer('s_gate_up', 'weights', dtype, shape.hidden * 2 * pairOffset(sharedInter, dtype), weights.sGateUp),
    buffer('act', 'scratch', dtype, g.layout.capacity * shape.inter),
    buffer('s_act', 'scratch', dtype, shape.tokens * sharedInter),
  ];
}

/** Exact checks of the routing and the layout, and the output against the float64 reference (sampled tokens when large). */
function moeChecks(g: MoeGeometry, inputs: MoeInputs, routing: RoutingResult, referenceBudgetFlops: number): OutputCheck[] {
  const { shape, dtype, layout } = g;
  const { tokens, hidden, experts, inter, topK } = shape;
  // Large GPU cases: the float64 output on evenly spaced tokens, as many as the reference budget pays for.
  const sampledTokens = sampleRows(tokens, hidden, 6 * hidden * (topK * inter + g.sharedInter), referenceBudgetFlops);
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
    const base = reductionTolerance(dtype, hidden + Math.max(inter, g.sharedInter), magnitude);
    return { atol: base.atol + magnitude * (EPSILON[dtype] + weightTolerance.rtol), rtol: base.rtol };
  };
  const { capacity } = layout;
  return [
    { buffer: 'topk_ids', shape: [tokens, topK], expected: asF64(routing.ids), tolerance: exact },
    { buffer: 'topk_weights', shape: [tokens, topK], expected: () => routing.weights, tolerance: weightTolerance },
    { buffer: 'expert_counts', shape: [experts], expected: asF64(layout.counts), tolerance: exact },
    { buffer: 'padded_total', shape: [1], expected: asF64([layout.paddedTotal]), tolerance: exact },
    { buffer: 'sorted_ids', shape: [capacity], expected: asF64(layout.sortedIds), tolerance: exact },
    { buffer: 'block_expert', shape: [capacity / g.plan.block], expected: asF64(layout.blockExpert), tolerance: exact },
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
}

function moeFacts({ shape, plan, layout, pairs, dtype, ffn }: MoeGeometry): Record<string, number | string> {
  const { tokens, hidden, inter, experts, shared, topK } = shape;
  const pairBytes = pairs * hidden * elementBytes(dtype);
  return {
    ...{ dispatch: plan.kind, tiling: ffn.tiling, tokens, hidden, inter, experts, shared, topK },
    ...{ nGroup: shape.nGroup, topkGroup: shape.topkGroup, scoreFunction: shape.scoreFunction, routeScale: shape.routeScale },
    ...{
      block: plan.block,
      pairs,
      paddedTokens: layout.paddedTotal,
      capacity: layout.capacity,
      expertsWithTokens: layout.counts.filter((c) => c > 0).length,
    },
    ...{ maxTokensPerExpert: maxAbs(layout.counts), meanTokensPerExpert: pairs / experts, loadImbalance: loadImbalance(layout.counts) },
    // Bytes of hidden x element size per selected (token, expert) pair (DeepEP accounting): what a same-size
    // copy would move for the permute and combine phases.
    permuteBytes: pairBytes,
    combineBytes: pairBytes,
    endToEnd: 'timing.wall: one step per submission, submit to done (host-loop: readback round trip included)',
  };
}

/** One MoE layer step as a case; `moeFamily` maps suite axes onto it. */
export function moeCase(shape: MoeShape, dtype: Dtype, context: BuildContext, options: MoeOptions = {}): BuildResult {
  const dispatch = options.dispatch ?? 'gpu';
  const tuned = overrideOf(context.plans, MOE_SLOT, 'moe');
  const defaultPlan = planMoe(shape, dispatch, options.block ?? defaultBlock(shape, options.tiling ?? 'workgroup'));
  const plan = tuned?.kind === dispatch ? tuned : defaultPlan;
  const blockProblem = (block: number): string | null => shapeProblem(shape, block) ?? sizeProblem(shape, dtype, block, context.limits);
  const skip = shapeProblem(shape, plan.block) ?? dtypeUnsupported(dtype, context) ?? sizeProblem(shape, dtype, plan.block, context.limits);
  if (skip) return { kind: 'skip', reason: skip };
  // Inputs from a test are taken as given; generated ones come with their router logits, computed once.
  const generated = options.inputs
    ? { inputs: options.inputs }
    : generateMoeInputs(shape, dtype, context.seed, options.balance ?? 'uniform');
  const { inputs } = generated;
  const routing = routeReference(shape, inputs, 'routerLogits' in generated ? generated.routerLogits : undefined);
  const pairs = shape.tokens * shape.topK;
  const layout = alignReference(routing.ids, shape.experts, plan.block);
  const sharedInter = shape.shared * shape.inter;
  const ffn: FfnContext = {
    ...{ hidden: shape.hidden, inter: shape.inter, experts: shape.experts, tokens: shape.tokens, pairs, sharedInter },
    ...{
      capacity: layout.capacity,
      block: plan.block,
      dtype,
      device: context,
      tiling: options.tiling ?? 'workgroup',
      plans: context.plans,
    },
  };
  const g: MoeGeometry = {
    ...{ shape, dtype, plan, layout, pairs, chunks: ceilDiv(pairs, plan.chunk), ffn },
    ...{ hidden4: shape.hidden / 4, sharedInter, maxDim: context.limits.maxComputeWorkgroupsPerDimension },
  };
  const dispatched = DISPATCH_EMITTERS[plan.kind](g);
  const kernelCase: KernelCase = {
    buffers: [...moeBuffers(g, inputs), ...dispatched.uniforms],
    stages: [...routeStages(g), ...alignStages(g), ...permuteStages(g), ...dispatched.stages],
    checks: moeChecks(g, inputs, routing, options.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS),
    facts: { ...moeFacts(g), ...dispatched.facts },
    stepTiming: 'wall',
    ...(dispatched.hostTail && { hostTail: dispatched.hostTail }),
    tunables: [
      {
        name: MOE_SLOT,
        chosen: { family: 'moe', plan },
        space: () => moePlanSpace(pairs, defaultPlan, options.block !== undefined, blockProblem).map((p) => ({ family: 'moe', plan: p })),
      },
      ...dispatched.tunables,
    ],
  };
  return { kind: 'case', kernelCase };
}

/** An axis that overrides a preset's value ('preset', or left out, keeps it). */
function presetNumber(params: Record<string, AxisValue>, name: string, preset: number): number {
  return params[name] === 'preset' ? preset : optionalNumber(params, name, preset);
}

export const moeFamily: KernelFamily = {
  sizedByData:
    'its buffers follow the routing of its tokens (the padded expert segments), made from its data: run it to see whether it fits',
  name: 'moe',
  requiredAxes: ['preset', 'tokens', 'dispatch', 'dtype'],
  // gpu and host-loop (and the GEMM tilings) run on the same inputs (same routing, same load), so their times compare directly.
  inputInvariantAxes: ['dispatch', 'tiling'],
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
    // A block the suite leaves out is the default's, and tunable.
    const block = params['block'] === undefined ? {} : { block: numberParam(params, 'block') };
    const tiling = optionalString(params, 'tiling', GEMM_TILINGS, 'workgroup');
    const built = moeCase(shape, dtype, context, { dispatch, balance, tiling, ...block });
    if (built.kind === 'case') built.kernelCase.facts = { preset: String(params['preset']), balance, ...built.kernelCase.facts };
    return built;
  },
};
