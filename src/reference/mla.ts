/**
 * float64 reference for one layer of Multi-head Latent Attention (DeepSeek-V2/V3), in both forms:
 *   naive:    decompress every cached latent into per-head k = [W_UK,h c ; k_rope] and v = W_UV,h c, then
 *             ordinary attention with qk dim d_nope + d_r and v dim d_v (the straightforward formulation);
 *   absorbed: q_lat,h = W_UK,h^T q_nope,h; scores = q_lat . c + q_rope . k_rope over the one shared latent
 *             cache; o_lat = sum p c; o_h = W_UV,h o_lat.
 * Both use the softmax scale 1 / sqrt(d_nope + d_r). Plain loops; depends on nothing but its arguments.
 *
 * Layouts (row-major, element offsets); T = batch * q_len new tokens, L_b = cached tokens of sequence b
 * (`context` for every sequence, or kvLens[b] in a ragged batch; the q_len new ones included: query s of
 * sequence b sits at position L_b - q_len + s and, causally, sees tokens 0 ..= that position; a sequence
 * with no cached token (L_b = 0, a padding slot) outputs zeros):
 *   qIn     [batch][q_len][heads][d_nope + d_r]   per head q_nope, then q_rope BEFORE RoPE
 *   latent  [sum L_b][d_c + d_r]                  packed: sequence b from row L_0 + ... + L_(b-1)
 *                                                 ([batch][L][d_c + d_r] when every L_b = L); c_KV
 *                                                 (normalised), then k_rope AFTER RoPE
 *   wUK     [heads][d_nope][d_c]                  k_nope,h = W_UK,h c
 *   wUV     [heads][d_v][d_c]                     v_h = W_UV,h c
 *   out     [batch][q_len][heads][d_v]
 * Per-layer path (row vectors times [in][out] matrices): c_Q = RMSNorm(h W_DQ) (skipped when d_c' = 0),
 * qIn = c_Q W_UQ (or h W_Q); [c_KV ; k_r] = h W_DKV, c_KV = RMSNorm(c_KV), k_rope = RoPE(k_r) at the
 * token's position, appended to the cache; y = out W_O (out flattened per token to heads * d_v).
 *
 * RoPE (one convention for q and k): pairs (x[2i], x[2i+1]) of the d_r rope dims rotate by the angle
 * position * theta^(-2i / d_r), theta = 10000:  (x0 cos - x1 sin, x0 sin + x1 cos). This is GPT-J's
 * interleaved form, which DeepSeek's checkpoints amount to (their modelling code de-interleaves the
 * weights' rope dims, then applies rotate-half); no YaRN scaling.
 */
export interface MlaDims {
  heads: number;
  dNope: number;
  dRope: number;
  dV: number;
  /** d_c, kv_lora_rank. */
  dLatent: number;
  /** d_c', q_lora_rank; 0 = no query compression. */
  dQLatent: number;
  dModel: number;
}

export interface MlaProblem {
  dims: MlaDims;
  batch: number;
  qLen: number;
  /** Cached tokens per sequence, the q_len new ones included (the longest where kvLens is given). */
  context: number;
  /** Ragged batches: each sequence's cached tokens (0, or at least q_len); absent: `context` for all. */
  kvLens?: readonly number[];
  scale: number;
  ropeTheta: number;
}

export interface MlaWeights {
  wUK: Float32Array;
  wUV: Float32Array;
}

export interface MlaLayerWeights {
  /** [d_model][d_c'] and the norm's gain [d_c'], when d_c' > 0. */
  wDQ?: Float32Array;
  qNorm?: Float32Array;
  /** [d_c' or d_model][heads * (d_nope + d_r)]. */
  wUQ: Float32Array;
  /** [d_model][d_c + d_r]. */
  wDKV: Float32Array;
  kvNorm: Float32Array;
}

export const ROPE_THETA = 10000;
export const RMS_NORM_EPS = 1e-6;

export function mlaScale(dims: Pick<MlaDims, 'dNope' | 'dRope'>): number {
  return 1 / Math.sqrt(dims.dNope + dims.dRope);
}

type Lengths = Pick<MlaProblem, 'batch' | 'context' | 'kvLens'>;

/** Cached tokens of sequence b. */
export function seqLength(problem: Pick<MlaProblem, 'context' | 'kvLens'>, b: number): number {
  return problem.kvLens ? (problem.kvLens[b] as number) : problem.context;
}

/** Each sequence's cached tokens. */
export function seqLengths(problem: Lengths): number[] {
  return Array.from({ length: problem.batch }, (_, b) => seqLength(problem, b));
}

