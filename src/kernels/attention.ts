import type { DeviceLimits } from '../gpu/device.js';
import { EPSILON, reductionTolerance } from '../reference/allclose.js';
import { attentionReference, kvStarts, visibleTokens, type AttentionProblem } from '../reference/attention.js';
import { seededUniform } from '../reference/random.js';
import { CANARY, ceilDiv, dtypeUnsupported, input, pow2Ceil, pow2Floor, seededMaxAbs, SHORT_CANARY, storage, uniform, uniformWords } from './build.js';
import type { BuildContext, BuildResult, KernelFamily } from './family.js';
import { grid2d, numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import { buffersMisfit, DTYPES, elementBytes, REFERENCE_BUDGET_FLOPS, sampleRows, type BufferDecl, type Dtype, type KernelCase, type OutputCheck, type StageDecl, type Tolerance } from './spec.js';

/**
 * Attention family: MHA, GQA and MQA as one attention core parameterised by query heads, KV heads and
 * (possibly different) qk / v head dims, so the MLA work can reuse it (naive: qk 192 / v 128; absorbed: MQA
 * shape, qk 576 / v 512) through `attentionCase`. Two phases, each with a GPU-first kernel:
 *   decode:  split-KV flash-decoding, kernels/attention_decode.wgsl (attend: all query heads of a KV head in
 *            one workgroup, K/V streamed once) + kernels/attention_reduce.wgsl (merge the splits);
 *   prefill: flash-attention, kernels/attention_prefill.wgsl (Q/K/V tiles in workgroup memory, online softmax).
 * and a CPU-adapter tiling for both ('rows': where subgroups of >= 8 lanes exist, kernels/attention_rows_subgroup.wgsl
 * for KV heads with >= 8 query rows and kernels/attention_columns.wgsl below that; else kernels/attention_rows.wgsl;
 * the same reduce), picked by
 * AttentionOptions.tiling (the suites' quick profile, which `auto` uses on software adapters, asks for it).
 * Shapes travel in a uniform; only tile sizes and head dims are compile-time (`override`) constants, so new
 * batch / context / head counts never recompile.
 *
 * KV cache layout (role 'kv-cache', one buffer for K and one for V):
 *   [batch][kv_head][token][dim], ragged: sequence b holds kvLens[b] tokens starting at token offset
 *   kvLens[0] + ... + kvLens[b-1]; element (b, g, t, i) sits at ((start_b * n_kv) + g * kvLens[b] + t) * dim4 + i,
 *   dim4 = dim rounded up to a multiple of 4 (the kernels read whole vec4s; no padding for the usual dims).
 * Each (sequence, KV head) is one contiguous [token][dim] slab, so a workgroup streams it front to back.
 * q is [batch][q_len][n_q][d_qk] (rows padded like K) and the output [batch][q_len][n_q][d_v]; query head h
 * reads KV head floor(h / (n_q / n_kv)); with causal, the q_len queries are the last q_len positions of each
 * sequence (a query that sees no token outputs zeros).
 */

export const KV_LAYOUT = '[batch][kv_head][token][dim] packed ragged (sequence b from token offset sum(kvLens[<b])), rows padded to 4 elements';

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

/** Presets from MODELS.md: MHA/GQA/MQA at 128 query heads of dim 128, and Llama-3-8B. */
export const ATTENTION_VARIANTS = {
  mha: { nQ: 128, nKv: 128, d: 128 },
  gqa: { nQ: 128, nKv: 8, d: 128 },
  mqa: { nQ: 128, nKv: 1, d: 128 },
  'llama3-8b': { nQ: 32, nKv: 8, d: 128 },
} as const;
export type AttentionVariant = keyof typeof ATTENTION_VARIANTS | 'custom';
const VARIANT_NAMES = [...Object.keys(ATTENTION_VARIANTS), 'custom'] as AttentionVariant[];

/** Per-invocation register budget of the kernels (vec4 accumulators; must match MAX_ACC / MAX_ROWS in WGSL). */
const MAX_ACC = 16;
const MAX_ROWS = 16;

/** Compile-time tiling of attention_decode.wgsl (names match its overrides). */
export interface DecodeTiles {
  WG: number;
  BR: number;
  BK: number;
  SC: number;
  RCH: number;
  OC: number;
  ORG: number;
}

/** Compile-time tiling of attention_prefill.wgsl. */
export interface PrefillTiles {
  WG: number;
  BR: number;
  BK: number;
  SC: number;
  OC: number;
  ORG: number;
}

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

export interface AttentionOptions {
  phase?: AttentionPhase;
  tiling?: AttentionTiling;
  /** Rows tiling: query rows per invocation (default: as many as fit, up to 8), invocations per workgroup. */
  rowsPerInvocation?: number;
  rowsWorkgroup?: number;
  /** Decode: number of KV splits (default: enough workgroups to fill a GPU, >= MIN_SPLIT_TOKENS each). */
  splits?: number;
  decodeTiles?: Partial<DecodeTiles>;
  prefillTiles?: Partial<PrefillTiles>;
  /** float64 FLOPs the check's reference may cost before it samples output rows (default REFERENCE_BUDGET_FLOPS). */
  referenceBudgetFlops?: number;
}

function maxWorkgroup(limits: DeviceLimits): number {
  return Math.min(256, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
}

/** Workgroup bytes of a decode tiling, or why it is impossible. */
function decodeLayout(t: DecodeTiles, dv4: number): { bytes: number; problem?: string } {
  const sRg = t.WG / t.SC;
  const sTr = ceilDiv(t.BR, sRg);
  const sTc = t.BK / t.SC;
  const oTr = ceilDiv(t.BR, t.ORG);
  const oTc = ceilDiv(dv4, t.OC);
  const tg = t.WG / (t.OC * t.ORG);
  const merge = Math.max(1, (tg - 1) * t.BR * dv4);
  const bytes = 4 * t.BR * t.BK + 20 * t.BR + 4 * t.BR * tg + 16 * merge;
  let problem: string | undefined;
  if (![sRg, sTc, tg].every((n) => Number.isInteger(n) && n >= 1)) problem = 'lanes do not divide the workgroup';
  else if (t.RCH * sTc > MAX_ACC || t.RCH > sTr) problem = `${t.RCH * sTc} score accumulators per invocation`;
  else if (oTr * oTc > MAX_ACC) problem = `${oTr * oTc} output accumulators per invocation`;
  return problem === undefined ? { bytes } : { bytes, problem };
}

/**
 * Decode tiling. All query rows of a KV head (q_len x group) in one workgroup when the output accumulators
 * fit the registers (so K/V is read once per KV head), else the fewest row blocks; token lanes for the
 * scores, vec4-column lanes for the output; workgroup memory only holds one tile of probabilities.
 */
export function chooseDecodeTiles(shape: AttentionShape, limits: DeviceLimits, wanted: Partial<DecodeTiles> = {}): DecodeTiles | string {
  const rows = shape.qLen * (shape.nQ / shape.nKv);
  const dv4 = ceilDiv(shape.dV, 4);
  const budget = limits.maxComputeWorkgroupStorageSize;
  const maxWg = maxWorkgroup(limits);
  let best: { tiles: DecodeTiles; score: number } | undefined;
  const wgs = wanted.WG !== undefined ? [wanted.WG] : [32, 64, 128, 256].filter((wg) => wg <= maxWg);
  for (const WG of wgs) {
    const brs = wanted.BR !== undefined ? [wanted.BR] : [128, 64, 32, 16, 8, 4, 2, 1].filter((br) => br <= pow2Ceil(rows));
    for (const BR of brs) {
      const OC = wanted.OC ?? Math.min(pow2Ceil(dv4), WG);
      const ORG = wanted.ORG ?? Math.min(BR, WG / OC);
      const BK = wanted.BK ?? 64;
      const SC = wanted.SC ?? Math.min(BK, WG);
      const sTr = ceilDiv(BR, WG / SC);
      const RCH = wanted.RCH ?? Math.min(sTr, Math.floor(MAX_ACC / (BK / SC)));
      const tiles = { WG, BR, BK, SC, RCH, OC, ORG };
      const layout = decodeLayout(tiles, dv4);
      if (layout.problem || layout.bytes > budget) continue;
      const rowBlocks = ceilDiv(rows, BR);
      // Fewest K/V re-reads first, then the fewest idle rows, then workgroups near 64 invocations.
      const score = -rowBlocks * 1e6 - (rowBlocks * BR - rows) * 1e3 - Math.abs(Math.log2(WG / 64));
      if (!best || score > best.score) best = { tiles, score };
    }
  }
  return best?.tiles ?? `no decode tiling fits ${budget} bytes of workgroup memory and ${MAX_ACC} accumulators for d_v=${shape.dV}`;
}

function prefillLayout(t: PrefillTiles, dq4: number, dv4: number): { bytes: number; problem?: string } {
  const kvSize = t.BK * Math.max(dq4 | 1, dv4 | 1);
  const sRg = t.WG / t.SC;
  const sTr = ceilDiv(t.BR, sRg);
  const sTc = t.BK / t.SC;
  const oTr = ceilDiv(t.BR, t.ORG);
  const oTc = ceilDiv(dv4, t.OC);
  const tg = t.WG / (t.OC * t.ORG);
  const bytes = 16 * t.BR * dq4 + 16 * kvSize + 4 * t.BR * t.BK + 12 * t.BR + 4 * t.BR * tg;
  let problem: string | undefined;
  if (!Number.isInteger(sRg) || !Number.isInteger(sTc) || !Number.isInteger(tg) || tg < 1) problem = 'lanes do not divide the workgroup';
  else if (sTr * sTc > MAX_ACC) problem = `${sTr * sTc} score accumulators per invocation`;
  else if (oTr * oTc > MAX_ACC || oTr > MAX_ROWS) problem = `${oTr * oTc} output accumulators per invocation`;
  else if ((tg - 1) * t.BR * dv4 > kvSize) problem = 'token-group merge does not fit the K/V tile';
  return problem === undefined ? { bytes } : { bytes, problem };
}

/** Prefill tiling: the largest row block (Q reuse of every K/V tile) and KV tile that fit. */
export function choosePrefillTiles(shape: AttentionShape, limits: DeviceLimits, wanted: Partial<PrefillTiles> = {}): PrefillTiles | string {
  const rows = shape.qLen * (shape.nQ / shape.nKv);
  const dq4 = ceilDiv(shape.dQk, 4);
  const dv4 = ceilDiv(shape.dV, 4);
  const budget = limits.maxComputeWorkgroupStorageSize;
  const maxWg = maxWorkgroup(limits);
  let best: { tiles: PrefillTiles; score: number } | undefined;
  const wgs = wanted.WG !== undefined ? [wanted.WG] : [32, 64, 128, 256].filter((wg) => wg <= maxWg);
  for (const WG of wgs) {
    const brs = wanted.BR !== undefined ? [wanted.BR] : [64, 32, 16, 8, 4, 2, 1].filter((br) => br <= pow2Ceil(rows));
    for (const BR of brs) {
      const OC = wanted.OC ?? Math.min(pow2Ceil(dv4), WG);
      const ORG = wanted.ORG ?? Math.min(BR, WG / OC);
      for (const BK of wanted.BK !== undefined ? [wanted.BK] : [64, 32, 16, 8]) {
        const SC = wanted.SC ?? Math.min(BK, WG);
        const tiles = { WG, BR, BK, SC, OC, ORG };
        const layout = prefillLayout(tiles, dq4, dv4);
        if (layout.problem || layout.bytes > budget) continue;
        const score = BR * 100 + BK - WG / 64;
        if (!best || score > best.score) best = { tiles, score };
        break;
      }
    }
  }
  return best?.tiles ?? `no prefill tiling fits ${budget} bytes of workgroup memory for d_qk=${shape.dQk}, d_v=${shape.dV}`;
}

/**
 * Rows tiling, tuned on lavapipe: splits until there are ROWS_TARGET_INVOCATIONS invocations, each walking at
 * least ROWS_MIN_SPLIT_TOKENS x rows-per-invocation tokens (a one-row walk is bound by its loads and gains from
 * more, shorter walks; a many-row walk is bound by its FMAs and gains from longer ones); workgroups of up to
 * ROWS_WORKGROUP invocations but at least ~8 workgroups, so that every core gets some.
 */
const ROWS_WORKGROUP = 64;
const ROWS_TARGET_INVOCATIONS = 1024;
const ROWS_MIN_SPLIT_TOKENS = 64;
/** Private row buffers of attention_rows.wgsl, in vec4s and rows (MAXQ, MAXV, MAX_RPI). */
const ROWS_MAX_VEC4 = 258;
const ROWS_MAX_RPI = 8;

/** Rows per invocation: as many as the private buffers hold (each K/V load then feeds that many rows). */
function rowsPerInvocation(shape: AttentionShape): number | string {
  const rows = shape.qLen * (shape.nQ / shape.nKv);
  const widest = Math.max(ceilDiv(shape.dQk, 4), ceilDiv(shape.dV, 4));
  const fit = Math.min(ROWS_MAX_RPI, Math.floor(ROWS_MAX_VEC4 / widest));
  if (fit < 1) return `head dims ${shape.dQk}/${shape.dV} exceed the rows tiling's ${ROWS_MAX_VEC4 * 4}-element row buffers`;
  return Math.min(fit, pow2Floor(rows));
}

/** Subgroup lanes the subgroup rows kernel trades K/V vec4s across (its loads come in blocks of this many). */
export const SUBGROUP_ROWS_LANES = 8;
/**
 * Largest private rows of attention_rows_subgroup.wgsl in vec4s (q, accumulators: MLA's two 576 / 512-wide rows)
 * and rows per invocation (MAX_RPI). A plan sizes them to its shape (MAXQ, MAXV): every private variable is
 * zeroed when an invocation starts, which with the largest rows cost 5% of the MHA prefill on lavapipe.
 */
const SUBGROUP_ROWS_MAXQ = 586;
const SUBGROUP_ROWS_MAXV = 522;
const SUBGROUP_ROWS_MAX_RPI = 8;

/**
 * The rows tiling with subgroup-cooperative loads (kernels/attention_rows_subgroup.wgsl): a workgroup holds
 * WG x RPI query rows of one KV head, which walk the same tokens. Decode: the rows of a KV head in as few
 * workgroups as fit and enough token splits for ~16 workgroups (>= 128 tokens each). Prefill: one split and
 * small row blocks (one subgroup), so that causal blocks stop at their last row's position.
 */
export function subgroupRowsPlan(
  shape: AttentionShape,
  phase: AttentionPhase,
  limits: DeviceLimits,
  subgroupMinSize: number | undefined,
  wanted: { rpi?: number; wg?: number; splits?: number } = {},
): AttendPlan | string {
  if (subgroupMinSize === undefined || subgroupMinSize < SUBGROUP_ROWS_LANES) {
    return `the subgroup rows kernel shares loads across ${SUBGROUP_ROWS_LANES} subgroup lanes; this adapter has ${subgroupMinSize === undefined ? 'no subgroups' : `subgroups of ${subgroupMinSize}`}`;
  }
  const dq4 = ceilDiv(shape.dQk, 4);
  const dv4 = ceilDiv(shape.dV, 4);
  const fit = Math.min(SUBGROUP_ROWS_MAX_RPI, Math.floor(SUBGROUP_ROWS_MAXQ / dq4), Math.floor(SUBGROUP_ROWS_MAXV / dv4));
  if (fit < 1) return `head dims ${shape.dQk}/${shape.dV} exceed the subgroup rows kernel's private rows (${SUBGROUP_ROWS_MAXQ * 4}/${SUBGROUP_ROWS_MAXV * 4} elements)`;
  const rows = shape.qLen * (shape.nQ / shape.nKv);
  const rpi = Math.min(wanted.rpi ?? 2, fit, rows);
  if (rpi < 1 || rpi > fit) return `${rpi} rows per invocation: the private rows hold 1 to ${fit} at head dims ${shape.dQk}/${shape.dV}`;
  const lanes = Math.max(SUBGROUP_ROWS_LANES, pow2Ceil(ceilDiv(rows, rpi)));
  const wg = wanted.wg ?? Math.min(phase === 'prefill' ? SUBGROUP_ROWS_LANES : 64, limits.maxComputeInvocationsPerWorkgroup, lanes);
  const rowGroups = ceilDiv(rows, wg * rpi);
  const maxLen = Math.max(1, ...shape.kvLens);
  const perSplit = shape.batch * shape.nKv * rowGroups;
  const want = wanted.splits ?? (phase === 'prefill' ? 1 : Math.max(1, Math.min(ceilDiv(16, perSplit), ceilDiv(maxLen, 128))));
  const chunk = ceilDiv(ceilDiv(maxLen, want), 8) * 8;
  const splits = ceilDiv(maxLen, chunk);
  return {
    shader: 'attention_rows_subgroup.wgsl',
    constants: { WG: wg, RPI: rpi, D_QK: shape.dQk, D_V: shape.dV },
    // Not powers of two: llvmpipe lays private arrays out per lane, and power-of-two strides alias in L1.
    sizes: { MAXQ: rpi * dq4 + 2, MAXV: rpi * dv4 + 2 },
    workgroups: grid2d(perSplit * splits, limits.maxComputeWorkgroupsPerDimension),
    rowGroups,
    chunk,
    splits,
    facts: { rowGroups, kvReadsPerKvHead: rowGroups, tileWG: wg, tileRPI: rpi, rowsKernel: 'subgroup' },
  };
}

/** Columns kernel (kernels/attention_columns.wgsl): lanes split the head dims, so head dims up to 8 x 8 vec4s. */
const COLUMNS_MAX_VEC4 = 64;
const COLUMNS_MAX_ROWS = 8;

/**
 * The rows tiling's kernel for KV heads with fewer query rows than a subgroup has lanes (MHA and small-group
 * GQA decode, MLA's naive attend): one subgroup of 8 lanes per sequence, KV head, split and up to 8 rows, the
 * lanes splitting the head dims. Splits as the per-invocation rows kernel takes them (one per workgroup here).
 */
export function columnsPlan(
  shape: AttentionShape,
  phase: AttentionPhase,
  limits: DeviceLimits,
  subgroupMinSize: number | undefined,
  wanted: { splits?: number } = {},
): AttendPlan | string {
  if (subgroupMinSize === undefined || subgroupMinSize < SUBGROUP_ROWS_LANES) {
    return `the columns kernel sums across ${SUBGROUP_ROWS_LANES} subgroup lanes; this adapter has ${subgroupMinSize === undefined ? 'no subgroups' : `subgroups of ${subgroupMinSize}`}`;
  }
  const dq4 = ceilDiv(shape.dQk, 4);
  const dv4 = ceilDiv(shape.dV, 4);
  if (Math.max(dq4, dv4) > COLUMNS_MAX_VEC4) return `head dims ${shape.dQk}/${shape.dV} exceed the columns kernel's ${COLUMNS_MAX_VEC4 * 4}`;
  const rows = shape.qLen * (shape.nQ / shape.nKv);
  const r = Math.min(rows, COLUMNS_MAX_ROWS);
  const rowGroups = ceilDiv(rows, r);
  const { chunk, splits } =
    phase === 'prefill' && wanted.splits === undefined
      ? { chunk: Math.max(1, ...shape.kvLens), splits: 1 }
      : decodeSplits(shape, rowGroups, 4, wanted.splits, ROWS_TARGET_INVOCATIONS, ROWS_MIN_SPLIT_TOKENS);
  return {
    shader: 'attention_columns.wgsl',
    constants: { R: r, D_QK: shape.dQk, D_V: shape.dV },
    workgroups: grid2d(shape.batch * shape.nKv * splits * rowGroups, limits.maxComputeWorkgroupsPerDimension),
    rowGroups,
    chunk,
    splits,
    facts: { rowGroups, kvReadsPerKvHead: rowGroups, tileWG: SUBGROUP_ROWS_LANES, tileRPI: r, rowsKernel: 'columns' },
  };
}

function rowsWanted(options: AttentionOptions): { rpi?: number; wg?: number; splits?: number } {
  const { rowsPerInvocation: rpi, rowsWorkgroup: wg, splits } = options;
  return { ...(rpi !== undefined && { rpi }), ...(wg !== undefined && { wg }), ...(splits !== undefined && { splits }) };
}

/** Decode splits: enough workgroups to fill a large GPU, but at least MIN_SPLIT_TOKENS tokens each. */
const TARGET_WORKGROUPS = 256;
const MIN_SPLIT_TOKENS = 256;

function decodeSplits(
  shape: AttentionShape,
  rowBlocks: number,
  bk: number,
  wanted?: number,
  target = TARGET_WORKGROUPS,
  minTokens = MIN_SPLIT_TOKENS,
): { chunk: number; splits: number } {
  const maxLen = Math.max(1, ...shape.kvLens);
  const perSplit = shape.batch * shape.nKv * rowBlocks;
  const want = wanted ?? Math.min(ceilDiv(target, perSplit), ceilDiv(maxLen, minTokens));
  const chunk = ceilDiv(ceilDiv(maxLen, Math.max(1, want)), bk) * bk;
  return { chunk, splits: ceilDiv(maxLen, chunk) };
}

/** Bytes per cached token per layer, from the case's actual K/V buffers (valid elements only). */
export function kvBytesPerToken(buffers: readonly BufferDecl[], cachedTokens: number): number {
  const bytes = buffers.filter((b) => b.role === 'kv-cache').reduce((sum, b) => sum + b.length * elementBytes(b.type), 0);
  return bytes / cachedTokens;
}

/** Rows of `d` elements restrided to `stride` (zero padded): the kernels read whole vec4s. */
function padRows(data: Float32Array, d: number, stride: number): Float32Array {
  if (stride === d) return data;
  const rows = data.length / d;
  const out = new Float32Array(rows * stride);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * d, (r + 1) * d), r * stride);
  return out;
}

