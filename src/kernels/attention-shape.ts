import { visibleTokens, type AttentionProblem } from '../reference/attention.js';

/** The attention problem as the attention core's plans and kernels see it (see attention.ts for the layouts). */

export const KV_LAYOUT =
  '[batch][kv_head][token][dim] packed ragged (sequence b from token offset sum(kvLens[<b])), rows padded to 4 elements';

export const PAGED_KV_LAYOUT =
  'pages [n_kv][page_size][dim] (rows padded to 4 elements) in a shuffled order per block table [batch][max_pages], spread over buffers of at most one binding';

export interface AttentionShape {
  batch: number;
  /** Query heads. */
  nQ: number;
  /** KV heads: nQ for MHA, 1 for MQA, a divisor of nQ in between for GQA. */
  nKv: number;
  dQk: number;
  dV: number;
  /** Queries per sequence (decode: 1 to a few; prefill: the whole prompt). */
  qLen: number;
  /** Cached tokens per sequence, including the q_len new ones when causal. */
  kvLens: number[];
  causal: boolean;
  /** Softmax scale; 1 / sqrt(dQk) when absent. */
  scale?: number;
}

export const ATTENTION_PHASES = ['decode', 'prefill'] as const;
export type AttentionPhase = (typeof ATTENTION_PHASES)[number];

/**
 * How a kernel maps work onto invocations. 'workgroup' (default; GPUs): tiles in workgroup memory, coalesced
 * loads, register tiles. 'rows' (CPU adapters such as lavapipe): each invocation owns a few query rows and
 * one KV split; no workgroup memory or barriers (kernels/attention_rows_subgroup.wgsl: the rows of a workgroup
 * walk the same tokens, loading K/V rows cooperatively across subgroup lanes; kernels/attention_columns.wgsl:
 * fewer rows than lanes (MHA decode), the lanes of a subgroup split the head dims of its rows and sum their dot
 * products with subgroupAdd; kernels/attention_rows.wgsl: each invocation walks its split alone, for adapters
 * without subgroups). On lavapipe
 * every load is a per-lane gather and a barrier makes the whole shader a coroutine, which costs the
 * workgroup-tiled kernels 2-4x there.
 */
export const ATTENTION_TILINGS = ['workgroup', 'rows'] as const;
export type AttentionTiling = (typeof ATTENTION_TILINGS)[number];

/** Query rows per KV head: q_len x the query heads that read it. */
export function queryRows(shape: AttentionShape): number {
  return shape.qLen * (shape.nQ / shape.nKv);
}

/** The longest sequence's cached tokens (at least 1). */
export function longestKv(shape: AttentionShape): number {
  return Math.max(1, ...shape.kvLens);
}

/** Why the shape is no attention problem, or null. */
export function shapeProblem(shape: AttentionShape): string | null {
  const { batch, nQ, nKv, dQk, dV, qLen, kvLens } = shape;
  for (const [name, value] of Object.entries({ batch, nQ, nKv, dQk, dV, qLen })) {
    if (!Number.isInteger(value) || value < 1) return `${name}=${value} must be a positive integer`;
  }
  if (nQ % nKv !== 0) return `n_q=${nQ} is not a multiple of n_kv=${nKv}`;
  if (kvLens.length !== batch) return `${kvLens.length} KV lengths for batch ${batch}`;
  if (kvLens.some((len) => !Number.isInteger(len) || len < 0)) return 'every KV length must be a non-negative integer';
  return null;
}

/** Analytic attention FLOPs: 2 (d_qk + d_v) per visible (query, token) pair and head. */
export function attentionFlops(problem: AttentionProblem): number {
  let pairs = 0;
  for (let b = 0; b < problem.batch; b++) {
    for (let s = 0; s < problem.qLen; s++) pairs += visibleTokens(problem, b, s);
  }
  return 2 * pairs * problem.nQ * (problem.dQk + problem.dV);
}