/** First row of each sequence in the packed latent layout (exclusive prefix sum of the lengths). */
export function seqStarts(problem: Lengths): number[] {
  const starts: number[] = [];
  let sum = 0;
  for (const len of seqLengths(problem)) {
    starts.push(sum);
    sum += len;
  }
  return starts;
}

/** Position of new token s of sequence b (negative in a sequence with no cached token). */
export function queryPosition(problem: Pick<MlaProblem, 'qLen' | 'context' | 'kvLens'>, s: number, b = 0): number {
  return seqLength(problem, b) - problem.qLen + s;
}

/** Tokens new token s of sequence b sees, causally: [0, visible). */
function visibleTokens(problem: MlaProblem, b: number, s: number): number {
  return Math.max(0, Math.min(seqLength(problem, b), queryPosition(problem, s, b) + 1));
}

/** Rotates x[offset .. offset + dRope) in place at `position`. */
export function applyRope(x: Float64Array, offset: number, dRope: number, position: number, theta = ROPE_THETA): void {
  for (let i = 0; i < dRope / 2; i++) {
    const angle = position * theta ** ((-2 * i) / dRope);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const x0 = x[offset + 2 * i] as number;
    const x1 = x[offset + 2 * i + 1] as number;
    x[offset + 2 * i] = x0 * c - x1 * s;
    x[offset + 2 * i + 1] = x0 * s + x1 * c;
  }
}

/**
 * cos/sin of every new token's rotation, (cos, sin) pairs as the GPU reads them: [q_len][d_r / 2] when every
 * sequence holds `context` tokens, [batch][q_len][d_r / 2] in a ragged batch (positions differ per sequence).
 */
export function ropeTable(problem: Pick<MlaProblem, 'qLen' | 'context' | 'kvLens' | 'ropeTheta'>, dRope: number): Float64Array {
  const rows = (problem.kvLens?.length ?? 1) * problem.qLen;
  const table = new Float64Array(rows * dRope);
  for (let r = 0; r < rows; r++) {
    const position = queryPosition(problem, r % problem.qLen, Math.floor(r / problem.qLen));
    for (let i = 0; i < dRope / 2; i++) {
      const angle = position * problem.ropeTheta ** ((-2 * i) / dRope);
      table[r * dRope + 2 * i] = Math.cos(angle);
      table[r * dRope + 2 * i + 1] = Math.sin(angle);
    }
  }
  return table;
}

/** y[r] = x[r] W for rows of x ([rows][n_in]) and W [n_in][n_out]. */
export function matmulRows(x: ArrayLike<number>, rows: number, w: ArrayLike<number>, nIn: number, nOut: number): Float64Array {
  const y = new Float64Array(rows * nOut);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < nIn; i++) {
      const a = x[r * nIn + i] as number;
      if (a === 0) continue;
      const wRow = i * nOut;
      const yRow = r * nOut;
      for (let o = 0; o < nOut; o++) y[yRow + o] = (y[yRow + o] as number) + a * (w[wRow + o] as number);
    }
  }
  return y;
}

/** RMSNorm of x[offset .. offset + d) with gain, in place. */
export function rmsNorm(x: Float64Array, offset: number, d: number, gain: ArrayLike<number>, eps = RMS_NORM_EPS): void {
  let sum = 0;
  for (let i = 0; i < d; i++) sum += (x[offset + i] as number) ** 2;
  const inv = 1 / Math.sqrt(sum / d + eps);
  for (let i = 0; i < d; i++) x[offset + i] = (x[offset + i] as number) * inv * (gain[i] as number);
}

/**
 * The per-layer path from hidden states [batch][q_len][d_model]: the queries before RoPE (qIn) and the new
 * tokens' cache rows [batch][q_len][d_c + d_r] (normalised latent, roped key).
 */
export function mlaLayerInputs(
  problem: MlaProblem,
  weights: MlaLayerWeights,
  hidden: ArrayLike<number>,
): { qIn: Float64Array; newLatent: Float64Array } {
  const { dims, batch, qLen } = problem;
  const tokens = batch * qLen;
  const qWidth = dims.heads * (dims.dNope + dims.dRope);
  let qSource: ArrayLike<number> = hidden;
  let qSourceWidth = dims.dModel;
  if (dims.dQLatent > 0) {
    if (!weights.wDQ || !weights.qNorm) throw new Error("mla reference: d_c' > 0 needs wDQ and qNorm");
    const cQ = matmulRows(hidden, tokens, weights.wDQ, dims.dModel, dims.dQLatent);
    for (let t = 0; t < tokens; t++) rmsNorm(cQ, t * dims.dQLatent, dims.dQLatent, weights.qNorm);
    qSource = cQ;
    qSourceWidth = dims.dQLatent;
  }
  const qIn = matmulRows(qSource, tokens, weights.wUQ, qSourceWidth, qWidth);
  const row = dims.dLatent + dims.dRope;
  const newLatent = matmulRows(hidden, tokens, weights.wDKV, dims.dModel, row);
  for (let t = 0; t < tokens; t++) {
    rmsNorm(newLatent, t * row, dims.dLatent, weights.kvNorm);
    const position = queryPosition(problem, t % qLen, Math.floor(t / qLen));
    applyRope(newLatent, t * row + dims.dLatent, dims.dRope, position, problem.ropeTheta);
  }
  return { qIn, newLatent };
}

