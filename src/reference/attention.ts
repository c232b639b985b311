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

/**
 * A K or V cache's rows wherever they sit (a paged pool, a seeded table standing for a GPU-sized cache): the values of
 * token t of KV head g of sequence b start at data[start(b, g, t)].
 */
export interface CacheRows {
  readonly data: ArrayLike<number>;
  start(b: number, g: number, t: number): number;
}

export interface AttentionInputs {
  q: Float32Array;
  /** The packed layout above, or rows from anywhere. */
  k: ArrayLike<number> | CacheRows;
  v: ArrayLike<number> | CacheRows;
}

/** Rows of width `d` in the packed ragged layout above. */
function packedRows(data: ArrayLike<number>, kvLens: readonly number[], nKv: number, d: number): CacheRows {
  const starts = kvStarts(kvLens);
  return { data, start: (b, g, t) => ((starts[b] as number) * nKv + g * (kvLens[b] as number) + t) * d };
}

function cacheRows(x: ArrayLike<number> | CacheRows, problem: AttentionProblem, d: number): CacheRows {
  return 'start' in x ? x : packedRows(x, problem.kvLens, problem.nKv, d);
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
  const total = batch * qLen * nQ;
  const count = rows ? rows.length : total;
  const out = new Float64Array(count * dV);
  const { q } = inputs;
  const k = cacheRows(inputs.k, problem, dQk);
  const v = cacheRows(inputs.v, problem, dV);
  const scores = new Float64Array(Math.max(1, ...problem.kvLens));
  for (let index = 0; index < count; index++) {
    const row = rows ? (rows[index] as number) : index;
    if (!(row >= 0 && row < total)) throw new Error(`attention reference: row ${row} outside 0..${total - 1}`);
    const h = row % nQ;
    const s = Math.floor(row / nQ) % qLen;
    const b = Math.floor(row / (nQ * qLen));
    const visible = visibleTokens(problem, b, s);
    if (visible === 0) continue; // zeros
    const g = Math.floor(h / group);
    const qBase = row * dQk;
    const oBase = index * dV;
    let max = -Infinity;
    for (let t = 0; t < visible; t++) {
      const kBase = k.start(b, g, t);
      let dot = 0;
      for (let i = 0; i < dQk; i++) dot += (q[qBase + i] as number) * (k.data[kBase + i] as number);
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
      const vBase = v.start(b, g, t);
      for (let i = 0; i < dV; i++) out[oBase + i] = (out[oBase + i] as number) + w * (v.data[vBase + i] as number);
    }
  }
  return out;
}