/**
 * Output tolerance: the output is a convex combination of V rows, so an f32 accumulation over the visible
 * tokens (plus the d_qk-term score dots) with terms up to max|v|, one rounding to the storage type, and the
 * scores' own rounding, which grows with their magnitude (<= scale * d_qk * max|q| * max|k|).
 */
export function attentionTolerance(dtype: Dtype, problem: AttentionProblem, maxQ: number, maxK: number, maxV: number): Tolerance {
  let longest = 0;
  for (let b = 0; b < problem.batch; b++) longest = Math.max(longest, visibleTokens(problem, b, problem.qLen - 1));
  const base = reductionTolerance(dtype, longest + problem.dQk, maxV);
  const scoreBound = problem.scale * problem.dQk * maxQ * maxK;
  return { atol: base.atol + 8 * EPSILON.f32 * scoreBound * maxV, rtol: base.rtol };
}

/** Analytic attention FLOPs: 2 (d_qk + d_v) per visible (query, token) pair and head. */
export function attentionFlops(problem: AttentionProblem): number {
  let pairs = 0;
  for (let b = 0; b < problem.batch; b++) {
    for (let s = 0; s < problem.qLen; s++) pairs += visibleTokens(problem, b, s);
  }
  return 2 * pairs * problem.nQ * (problem.dQk + problem.dV);
}

