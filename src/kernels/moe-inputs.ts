import { mulberry32 } from '../core/random.js';
import { EPSILON } from '../reference/allclose.js';
import { tokenKeys, tokenLogits, topIndices, type MoeInputs, type MoeShape } from '../reference/moe.js';
import { seededUniform } from '../reference/random.js';
import { roundToF16 } from '../util/f16.js';
import type { Dtype } from './spec.js';

/**
 * Load balance of the generated routing. uniform: random router; skewed: hidden feature 0 of every token is 1
 * and the router's row 0 favours low expert indices (decaying exponentially), so a few experts get most tokens;
 * single: expert 0 wins every token's first slot by far (with top_k 1 every token goes to one expert).
 */
export const MOE_BALANCES = ['uniform', 'skewed', 'single'] as const;
export type MoeBalance = (typeof MOE_BALANCES)[number];

const MAX_REDRAWS = 200;

function round(dtype: Dtype, x: number): number {
  return dtype === 'f16' ? roundToF16(x) : Math.fround(x);
}

/** Smallest gap between neighbours among the first `count` + 1 of values sorted descending (Infinity if none). */
function leadingGap(sorted: readonly number[], count: number, orderMatters: boolean): number {
  let gap = Infinity;
  const first = orderMatters ? 0 : Math.max(0, count - 1);
  for (let i = first; i < Math.min(count, sorted.length - 1); i++) gap = Math.min(gap, sorted[i]! - sorted[i + 1]!);
  return gap;
}

/**
 * Whether a token's routing is robust to the GPU's f32 keys: every gap that decides the chosen groups, the
 * chosen experts and their order is larger than `margin`. Exact ties would be fine (both sides break them by
 * index, as a test with tied inputs shows), but f32 keys can merge or split near ties, so generated inputs avoid both.
 */
export function routingIsSeparated(shape: MoeShape, logits: ArrayLike<number>, bias: Float32Array, margin: number): boolean {
  const { keys, groups } = tokenKeys(shape, logits, bias);
  const size = shape.experts / shape.nGroup;
  let allowed = (_e: number): boolean => true;
  if (shape.nGroup > 1) {
    const sortedGroups = [...groups].sort((a, b) => b - a);
    if (leadingGap(sortedGroups, shape.topkGroup, false) <= margin) return false;
    const chosen = new Set(topIndices(groups, shape.topkGroup));
    allowed = (e) => chosen.has(Math.floor(e / size));
  }
  const eligible = keys.filter((_, e) => allowed(e)).sort((a, b) => b - a);
  return leadingGap(eligible, shape.topK, true) > margin;
}

/**
 * A bound on the f32 rounding error of every router logit of a token (random walk: sqrt(hidden) roundings of the
 * sum of |terms|, times 4), from the largest |x| of the token and the largest column sum of |gate| (computed once).
 */
function logitBound(x: Float32Array, token: number, hidden: number, maxGateColumn: number): number {
  let maxX = 0;
  for (let h = 0; h < hidden; h++) maxX = Math.max(maxX, Math.abs(x[token * hidden + h]!));
  return 4 * maxX * maxGateColumn * Math.sqrt(hidden) * EPSILON.f32;
}

function maxAbsColumnSum(gate: Float32Array, hidden: number, experts: number): number {
  const sums = new Float64Array(experts);
  for (let h = 0; h < hidden; h++) for (let e = 0; e < experts; e++) sums[e]! += Math.abs(gate[h * experts + e]!);
  return Math.max(0, ...sums);
}

/**
 * Seeded inputs rounded to the storage type. Token rows whose routing hinges on a near tie (closer than a
 * generous bound on the f32 error of the keys) are redrawn, so expert ids can be compared exactly.
 */
export function moeInputs(shape: MoeShape, dtype: Dtype, seed: number, balance: MoeBalance): MoeInputs {
  return generateMoeInputs(shape, dtype, seed, balance).inputs;
}

/** moeInputs, with the float64 router logits [tokens][experts] of the final draw (routeReference can reuse them). */
export function generateMoeInputs(
  shape: MoeShape,
  dtype: Dtype,
  seed: number,
  balance: MoeBalance,
): { inputs: MoeInputs; routerLogits: Float64Array } {
  const { tokens, hidden, experts, inter, shared } = shape;
  const x = seededUniform(tokens * hidden, seed, dtype);
  const gate = seededUniform(hidden * experts, (seed + 1) >>> 0, dtype, -2 / Math.sqrt(hidden), 2 / Math.sqrt(hidden));
  const bias = shape.scoreFunction === 'sigmoid' ? seededUniform(experts, (seed + 2) >>> 0, 'f32', -0.05, 0.05) : new Float32Array(experts);
  if (balance !== 'uniform') {
    for (let t = 0; t < tokens; t++) x[t * hidden] = 1;
    for (let e = 0; e < experts; e++) {
      gate[e] = round(dtype, balance === 'skewed' ? 1.5 * Math.exp((-4 * e) / experts) : e === 0 ? 8 : 0);
    }
  }
  const redraw = mulberry32((seed + 3) >>> 0);
  const maxGateColumn = maxAbsColumnSum(gate, hidden, experts);
  // Kept for routeReference: the logits of the final draw of every token.
  const routerLogits = new Float64Array(tokens * experts);
  for (let t = 0; t < tokens; t++) {
    for (let attempt = 0; ; attempt++) {
      const logits = tokenLogits(x, gate, hidden, experts, t);
      if (routingIsSeparated(shape, logits, bias, logitBound(x, t, hidden, maxGateColumn) + 1e-7)) {
        routerLogits.set(logits, t * experts);
        break;
      }
      if (attempt === MAX_REDRAWS) throw new Error(`cannot draw well-separated router inputs for token ${t}`);
      for (let h = balance === 'uniform' ? 0 : 1; h < hidden; h++) x[t * hidden + h] = round(dtype, 2 * redraw() - 1);
    }
  }
  const scaled = (length: number, offset: number, fanIn: number): Float32Array =>
    seededUniform(length, (seed + offset) >>> 0, dtype, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));
  const sharedInter = shared * inter;
  const inputs: MoeInputs = {
    x,
    gate,
    bias,
    wGate: scaled(experts * hidden * inter, 4, hidden),
    wUp: scaled(experts * hidden * inter, 5, hidden),
    wDown: scaled(experts * inter * hidden, 6, inter),
    sGate: scaled(hidden * sharedInter, 7, hidden),
    sUp: scaled(hidden * sharedInter, 8, hidden),
    sDown: scaled(sharedInter * hidden, 9, sharedInter),
  };
  return { inputs, routerLogits };
}
