import { MLA_PRESETS } from '../mla-spec.js';
import { MOE_PRESETS } from '../moe.js';
import { roundUp4 } from './problem.js';

/**
 * The matrix products the models run, as GEMM shapes with the layouts the MLA and MoE stages use (MODELS.md):
 *   square          m = n = k = rows, the reference GEMM
 *   up-project      naive MLA's latent decompression: [rows = cached tokens x d_c] x [d_c x n_h (d_nope + d_v)], per
 *                   head h: the latent rows (d_c + d_r wide: the k_rope part is not read), shared by every head, times
 *                   [W_UK[h] | W_UV[h]] ([d_c x (d_nope + d_v)]) into [head][token][d_nope + d_v]
 *   absorb-q        absorbed MLA, per head h: q_lat[t][h] = q_nope[t][h] W_UK[h] ([d_nope x d_c]), rows = tokens;
 *                   A rows are [token][head][d_nope + d_r] (rope part unread), C rows [token][head][d_c + d_r]
 *                   (the rope part is another stage's: left as it was)
 *   absorb-o        absorbed MLA, per head: out[t][h] = o_lat[t][h] W_UV[h]^T ([d_c x d_v]), [token][head] rows
 *   q-proj          the query projection from its source (d_c' with query compression, else d_model) to
 *                   n_h (d_nope + d_r)
 *   o-proj          W_O: n_h d_v -> d_model
 *   expert-gate-up  one routed expert's gate and up projections side by side: [rows x hidden] x [hidden x 2 inter],
 *                   for `experts` experts (batch)
 *   expert-down     [rows x inter] x [inter x hidden] per expert
 *   custom          m, n, k, batch as given
 */
export const GEMM_OPS = [
  'square',
  'up-project',
  'absorb-q',
  'absorb-o',
  'q-proj',
  'o-proj',
  'expert-gate-up',
  'expert-down',
  'custom',
] as const;
export type GemmOp = (typeof GEMM_OPS)[number];

/** Models whose dims the ops take (MLA_PRESETS / MOE_PRESETS); `none` for square and custom. */
export const GEMM_MODELS = ['none', 'deepseek-v2-lite', 'deepseek-v2', 'deepseek-v3'] as const;
export type GemmModel = (typeof GEMM_MODELS)[number];

/** Ops whose product is one matrix per instance, so that a batch of instances (experts) is theirs to choose. */
export const BATCHED_OPS: readonly GemmOp[] = ['square', 'custom', 'q-proj', 'o-proj', 'expert-gate-up', 'expert-down'];

const MOE_OF: Record<Exclude<GemmModel, 'none'>, keyof typeof MOE_PRESETS> = {
  'deepseek-v2-lite': 'v2-lite',
  'deepseek-v2': 'v2',
  'deepseek-v3': 'v3',
};

/**
 * Rows of an operand in its buffer: `row` elements each (>= the matrix's width; the rest is another tensor's or
 * padding), batch-major ([batch][rows]), row-major ([rows][batch]: e.g. [token][head]) or one matrix shared by
 * the whole batch.
 */
export interface OperandLayout {
  row: number;
  order: 'batch-major' | 'row-major' | 'shared';
}

export interface GemmShape {
  m: number;
  n: number;
  k: number;
  batch: number;
  a: OperandLayout;
  /** Always [batch][k][row]: weights, n fastest. */
  b: { row: number };
  /** Never shared. */
  c: OperandLayout;
}

export interface ShapeRequest {
  op: GemmOp;
  model: GemmModel;
  /** m: the size (square), cached tokens (up-project), tokens (absorb, projections) or rows per expert. */
  rows: number;
  /** Independent instances, each with its own B (experts for the expert ops); 1 for ops batched by heads. */
  batch?: number;
  /** custom only. */
  n?: number;
  k?: number;
}

const dense = (width: number, order: OperandLayout['order'] = 'batch-major'): OperandLayout => ({ row: roundUp4(width), order });
/** A weight row padded to whole 16-byte units in either storage type (8 elements). */
const weightRow = (n: number): number => Math.ceil(n / 8) * 8;

/** The shape of an op, or why the request names none. */
export function gemmShape(request: ShapeRequest): GemmShape | string {
  const { op, model, rows } = request;
  const batch = request.batch ?? 1;
  if ((op === 'square' || op === 'custom') !== (model === 'none')) {
    return op === 'square' || op === 'custom'
      ? `op ${op} takes model=none (its sizes are its own)`
      : `op ${op} needs a model (${GEMM_MODELS.slice(1).join(', ')})`;
  }
  if (batch !== 1 && !BATCHED_OPS.includes(op))
    return `op ${op} has its own batch (its heads, or one matrix): batch=${batch} is for ${BATCHED_OPS.join(', ')}`;
  const plain = (n: number, k: number, b = 1): GemmShape => ({
    m: rows,
    n,
    k,
    batch: b,
    a: dense(k),
    b: { row: weightRow(n) },
    c: { row: n, order: 'batch-major' },
  });
  if (op === 'square') return plain(rows, rows, batch);
  if (op === 'custom') {
    if (request.n === undefined || request.k === undefined) return 'op custom needs n and k';
    return plain(request.n, request.k, batch);
  }
  const mla = MLA_PRESETS[model as Exclude<GemmModel, 'none'>];
  const moe = MOE_PRESETS[MOE_OF[model as Exclude<GemmModel, 'none'>]];
  const { heads: h, dNope, dRope, dV, dLatent: dC, dQLatent, dModel } = mla;
  switch (op) {
    case 'up-project':
      return {
        m: rows,
        n: dNope + dV,
        k: dC,
        batch: h,
        a: { row: dC + dRope, order: 'shared' },
        b: { row: dNope + dV },
        c: { row: dNope + dV, order: 'batch-major' },
      };
    case 'absorb-q':
      return {
        m: rows,
        n: dC,
        k: dNope,
        batch: h,
        a: { row: dNope + dRope, order: 'row-major' },
        b: { row: dC },
        c: { row: dC + dRope, order: 'row-major' },
      };
    case 'absorb-o':
      return { m: rows, n: dV, k: dC, batch: h, a: { row: dC, order: 'row-major' }, b: { row: dV }, c: { row: dV, order: 'row-major' } };
    case 'q-proj':
      return plain(h * (dNope + dRope), dQLatent > 0 ? dQLatent : dModel, batch);
    case 'o-proj':
      return plain(dModel, h * dV, batch);
    case 'expert-gate-up':
      return plain(2 * moe.inter, moe.hidden, batch);
    case 'expert-down':
      return plain(moe.hidden, moe.inter, batch);
  }
}