function validate(shape: AttentionShape): string | null {
  const { batch, nQ, nKv, dQk, dV, qLen, kvLens } = shape;
  for (const [name, value] of Object.entries({ batch, nQ, nKv, dQk, dV, qLen })) {
    if (!Number.isInteger(value) || value < 1) return `${name}=${value} must be a positive integer`;
  }
  if (nQ % nKv !== 0) return `n_q=${nQ} is not a multiple of n_kv=${nKv}`;
  if (kvLens.length !== batch) return `${kvLens.length} KV lengths for batch ${batch}`;
  if (kvLens.some((len) => !Number.isInteger(len) || len < 1)) return 'every KV length must be a positive integer';
  return null;
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
}

/**
 * A caller-supplied attend kernel for the split pipeline: it reads the core's params uniform and bindings
 * (params, seqs, q, k, v, part_o, part_ml) and writes the same partials, so the core's reduce merges them.
 */
export interface AttendPlan {
  shader: string;
  constants: Record<string, number>;
  /** Compile-time sizes (StageDecl.sizes): the subgroup rows kernel's private rows. */
  sizes?: Record<string, number>;
  workgroups: [number, number?, number?];
  /** Row groups per KV head (params.row_blocks), tokens per split and number of splits. */
  rowGroups: number;
  chunk: number;
  splits: number;
  facts: Record<string, number | string>;
}

