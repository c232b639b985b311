/**
 * float64 reference of an MoE layer (routing, permutation layout, experts, combine), following the per-expert
 * loop of DeepSeek's reference MoE (DeepSeek-V3 inference/model.py: Gate, then for every expert with tokens
 * y[idx] += expert(x[idx]) * weights[idx, top], plus the shared experts).
 *
 * Tie-breaking (identical in kernels/moe_route.wgsl): experts are ordered by key descending and, among equal
 * keys, by lower expert index; groups likewise by group score, then lower group index. So the chosen experts
 * and their order are a pure function of the keys.
 */

export type ScoreFunction = 'softmax' | 'sigmoid';

export interface MoeRouting {
  scoreFunction: ScoreFunction;
  experts: number;
  topK: number;
  /** Routing groups (1 = no group limit) and how many of them a token may use. */
  nGroup: number;
  topkGroup: number;
  /** Gate weights divided by their sum over the k chosen experts. */
  renormalize: boolean;
  routeScale: number;
}

export interface MoeShape extends MoeRouting {
  tokens: number;
  hidden: number;
  /** Intermediate size of one routed expert. */
  inter: number;
  /** Shared experts, merged into one SwiGLU of intermediate shared * inter (as DeepSeek does). */
  shared: number;
}

/** Host tensors (f16 cases: values already rounded to f16). Layouts as the GPU sees them. */
export interface MoeInputs {
  /** [tokens][hidden] */
  x: Float32Array;
  /** Router: [hidden][experts] (expert fastest). */
  gate: Float32Array;
  /** Per-expert selection bias (sigmoid routing), [experts]; zeros for softmax. */
  bias: Float32Array;
  /** Routed experts: gate and up [experts][hidden][inter], down [experts][inter][hidden]. */
  wGate: Float32Array;
  wUp: Float32Array;
  wDown: Float32Array;
  /** Shared experts: gate and up [hidden][shared*inter], down [shared*inter][hidden]. */
  sGate: Float32Array;
  sUp: Float32Array;
  sDown: Float32Array;
}

export interface RoutingResult {
  /** [tokens][topK], best first. */
  ids: Uint32Array;
  /** [tokens][topK], routeScale included. */
  weights: Float64Array;
  /** [tokens][experts] router logits. */
  logits: Float64Array;
}

/** Selection key of an expert: the logit for softmax (softmax is monotone in it), sigmoid(logit) + bias for sigmoid. */
export function selectionKey(scoreFunction: ScoreFunction, logit: number, bias: number): number {
  return scoreFunction === 'softmax' ? logit : 1 / (1 + Math.exp(-logit)) + bias;
}

/** Group score: max key (softmax, DeepSeek-V2) or the sum of the top two keys (sigmoid with bias, V3; one if the group has one). */
export function groupScore(scoreFunction: ScoreFunction, keys: readonly number[]): number {
  if (scoreFunction === 'softmax') return Math.max(...keys);
  const sorted = [...keys].sort((a, b) => b - a);
  return (sorted[0] ?? 0) + (sorted[1] ?? 0);
}

/** Indices of the `count` largest values, largest first, lower index first among equals. */
export function topIndices(values: readonly number[], count: number, eligible: (index: number) => boolean = () => true): number[] {
  const order = values.map((_, index) => index).filter(eligible);
  order.sort((a, b) => values[b]! - values[a]! || a - b);
  return order.slice(0, count);
}

export function routingProblem(routing: MoeRouting): string | null {
  const { experts, topK, nGroup, topkGroup } = routing;
  if (!Number.isInteger(experts) || experts < 1) return `experts=${experts} must be a positive integer`;
  if (!Number.isInteger(topK) || topK < 1 || topK > experts) return `top_k=${topK} must be in [1, experts=${experts}]`;
  if (!Number.isInteger(nGroup) || nGroup < 1 || experts % nGroup !== 0) return `n_group=${nGroup} must divide experts=${experts}`;
  if (nGroup > 32) return `n_group=${nGroup} above the kernel's 32 groups`;
  if (!Number.isInteger(topkGroup) || topkGroup < 1 || topkGroup > nGroup)
    return `topk_group=${topkGroup} must be in [1, n_group=${nGroup}]`;
  const eligible = topkGroup * (experts / nGroup);
  if (eligible < topK) return `top_k=${topK} exceeds the ${eligible} experts in ${topkGroup} of ${nGroup} groups`;
  return null;
}

/** Router logits of one token, float64. */
export function tokenLogits(x: Float32Array, gate: Float32Array, hidden: number, experts: number, token: number): Float64Array {
  const logits = new Float64Array(experts);
  for (let h = 0; h < hidden; h++) {
    const xv = x[token * hidden + h]!;
    if (xv === 0) continue;
    const row = h * experts;
    for (let e = 0; e < experts; e++) logits[e]! += xv * gate[row + e]!;
  }
  return logits;
}

