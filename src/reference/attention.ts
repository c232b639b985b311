/**
 * float64 reference for scaled dot-product attention: MHA, GQA and MQA, prefill and decode, ragged batches.
 * Plain loops over the same (already rounded) inputs the GPU sees; it depends on nothing but its arguments.
 *
 * Tensor layouts (row-major, element offsets):
 *   q   [batch][q_len][n_q][d_qk]
 *   out [batch][q_len][n_q][d_v]
 *   k   [batch][n_kv][token][d_qk]  ragged: sequence b holds kvLens[b] tokens and starts at token offset
 *   v   [batch][n_kv][token][d_v]           kvStart(b) = kvLens[0] + ... + kvLens[b-1], so element
 *                                            (b, g, t, i) of k sits at ((kvStart(b) * n_kv) + g * kvLens[b] + t) * d_qk + i
 * Query head h reads KV head floor(h / (n_q / n_kv)). With `causal`, the q_len queries are the LAST q_len
 * positions of their sequence: query s sits at position kvLens[b] - q_len + s and sees tokens t <= that position.
 * A query that sees no token (possible only when kvLens[b] < q_len) outputs zeros.
 */
export interface AttentionProblem {
  batch: number;
  nQ: number;
  nKv: number;
  qLen: number;
  dQk: number;
  dV: number;
  /** Cached tokens per sequence (length batch). */
  kvLens: readonly number[];
  causal: boolean;
  /** Softmax scale applied to q . k (usually 1 / sqrt(d_qk)). */
  scale: number;
}

export interface AttentionInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
}

/** Token offset of each sequence in the packed KV layout (exclusive prefix sum of kvLens). */
export function kvStarts(kvLens: readonly number[]): number[] {
  const starts: number[] = [];
  let sum = 0;
  for (const len of kvLens) {
    starts.push(sum);
    sum += len;
  }
  return starts;
}

/** Tokens query s of sequence b may attend to: [0, visibleTokens). */
export function visibleTokens(problem: AttentionProblem, b: number, s: number): number {
  const len = problem.kvLens[b] as number;
  if (!problem.causal) return len;
  return Math.max(0, Math.min(len, len - problem.qLen + s + 1));
}

/**
 * The reference output, every row, or only `rows` (output row r = (b * q_len + s) * n_q + h, its d_v values
 * packed in the order given) where the whole would cost the host too long.
 */
export function attentionReference(problem: AttentionProblem, inputs: AttentionInputs, rows?: readonly number[]): Float64Array {
  const { batch, nQ, nKv, qLen, dQk, dV, scale } = problem;
  if (nQ % nKv !== 0) throw new Error(`attention reference: n_q=${nQ} is not a multiple of n_kv=${nKv}`);
  if (problem.kvLens.length !== batch) throw new Error(`attention reference: ${problem.kvLens.length} kv lengths for batch ${batch}`);
  const group = nQ / nKv;
  const starts = kvStarts(problem.kvLens);
  const total = batch * qLen * nQ;
  const count = rows ? rows.length : total;
  const out = new Float64Array(count * dV);
  const { q, k, v } = inputs;
  const scores = new Float64Array(Math.max(1, ...problem.kvLens));
  for (let index = 0; index < count; index++) {
    const row = rows ? (rows[index] as number) : index;
    if (!(row >= 0 && row < total)) throw new Error(`attention reference: row ${row} outside 0..${total - 1}`);
    const h = row % nQ;
    const s = Math.floor(row / nQ) % qLen;
    const b = Math.floor(row / (nQ * qLen));
    const len = problem.kvLens[b] as number;
    const start = starts[b] as number;
    const visible = visibleTokens(problem, b, s);
    if (visible === 0) continue; // zeros
    const g = Math.floor(h / group);
    const qBase = row * dQk;
    const kBase = (start * nKv + g * len) * dQk;
    const vBase = (start * nKv + g * len) * dV;
    const oBase = index * dV;
    let max = -Infinity;
    for (let t = 0; t < visible; t++) {
      let dot = 0;
      for (let i = 0; i < dQk; i++) dot += (q[qBase + i] as number) * (k[kBase + t * dQk + i] as number);
      const score = dot * scale;
      scores[t] = score;
      if (score > max) max = score;
    }
    let sum = 0;
    for (let t = 0; t < visible; t++) {
      const p = Math.exp((scores[t] as number) - max);
      scores[t] = p;
      sum += p;
    }
    for (let t = 0; t < visible; t++) {
      const w = (scores[t] as number) / sum;
      for (let i = 0; i < dV; i++) out[oBase + i] = (out[oBase + i] as number) + w * (v[vBase + t * dV + i] as number);
    }
  }
  return out;
}