/** The attend stage's kernel fields from a plan (constants beyond the plan's, e.g. V_STRIDE4, in `extra`). */
function attendKernel(plan: AttendPlan, extra: Record<string, number> = {}): Pick<StageDecl, 'shader' | 'constants' | 'sizes' | 'workgroups'> {
  return { shader: plan.shader, constants: { ...plan.constants, ...extra }, ...(plan.sizes && { sizes: plan.sizes }), workgroups: plan.workgroups };
}

export interface AttentionCore {
  kind: 'core';
  /** Scratch buffers of the core (params, partials); the io buffers are the caller's. */
  buffers: BufferDecl[];
  /** attend (+ reduce), with phases 'attend' and 'reduce'. */
  stages: StageDecl[];
  facts: Record<string, number | string>;
}

/**
 * The attention core over buffers produced elsewhere: attend + reduce (split-KV decode, the rows tiling, or a
 * caller's attend plan) or one prefill stage. Work counts K/V once per KV head (once in all when k and v are
 * the same buffer) and Q once.
 */
export function attentionCore(
  shape: AttentionShape,
  dtype: Dtype,
  context: BuildContext,
  io: AttentionIo,
  options: AttentionOptions & { attendPlan?: (shape: AttentionShape) => AttendPlan | string } = {},
): AttentionCore | { kind: 'skip'; reason: string } {
  const invalid = validate(shape);
  if (invalid) return { kind: 'skip', reason: invalid };
  const phase = options.phase ?? (shape.qLen <= 16 ? 'decode' : 'prefill');
  const scale = shape.scale ?? 1 / Math.sqrt(shape.dQk);
  const problem: AttentionProblem = { ...shape, kvLens: [...shape.kvLens], scale };
  const { batch, nQ, nKv, dQk, dV, qLen, kvLens } = shape;
  const group = nQ / nKv;
  const rows = qLen * group;
  const cachedTokens = kvLens.reduce((a, b) => a + b, 0);
  const elem = elementBytes(dtype);
  const dQkPad = ceilDiv(dQk, 4) * 4;
  const dVPad = ceilDiv(dV, 4) * 4;
  const vStride = io.vStride ?? dVPad;
  if (vStride % 4 !== 0 || vStride < dV) return { kind: 'skip', reason: `v row stride ${vStride} must be a multiple of 4 and >= d_v=${dV}` };
  const sharedKv = io.k === io.v;
  const vConstants: Record<string, number> = vStride === dVPad ? {} : { V_STRIDE4: vStride / 4 };

  const outRows = batch * qLen * nQ;
  const qBytes = dQkPad * outRows * elem;
  const kvBytes = cachedTokens * nKv * (dQkPad + (sharedKv ? 0 : dVPad)) * elem;
  const outBytes = outRows * dV * elem;
  const flops = attentionFlops(problem);
  const seqsBytes = batch * 8;
  const facts: Record<string, number | string> = { phase, nQ, nKv, dQk, dV, qLen, causal: shape.causal ? 1 : 0, kvLayout: KV_LAYOUT, cachedTokens };
  const maxPerDim = context.limits.maxComputeWorkgroupsPerDimension;

  const tiling = options.tiling ?? 'workgroup';
  facts['tiling'] = tiling;
  const splitParams = (rowBlocks: number, chunk: number, splits: number): Uint32Array =>
    uniformWords([nQ, nKv, qLen, group, rows, rowBlocks, chunk, splits, shape.causal ? 1 : 0, 0, ceilDiv(dQk, 4), ceilDiv(dV, 4), batch], {
      9: scale * Math.LOG2E,
    });
  /** attend (writing per-split partials) + reduce: the decode pipelines and the rows tiling. */
  const splitPipeline = (attend: Omit<StageDecl, 'bindings' | 'work' | 'dtype' | 'name'>, rowBlocks: number, chunk: number, splits: number) => {
    const partials = outRows * splits;
    const params = splitParams(rowBlocks, chunk, splits);
    const reduceParams = uniformWords([outRows, splits]);
    const partialBytes = partials * (dV + 2) * 4;
    const reduceWg = 64;
    return {
      buffers: [
        uniform('params', params),
        storage('part_o', 'scratch', 'f32', partials * dV),
        storage('part_ml', 'scratch', 'f32', partials * 2),
        uniform('reduce_params', reduceParams),
      ] satisfies BufferDecl[],
      stages: [
        {
          name: 'attend',
          dtype,
          ...attend,
          bindings: ['params', io.seqs, io.q, io.k, io.v, 'part_o', 'part_ml'],
          // Compulsory traffic: K/V once per KV head (re-reads by further row blocks come from cache), Q once.
          work: { flops, bytesRead: qBytes + kvBytes + seqsBytes, bytesWritten: partialBytes },
        },
        {
          name: 'reduce',
          shader: 'attention_reduce.wgsl',
          dtype,
          constants: { WG: reduceWg, D_V: dV },
          bindings: ['reduce_params', 'part_o', 'part_ml', io.out],
          workgroups: grid2d(ceilDiv(outRows * dV, reduceWg), maxPerDim),
          work: { flops: 3 * partials * dV, bytesRead: partialBytes, bytesWritten: outBytes },
        },
      ] satisfies StageDecl[],
    };
  };

  let buffers: BufferDecl[];
  let stages: StageDecl[];
  let subgroupPlan: AttendPlan | string;
  let columns: AttendPlan | string;
  if (options.attendPlan) {
    const plan = options.attendPlan(shape);
    if (typeof plan === 'string') return { kind: 'skip', reason: plan };
    ({ buffers, stages } = splitPipeline(attendKernel(plan), plan.rowGroups, plan.chunk, plan.splits));
    Object.assign(facts, { splits: plan.splits, splitTokens: plan.chunk, ...plan.facts });
  } else if (tiling === 'rows' && rows >= SUBGROUP_ROWS_LANES && typeof (subgroupPlan = subgroupRowsPlan(shape, phase, context.limits, context.subgroupMinSize, rowsWanted(options))) !== 'string') {
    const plan = subgroupPlan;
    if (plan.splits === 1 && phase === 'prefill') {
      // One split: the attend normalises and writes the output itself (no partials, no reduce).
      const params = splitParams(plan.rowGroups, plan.chunk, 1);
      buffers = [uniform('params', params)];
      stages = [
        {
          name: 'attend',
          ...attendKernel(plan, vConstants),
          entryPoint: 'main_direct',
          dtype,
          bindings: ['params', io.seqs, io.q, io.k, io.v, io.out],
          work: { flops, bytesRead: qBytes + kvBytes + seqsBytes, bytesWritten: outBytes },
        },
      ];
    } else {
      ({ buffers, stages } = splitPipeline(attendKernel(plan, vConstants), plan.rowGroups, plan.chunk, plan.splits));
    }
    Object.assign(facts, { splits: plan.splits, splitTokens: plan.chunk, ...plan.facts });
  } else if (
    tiling === 'rows' &&
    options.rowsPerInvocation === undefined &&
    typeof (columns = columnsPlan(shape, phase, context.limits, context.subgroupMinSize, options.splits === undefined ? {} : { splits: options.splits })) !== 'string'
  ) {
    const plan = columns;
    ({ buffers, stages } = splitPipeline(attendKernel(plan, vConstants), plan.rowGroups, plan.chunk, plan.splits));
    Object.assign(facts, { splits: plan.splits, splitTokens: plan.chunk, ...plan.facts });
  } else if (tiling === 'rows') {
    const rpi = options.rowsPerInvocation ?? rowsPerInvocation(shape);
    if (typeof rpi === 'string') return { kind: 'skip', reason: rpi };
    const rowGroups = ceilDiv(rows, rpi);
    const { chunk, splits } =
      phase === 'prefill' && options.splits === undefined
        ? { chunk: Math.max(...kvLens), splits: 1 }
        : decodeSplits(shape, rowGroups, 4, options.splits, ROWS_TARGET_INVOCATIONS, ROWS_MIN_SPLIT_TOKENS * rpi);
    const invocations = batch * nKv * splits * rowGroups;
    // Few workgroup sizes (fewer pipelines to compile); spare invocations return at once.
    const wg = options.rowsWorkgroup ?? Math.min(ROWS_WORKGROUP, Math.max(8, pow2Floor(invocations / 8)));
    ({ buffers, stages } = splitPipeline(
      {
        shader: 'attention_rows.wgsl',
        constants: { WG: wg, RPI: rpi, D_QK: dQk, D_V: dV, ...vConstants },
        workgroups: grid2d(ceilDiv(invocations, wg), maxPerDim),
      },
      rowGroups,
      chunk,
      splits,
    ));
    Object.assign(facts, { splits, splitTokens: chunk, rowGroups, kvReadsPerKvHead: rowGroups, tileWG: wg, tileRPI: rpi, rowsKernel: 'per-invocation' });
  } else if (phase === 'decode') {
    const tiles = chooseDecodeTiles(shape, context.limits, options.decodeTiles);
    if (typeof tiles === 'string') return { kind: 'skip', reason: tiles };
    const rowBlocks = ceilDiv(rows, tiles.BR);
    const { chunk, splits } = decodeSplits(shape, rowBlocks, tiles.BK, options.splits);
    ({ buffers, stages } = splitPipeline(
      { shader: 'attention_decode.wgsl', constants: { ...tiles, D_QK: dQk, D_V: dV, ...vConstants }, workgroups: [splits, nKv * rowBlocks, batch] },
      rowBlocks,
      chunk,
      splits,
    ));
    Object.assign(facts, { splits, splitTokens: chunk, rowBlocks, kvReadsPerKvHead: rowBlocks, ...prefixed('tile', tiles) });
  } else {
    if (vStride !== dVPad) return { kind: 'skip', reason: 'the prefill kernel reads v rows of d_v only: use the decode (split) path' };
    const tiles = choosePrefillTiles(shape, context.limits, options.prefillTiles);
    if (typeof tiles === 'string') return { kind: 'skip', reason: tiles };
    const rowBlocks = ceilDiv(rows, tiles.BR);
    // The attend kernels' one Params struct: a single split of every token.
    const params = splitParams(rowBlocks, Math.max(...kvLens), 1);
    buffers = [uniform('params', params)];
    stages = [
      {
        name: 'attend',
        shader: 'attention_prefill.wgsl',
        dtype,
        constants: { ...tiles, D_QK: dQk, D_V: dV },
        bindings: ['params', io.seqs, io.q, io.k, io.v, io.out],
        workgroups: [rowBlocks, nKv, batch],
        // Compulsory traffic (each tensor once); K/V tiles are re-read per row block from cache.
        work: { flops, bytesRead: qBytes + kvBytes + seqsBytes, bytesWritten: outBytes },
      },
    ];
    Object.assign(facts, { rowBlocks, kvReadsPerKvHead: rowBlocks, ...prefixed('tile', tiles) });
  }
  return { kind: 'core', buffers, stages, facts };
}