/** The selection keys and group scores of one token, in the order the kernel compares them. */
export function tokenKeys(routing: MoeRouting, logits: ArrayLike<number>, bias: Float32Array): { keys: number[]; groups: number[] } {
  const keys = Array.from({ length: routing.experts }, (_, e) => selectionKey(routing.scoreFunction, logits[e]!, bias[e]!));
  const size = routing.experts / routing.nGroup;
  const groups = Array.from({ length: routing.nGroup }, (_, g) => groupScore(routing.scoreFunction, keys.slice(g * size, (g + 1) * size)));
  return { keys, groups };
}

/** DeepSeek's Gate for one token: group-limited top-k, gate weights from the unbiased scores. */
export function routeToken(routing: MoeRouting, logits: ArrayLike<number>, bias: Float32Array): { ids: number[]; weights: number[] } {
  const { experts, topK, nGroup, topkGroup, scoreFunction } = routing;
  const { keys, groups } = tokenKeys(routing, logits, bias);
  const size = experts / nGroup;
  const chosenGroups = new Set(nGroup > 1 ? topIndices(groups, topkGroup) : [0]);
  const ids = topIndices(keys, topK, (e) => chosenGroups.has(Math.floor(e / size)));
  let scores: number[];
  if (scoreFunction === 'softmax') {
    let max = -Infinity;
    for (let e = 0; e < experts; e++) max = Math.max(max, logits[e]!);
    let sum = 0;
    for (let e = 0; e < experts; e++) sum += Math.exp(logits[e]! - max);
    scores = ids.map((e) => Math.exp(logits[e]! - max) / sum);
  } else {
    scores = ids.map((e) => 1 / (1 + Math.exp(-logits[e]!)));
  }
  const total = routing.renormalize ? scores.reduce((a, b) => a + b, 0) : 1;
  return { ids, weights: scores.map((s) => (s / total) * routing.routeScale) };
}

/** Routing of every token; `routerLogits` ([tokens][experts] of exactly these x and gate) spares computing them. */
export function routeReference(
  shape: MoeShape,
  inputs: Pick<MoeInputs, 'x' | 'gate' | 'bias'>,
  routerLogits?: Float64Array,
): RoutingResult {
  const { tokens, hidden, experts, topK } = shape;
  const ids = new Uint32Array(tokens * topK);
  const weights = new Float64Array(tokens * topK);
  const given = routerLogits?.length === tokens * experts ? routerLogits : undefined;
  const logits = given ?? new Float64Array(tokens * experts);
  for (let t = 0; t < tokens; t++) {
    const row = given ? given.subarray(t * experts, (t + 1) * experts) : tokenLogits(inputs.x, inputs.gate, hidden, experts, t);
    if (!given) logits.set(row, t * experts);
    const routed = routeToken(shape, row, inputs.bias);
    ids.set(routed.ids, t * topK);
    weights.set(routed.weights, t * topK);
  }
  return { ids, weights, logits };
}

/** Rows the permutation may use: every pair plus a partial block for each expert that can have tokens. */
export function paddedCapacity(pairs: number, experts: number, block: number): number {
  return Math.ceil((pairs + Math.min(experts, pairs) * (block - 1)) / block) * block;
}

/**
 * Expert-contiguous layout (vLLM moe_align_block_size): expert e's pairs (flat index token * topK + slot, in
 * ascending order) start at starts[e] = sum of the block-padded counts before it; padding rows, and every row
 * from the padded total up to the capacity, hold the sentinel `pairs`; blockExpert[b] is the expert of block b
 * (`experts` past the padded total).
 */
export interface AlignedLayout {
  counts: Uint32Array;
  starts: Uint32Array;
  sortedIds: Uint32Array;
  blockExpert: Uint32Array;
  /** Row of each pair in sortedIds. */
  positions: Uint32Array;
  paddedTotal: number;
  capacity: number;
}

export function alignReference(ids: Uint32Array, experts: number, block: number): AlignedLayout {
  const pairs = ids.length;
  const capacity = paddedCapacity(pairs, experts, block);
  const counts = new Uint32Array(experts);
  for (const e of ids) counts[e]!++;
  const starts = new Uint32Array(experts + 1);
  for (let e = 0; e < experts; e++) starts[e + 1] = starts[e]! + Math.ceil(counts[e]! / block) * block;
  const paddedTotal = starts[experts]!;
  const sortedIds = new Uint32Array(capacity).fill(pairs);
  const blockExpert = new Uint32Array(capacity / block).fill(experts);
  const positions = new Uint32Array(pairs);
  const next = starts.slice(0, experts);
  ids.forEach((e, pair) => {
    const row = next[e]!++;
    sortedIds[row] = pair;
    positions[pair] = row;
  });
  for (let e = 0; e < experts; e++) {
    for (let b = starts[e]! / block; b < starts[e + 1]! / block; b++) blockExpert[b] = e;
  }
  return { counts, starts, sortedIds, blockExpert, positions, paddedTotal, capacity };
}