/** The cache with the new tokens' rows written at their positions (the last q_len of each sequence). */
export function appendToCache(problem: MlaProblem, latent: ArrayLike<number>, newLatent: ArrayLike<number>): Float64Array {
  const { dims, batch, qLen } = problem;
  const row = dims.dLatent + dims.dRope;
  const cache = Float64Array.from(latent);
  const starts = seqStarts(problem);
  for (let b = 0; b < batch; b++) {
    if (seqLength(problem, b) === 0) continue;
    for (let s = 0; s < qLen; s++) {
      const to = ((starts[b] as number) + queryPosition(problem, s, b)) * row;
      const from = (b * qLen + s) * row;
      for (let i = 0; i < row; i++) cache[to + i] = newLatent[from + i] as number;
    }
  }
  return cache;
}

/** The latent cache's rows wherever they sit: token t of sequence b starts at data[start(b, t)]. */
export interface LatentRows {
  readonly data: ArrayLike<number>;
  start(b: number, t: number): number;
}

/** The latent cache in the packed layout above, or rows from anywhere. */
export type Latent = ArrayLike<number> | LatentRows;

function latentRows(latent: Latent, problem: MlaProblem): LatentRows {
  if ('start' in latent) return latent;
  const row = problem.dims.dLatent + problem.dims.dRope;
  const starts = seqStarts(problem);
  return { data: latent, start: (b, t) => ((starts[b] as number) + t) * row };
}

export interface MlaAttentionResult {
  /** [batch][q_len][heads][d_v]. */
  out: Float64Array;
  /** Largest |scaled score| seen (for tolerances). */
  maxScore: number;
}

function roped(problem: MlaProblem, qIn: ArrayLike<number>, b: number, s: number, h: number): Float64Array {
  const { dims, qLen } = problem;
  const width = dims.dNope + dims.dRope;
  const base = ((b * qLen + s) * dims.heads + h) * width;
  const q = new Float64Array(width);
  for (let i = 0; i < width; i++) q[i] = qIn[base + i] as number;
  applyRope(q, dims.dNope, dims.dRope, queryPosition(problem, s, b), problem.ropeTheta);
  return q;
}

/** softmax(scores[0 .. n)) in place; returns the largest |score|. */
function softmaxInPlace(scores: Float64Array, n: number): number {
  let max = -Infinity;
  let maxAbs = 0;
  for (let t = 0; t < n; t++) {
    max = Math.max(max, scores[t] as number);
    maxAbs = Math.max(maxAbs, Math.abs(scores[t] as number));
  }
  let sum = 0;
  for (let t = 0; t < n; t++) {
    const p = Math.exp((scores[t] as number) - max);
    scores[t] = p;
    sum += p;
  }
  for (let t = 0; t < n; t++) scores[t] = (scores[t] as number) / sum;
  return maxAbs;
}

/** The naive form: every cached latent decompressed per head, then attention with qk d_nope + d_r, v d_v. */
export function mlaNaiveReference(problem: MlaProblem, weights: MlaWeights, qIn: ArrayLike<number>, cache: Latent): MlaAttentionResult {
  const { dims, batch, qLen, scale } = problem;
  const { heads, dNope, dRope, dV, dLatent } = dims;
  const { data: latent, start } = latentRows(cache, problem);
  const out = new Float64Array(batch * qLen * heads * dV);
  const longest = Math.max(1, ...seqLengths(problem));
  const k = new Float64Array(longest * (dNope + dRope));
  const v = new Float64Array(longest * dV);
  const scores = new Float64Array(longest);
  let maxScore = 0;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < seqLength(problem, b); t++) {
        const c = start(b, t);
        for (let j = 0; j < dNope; j++) {
          let sum = 0;
          const w = (h * dNope + j) * dLatent;
          for (let i = 0; i < dLatent; i++) sum += (weights.wUK[w + i] as number) * (latent[c + i] as number);
          k[t * (dNope + dRope) + j] = sum;
        }
        for (let r = 0; r < dRope; r++) k[t * (dNope + dRope) + dNope + r] = latent[c + dLatent + r] as number;
        for (let j = 0; j < dV; j++) {
          let sum = 0;
          const w = (h * dV + j) * dLatent;
          for (let i = 0; i < dLatent; i++) sum += (weights.wUV[w + i] as number) * (latent[c + i] as number);
          v[t * dV + j] = sum;
        }
      }
      for (let s = 0; s < qLen; s++) {
        const visible = visibleTokens(problem, b, s);
        if (visible === 0) continue; // zeros
        const q = roped(problem, qIn, b, s, h);
        for (let t = 0; t < visible; t++) {
          let dot = 0;
          for (let i = 0; i < dNope + dRope; i++) dot += (q[i] as number) * (k[t * (dNope + dRope) + i] as number);
          scores[t] = dot * scale;
        }
        maxScore = Math.max(maxScore, softmaxInPlace(scores, visible));
        const o = ((b * qLen + s) * heads + h) * dV;
        for (let t = 0; t < visible; t++) {
          const p = scores[t] as number;
          for (let j = 0; j < dV; j++) out[o + j] = (out[o + j] as number) + p * (v[t * dV + j] as number);
        }
      }
    }
  }
  return { out, maxScore };
}