/** Per-sequence (kv length, token offset) pairs, as the attention kernels read them. */
export function sequenceTable(kvLens: readonly number[]): Uint32Array {
  const starts = kvStarts(kvLens);
  const seqs = new Uint32Array(kvLens.length * 2);
  kvLens.forEach((len, b) => {
    seqs[2 * b] = len;
    seqs[2 * b + 1] = starts[b] as number;
  });
  return seqs;
}

/**
 * One attention case: inputs, the decode (attend + reduce) or prefill stages, the float64 check and the work.
 * The lower-level entry point that other families (MLA) reuse with their own head dims.
 */
export function attentionCase(shape: AttentionShape, dtype: Dtype, context: BuildContext, options: AttentionOptions = {}): BuildResult {
  const invalid = validate(shape);
  if (invalid) return { kind: 'skip', reason: invalid };
  const unsupported = dtypeUnsupported(dtype, context);
  if (unsupported) return { kind: 'skip', reason: unsupported };
  const scale = shape.scale ?? 1 / Math.sqrt(shape.dQk);
  const problem: AttentionProblem = { ...shape, kvLens: [...shape.kvLens], scale };
  const { batch, nQ, nKv, dQk, dV, qLen, kvLens } = shape;
  const cachedTokens = kvLens.reduce((a, b) => a + b, 0);
  const outRows = batch * qLen * nQ;
  // Device rows are whole vec4s: head dims rounded up to a multiple of 4 (no padding for the usual dims).
  const dQkPad = ceilDiv(dQk, 4) * 4;
  const dVPad = ceilDiv(dV, 4) * 4;
  // Past the device's limits: a skip before the host fills arrays of that size.
  const tooBig = buffersMisfit(
    [
      { name: 'q', usage: 'storage', type: dtype, length: outRows * dQkPad, canary: CANARY },
      { name: 'k', usage: 'storage', type: dtype, length: cachedTokens * nKv * dQkPad, canary: CANARY },
      { name: 'v', usage: 'storage', type: dtype, length: cachedTokens * nKv * dVPad, canary: CANARY },
      { name: 'out', usage: 'storage', type: dtype, length: outRows * dV, canary: SHORT_CANARY },
    ],
    context.limits,
  );
  if (tooBig) return { kind: 'skip', reason: tooBig };

  const q = seededUniform(batch * qLen * nQ * dQk, context.seed, dtype);
  const k = seededUniform(cachedTokens * nKv * dQk, (context.seed + 1) >>> 0, dtype);
  const v = seededUniform(cachedTokens * nKv * dV, (context.seed + 2) >>> 0, dtype);
  const seqs = sequenceTable(kvLens);
  const qDev = padRows(q, dQk, dQkPad);
  const kDev = padRows(k, dQk, dQkPad);
  const vDev = padRows(v, dV, dVPad);
  const inputs: BufferDecl[] = [
    input('seqs', 'activations', 'u32', seqs, SHORT_CANARY),
    input('q', 'activations', dtype, qDev, CANARY),
    input('k', 'kv-cache', dtype, kDev, CANARY),
    input('v', 'kv-cache', dtype, vDev, CANARY),
  ];
  const out = storage('out', 'activations', dtype, outRows * dV, { canary: SHORT_CANARY });
  // Large GPU cases: the float64 reference on evenly spaced output rows, as many as REFERENCE_BUDGET_FLOPS pays for.
  const sampledRows = sampleRows(outRows, dV, attentionFlops(problem) / outRows, options.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS);
  const check: OutputCheck = {
    buffer: 'out',
    shape: [batch, qLen, nQ, dV],
    expected: () => attentionReference(problem, { q, k, v }, sampledRows?.rows),
    tolerance: attentionTolerance(dtype, problem, seededMaxAbs(q), seededMaxAbs(k), seededMaxAbs(v)),
    ...(sampledRows && { sampledRows }),
  };
  const core = attentionCore(shape, dtype, context, { seqs: 'seqs', q: 'q', k: 'k', v: 'v', out: 'out' }, options);
  if (core.kind === 'skip') return core;
  // Uniforms first, as before the core was split out (keeps the buffer order of existing results).
  const buffers = [...core.buffers.filter((b) => b.name === 'params'), ...inputs, ...core.buffers.filter((b) => b.name !== 'params'), out];
  const facts = { ...core.facts, kvBytesPerToken: kvBytesPerToken(buffers, cachedTokens) };
  const kernelCase: KernelCase = { buffers, stages: core.stages, checks: [check], facts };
  return { kind: 'case', kernelCase };
}