const silu = (v: number): number => v / (1 + Math.exp(-v));

/** down(silu(x gate) * (x up)) of one row, float64; gate/up [hidden][inter], down [inter][hidden] at the given offsets. */
function swiglu(
  x: Float32Array,
  xOffset: number,
  hidden: number,
  inter: number,
  weights: { gate: Float32Array; up: Float32Array; down: Float32Array; offsetGateUp: number; offsetDown: number },
  out: Float64Array,
): void {
  const g = new Float64Array(inter);
  const u = new Float64Array(inter);
  for (let h = 0; h < hidden; h++) {
    const xv = x[xOffset + h]!;
    const row = weights.offsetGateUp + h * inter;
    for (let i = 0; i < inter; i++) {
      g[i]! += xv * weights.gate[row + i]!;
      u[i]! += xv * weights.up[row + i]!;
    }
  }
  out.fill(0);
  for (let i = 0; i < inter; i++) {
    const a = silu(g[i]!) * u[i]!;
    const row = weights.offsetDown + i * hidden;
    for (let h = 0; h < hidden; h++) out[h]! += a * weights.down[row + h]!;
  }
}

export interface MoeReference {
  /** [tokens][hidden] layer output (no residual). */
  out: Float64Array;
  /** Largest |expert output| over the routed experts' rows, and over the shared experts' outputs. */
  maxRouted: number;
  maxShared: number;
}

/**
 * DeepSeek's per-expert loop: y[idx] += expert(x[idx]) * weights[idx, top] for each expert with tokens, plus
 * shared(x). With `sampled`, only those tokens' rows (packed in the order given), token by token, and the
 * maxima over them: the check of a case too large for the whole reference.
 */
export function moeReference(
  shape: MoeShape,
  inputs: MoeInputs,
  routing: Pick<RoutingResult, 'ids' | 'weights'>,
  sampled?: readonly number[],
): MoeReference {
  const { tokens, hidden, experts, inter, topK, shared } = shape;
  const row = new Float64Array(hidden);
  const expertWeights = (e: number) => ({
    gate: inputs.wGate,
    up: inputs.wUp,
    down: inputs.wDown,
    offsetGateUp: e * hidden * inter,
    offsetDown: e * inter * hidden,
  });
  const sharedWeights = { gate: inputs.sGate, up: inputs.sUp, down: inputs.sDown, offsetGateUp: 0, offsetDown: 0 };
  let maxRouted = 0;
  let maxShared = 0;
  if (sampled) {
    const out = new Float64Array(sampled.length * hidden);
    sampled.forEach((token, i) => {
      if (!(token >= 0 && token < tokens)) throw new Error(`MoE reference: token ${token} outside 0..${tokens - 1}`);
      for (let j = 0; j < topK; j++) {
        swiglu(inputs.x, token * hidden, hidden, inter, expertWeights(routing.ids[token * topK + j]!), row);
        const w = routing.weights[token * topK + j]!;
        for (let h = 0; h < hidden; h++) {
          maxRouted = Math.max(maxRouted, Math.abs(row[h]!));
          out[i * hidden + h]! += w * row[h]!;
        }
      }
      if (shared > 0) {
        swiglu(inputs.x, token * hidden, hidden, shared * inter, sharedWeights, row);
        for (let h = 0; h < hidden; h++) {
          maxShared = Math.max(maxShared, Math.abs(row[h]!));
          out[i * hidden + h]! += row[h]!;
        }
      }
    });
    return { out, maxRouted, maxShared };
  }
  const out = new Float64Array(tokens * hidden);
  for (let e = 0; e < experts; e++) {
    const weights = expertWeights(e);
    for (let pair = 0; pair < tokens * topK; pair++) {
      if (routing.ids[pair] !== e) continue;
      const token = Math.floor(pair / topK);
      swiglu(inputs.x, token * hidden, hidden, inter, weights, row);
      const w = routing.weights[pair]!;
      for (let h = 0; h < hidden; h++) {
        maxRouted = Math.max(maxRouted, Math.abs(row[h]!));
        out[token * hidden + h]! += w * row[h]!;
      }
    }
  }
  if (shared > 0) {
    for (let t = 0; t < tokens; t++) {
      swiglu(inputs.x, t * hidden, hidden, shared * inter, sharedWeights, row);
      for (let h = 0; h < hidden; h++) {
        maxShared = Math.max(maxShared, Math.abs(row[h]!));
        out[t * hidden + h]! += row[h]!;
      }
    }
  }
  return { out, maxRouted, maxShared };
}

/** Tokens per expert: max over mean (1 = perfectly balanced). */
export function loadImbalance(counts: Uint32Array): number {
  let max = 0;
  let sum = 0;
  for (const c of counts) {
    max = Math.max(max, c);
    sum += c;
  }
  return sum === 0 ? 0 : max / (sum / counts.length);
}