/**
 * The absorbed form in float64. With `rows`, only those output rows ((b * q_len + s) * heads + h), packed in the
 * order given, and maxScore over them: the check of a case too large for the whole reference.
 */
export function mlaAbsorbedReference(
  problem: MlaProblem,
  weights: MlaWeights,
  qIn: ArrayLike<number>,
  cache: Latent,
  rows?: readonly number[],
): MlaAttentionResult {
  const { dims, batch, qLen, scale } = problem;
  const { heads, dNope, dRope, dV, dLatent } = dims;
  const { data: latent, start } = latentRows(cache, problem);
  const total = batch * qLen * heads;
  const count = rows ? rows.length : total;
  const out = new Float64Array(count * dV);
  const scores = new Float64Array(Math.max(1, ...seqLengths(problem)));
  const qLat = new Float64Array(dLatent);
  const oLat = new Float64Array(dLatent);
  let maxScore = 0;
  for (let index = 0; index < count; index++) {
    const outRow = rows ? (rows[index] as number) : index;
    if (!(outRow >= 0 && outRow < total)) throw new Error(`MLA reference: row ${outRow} outside 0..${total - 1}`);
    const h = outRow % heads;
    const s = Math.floor(outRow / heads) % qLen;
    const b = Math.floor(outRow / (heads * qLen));
    const visible = visibleTokens(problem, b, s);
    if (visible === 0) continue; // zeros
    const q = roped(problem, qIn, b, s, h);
    qLat.fill(0);
    for (let j = 0; j < dNope; j++) {
      const qj = q[j] as number;
      const w = (h * dNope + j) * dLatent;
      for (let i = 0; i < dLatent; i++) qLat[i] = (qLat[i] as number) + qj * (weights.wUK[w + i] as number);
    }
    for (let t = 0; t < visible; t++) {
      const c = start(b, t);
      let dot = 0;
      for (let i = 0; i < dLatent; i++) dot += (qLat[i] as number) * (latent[c + i] as number);
      for (let r = 0; r < dRope; r++) dot += (q[dNope + r] as number) * (latent[c + dLatent + r] as number);
      scores[t] = dot * scale;
    }
    maxScore = Math.max(maxScore, softmaxInPlace(scores, visible));
    oLat.fill(0);
    for (let t = 0; t < visible; t++) {
      const p = scores[t] as number;
      const c = start(b, t);
      for (let i = 0; i < dLatent; i++) oLat[i] = (oLat[i] as number) + p * (latent[c + i] as number);
    }
    const o = index * dV;
    for (let j = 0; j < dV; j++) {
      let sum = 0;
      const w = (h * dV + j) * dLatent;
      for (let i = 0; i < dLatent; i++) sum += (weights.wUV[w + i] as number) * (oLat[i] as number);
      out[o + j] = sum;
    }
  }
  return { out, maxScore };
}

/** Multiply-adds of each form's reference, to pick the cheaper one for big cases (they agree). */
export function referenceCost(problem: MlaProblem): { naive: number; absorbed: number } {
  const { dims, batch, qLen } = problem;
  const { heads, dNope, dRope, dV, dLatent } = dims;
  const tokens = seqLengths(problem).reduce((a, b) => a + b, 0);
  const pairs = heads * qLen * tokens;
  return {
    naive: heads * tokens * dLatent * (dNope + dV) + pairs * (dNope + dRope + dV),
    absorbed: batch * qLen * heads * dLatent * (dNope + dV) + pairs * (2 * dLatent + dRope),
  };
}