function prefixed(prefix: string, values: object): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [`${prefix}${key}`, value as number]));
}

/** KV lengths of a batch: all `context`, or with `ragged` r in [0, 1) falling linearly to context * (1 - r). */
export function raggedLengths(batch: number, context: number, ragged: number): number[] {
  return Array.from({ length: batch }, (_, b) => Math.max(1, Math.round(context * (1 - (batch > 1 ? (ragged * b) / (batch - 1) : 0)))));
}

export const attentionFamily: KernelFamily = {
  name: 'attention',
  requiredAxes: ['phase', 'variant', 'batch', 'dtype'],
  build(params, context): BuildResult {
    const phase = stringParam(params, 'phase', ATTENTION_PHASES);
    const variant = stringParam(params, 'variant', VARIANT_NAMES);
    const dtype = stringParam(params, 'dtype', DTYPES);
    const batch = numberParam(params, 'batch');
    let nQ: number;
    let nKv: number;
    let dQk: number;
    let dV: number;
    if (variant === 'custom') {
      nQ = numberParam(params, 'heads');
      nKv = numberParam(params, 'kv_heads');
      dQk = numberParam(params, 'head_dim');
      dV = optionalNumber(params, 'v_head_dim', dQk);
    } else {
      const preset = ATTENTION_VARIANTS[variant];
      ({ nQ, nKv } = preset);
      dQk = dV = preset.d;
    }
    const ragged = optionalNumber(params, 'ragged', 0);
    if (!(ragged >= 0 && ragged < 1)) return { kind: 'skip', reason: `ragged=${ragged} must be in [0, 1)` };
    const causal = optionalNumber(params, 'causal', 1) !== 0;
    let qLen: number;
    let kvLens: number[];
    if (phase === 'decode') {
      const contextLen = numberParam(params, 'context');
      qLen = optionalNumber(params, 'q_len', 1);
      kvLens = raggedLengths(batch, contextLen, ragged);
    } else {
      const seq = numberParam(params, 'seq');
      if (ragged > 0) return { kind: 'skip', reason: 'ragged prefill needs per-sequence query lengths (use attentionCase with kvLens >= q_len)' };
      qLen = seq;
      kvLens = Array.from({ length: batch }, () => seq);
    }
    const tiling = optionalString(params, 'tiling', ATTENTION_TILINGS, 'workgroup');
    const shape: AttentionShape = { batch, nQ, nKv, dQk, dV, qLen, kvLens, causal };
    const built = attentionCase(shape, dtype, context, { phase, tiling });
    if (built.kind === 'case') built.kernelCase.facts = { variant, ...built.kernelCase.facts };
    return built;
  },
};
