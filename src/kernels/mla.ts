import type { DeviceLimits } from '../core/device-facts.js';
import { EPSILON, reductionTolerance } from '../reference/allclose.js';
import {
  appendToCache,
  matmulRows,
  mlaAbsorbedReference,
  mlaLayerInputs,
  mlaNaiveReference,
  mlaScale,
  referenceCost,
  ropeTable,
  ROPE_THETA,
  seqLengths,
  seqStarts,
  type Latent,
  type MlaDims,
  type MlaProblem,
} from '../reference/mla.js';
import { attentionCore, poolBuffer, type AttentionCore, type AttentionIo, type Paging } from './attention-core.js';
import { subgroupRowsPlan, type AttentionStrategy, type SubgroupRowsPlan } from './attention-plans.js';
import {
  ATTENTION_TILINGS,
  attentionCase,
  kvBytesPerToken,
  raggedLengths,
  sequenceTable,
  type AttentionShape,
  type AttentionTiling,
} from './attention.js';
import { CANARY, dtypeUnsupported, input, lazyInput, maxAbs, memo, SHORT_CANARY, storage } from './build.js';
import type { BuildContext, BuildResult, KernelFamily, Skip } from './family.js';
import { numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import { cacheBuffers, pagedLayout, sequenceBuffer, type CachePlan, type PagedLayout } from './kv-cache.js';
import { gatherStage } from './kv-gather.js';
import { pageCounts } from './kv-pages.js';
import { expandCache, generateInputs, latentSource, newRows, transposeBlocks, type MlaInputs } from './mla-inputs.js';
import { StageList, type RowAddr, type Rows } from './mla-stages.js';
import {
  buffersMisfit,
  DTYPES,
  elementBytes,
  REFERENCE_BUDGET_FLOPS,
  sampleRows,
  type BufferDecl,
  type Dtype,
  type KernelCase,
  type OutputCheck,
  type SampledRows,
  type Tolerance,
} from './spec.js';

/**
 * Multi-head Latent Attention (DeepSeek-V2/V3) as stage lists over the attention core (src/reference/mla.ts
 * has the equations, layouts and RoPE convention):
 *   naive-latent:   q-rope, [gather: a paged cache's pages into a contiguous workspace,] up-project (latent rows ->
 *                   per-head k_nope, v; shared k_rope broadcast), attend, reduce
 *   naive-expanded: q-rope, up-project of the new tokens only into the expanded K/V cache, attend, reduce
 *   absorbed:       absorb-q (q_lat = W_UK^T q_nope per head), q-rope, attend over the latent cache in MQA
 *                   shape (qk d_c + d_r, v d_c; all heads of a sequence together), reduce, absorb-o (W_UV)
 * with, for `layer=full`, the per-layer path first (q-proj: [W_DQ, RMSNorm,] W_UQ; kv-append: W_DKV,
 * RMSNorm of c_KV and RoPE of k_rope into the cache at the new positions) and o-proj (W_O) last; o-proj
 * alone with o_proj=1. Forms mha / gqa / mqa are the plain attention core at the same heads and head dim
 * (d_nope), for comparison. Every dispatch carries its phase, so each stage is timed on its own.
 *
 * Cache layouts (role 'kv-cache'):
 *   latent (naive-latent, absorbed): [batch][token][d_c + d_r], c_KV then the roped k_rope: d_c + d_r
 *     elements per token per layer (576 for DeepSeek-V2), read by the absorbed attend as both K (all 576)
 *     and V (the first 512); or, paged, pages [page_size][d_c + d_r] through a block table (naive-latent gathers
 *     them into the packed layout in scratch first).
 *   expanded (naive-expanded): K [batch][head][token][d_nope + d_r] and V [batch][head][token][d_v], the
 *     attention core's MHA layout: heads * (d_nope + d_r + d_v) elements per token (40960 for DeepSeek-V2);
 *     or, paged, the attention family's pages [head][page_size][dim], written through the block table.
 * Every sequence holds `context` tokens, the q_len new ones last; or, in a ragged batch (`kvLens`), its own number
 * (0: a padding slot, whose output is zeros), each layout then packed like the attention core's (sequence b from
 * token sum(kvLens[<b]), heads of the expanded cache kvLens[b] tokens apart) and the RoPE table per (sequence, new
 * token). Weights are stored in the layout each form
 * reads (the absorbed form's W_UK is [head][d_nope][d_c], the naive form's [head][d_c][d_nope]), as engines
 * re-lay them out offline.
 */

export interface MlaPreset extends MlaDims {
  layers: number;
}

const DEEPSEEK_V3: MlaPreset = { heads: 128, dNope: 128, dRope: 64, dV: 128, dLatent: 512, dQLatent: 1536, dModel: 7168, layers: 61 };

/**
 * Official configs (MODELS.md), and deepseek-v3-tp2: DeepSeek-V3 as one GPU of two in tensor parallel runs it (derived:
 * the heads split, 64 a GPU, each GPU with the whole latent cache and d_model; W_UQ's columns and W_O's rows split),
 * the head count of FlashInfer's MLA benchmark grid (h 64 and 128).
 */
export const MLA_PRESETS: Record<'deepseek-v2' | 'deepseek-v2-lite' | 'deepseek-v3' | 'deepseek-v3-tp2', MlaPreset> = {
  'deepseek-v2': { heads: 128, dNope: 128, dRope: 64, dV: 128, dLatent: 512, dQLatent: 1536, dModel: 5120, layers: 60 },
  'deepseek-v2-lite': { heads: 16, dNope: 128, dRope: 64, dV: 128, dLatent: 512, dQLatent: 0, dModel: 2048, layers: 27 },
  'deepseek-v3': DEEPSEEK_V3,
  'deepseek-v3-tp2': { ...DEEPSEEK_V3, heads: 64 },
};
export type MlaPresetName = keyof typeof MLA_PRESETS;
const PRESET_NAMES = [...Object.keys(MLA_PRESETS), 'custom'] as (MlaPresetName | 'custom')[];

export const MLA_FORMS = ['naive-latent', 'naive-expanded', 'absorbed'] as const;
export type MlaForm = (typeof MLA_FORMS)[number];
/** The attention core at the preset's heads and head dim (d_nope), for comparison. */
export const BASELINE_FORMS = ['mha', 'gqa', 'mqa'] as const;
export type BaselineForm = (typeof BASELINE_FORMS)[number];
export const FORMS = [...MLA_FORMS, ...BASELINE_FORMS] as const;
export type Form = (typeof FORMS)[number];
export const MLA_LAYERS = ['attention', 'full'] as const;
export type MlaLayer = (typeof MLA_LAYERS)[number];

/** KV heads of the baselines: MHA all, GQA 8 (MODELS.md's n_g at 128 heads; all when fewer), MQA 1. */
export function baselineKvHeads(form: BaselineForm, heads: number): number {
  if (form === 'mha') return heads;
  if (form === 'mqa') return 1;
  return heads % 8 === 0 ? 8 : heads;
}

/** Cached elements per token per layer, DeepSeek-V2 Table 1 (and the expanded cache of naive MLA). */
export function kvElementsFormula(form: Form, dims: MlaDims): number {
  switch (form) {
    case 'naive-latent':
    case 'absorbed':
      return dims.dLatent + dims.dRope;
    case 'naive-expanded':
      return dims.heads * (dims.dNope + dims.dRope + dims.dV);
    default:
      return 2 * baselineKvHeads(form, dims.heads) * dims.dNope;
  }
}

export interface MlaSpec {
  dims: MlaDims;
  form: MlaForm;
  batch: number;
  /** Cached tokens per sequence, the q_len new ones included (the longest where kvLens is given). */
  context: number;
  /** Ragged batches: each sequence's cached tokens, 0 (no output: zeros) or q_len to `context`; absent: all `context`. */
  kvLens?: readonly number[];
  qLen: number;
  layer: MlaLayer;
  oProj: boolean;
  tiling: AttentionTiling;
  /**
   * Tokens per page of a paged cache (absorbed: the latent; naive-latent: the latent, gathered into a contiguous
   * workspace every step; naive-expanded: K and V); 0 or absent: contiguous.
   */
  pageSize?: number;
  /** Test hook: at most this many bytes per buffer of a paged cache. */
  maxPoolBytes?: number;
  /** float64 FLOPs the check's reference may cost before it samples output rows (default REFERENCE_BUDGET_FLOPS). */
  referenceBudgetFlops?: number;
}

/** float64 FLOPs the host may spend decompressing a naive-expanded cache (about 10 s of JavaScript). */
const HOST_EXPANSION_BUDGET_FLOPS = 1e10;

function validateSpec(spec: MlaSpec): string | null {
  const { dims, batch, context, qLen } = spec;
  for (const [name, value] of Object.entries({ ...dims, batch, context, q_len: qLen })) {
    if (!Number.isInteger(value) || value < (name === 'dQLatent' ? 0 : 1)) return `${name}=${value} must be a positive integer`;
  }
  const dimList = {
    d_nope: dims.dNope,
    d_rope: dims.dRope,
    d_v: dims.dV,
    d_latent: dims.dLatent,
    d_q_latent: dims.dQLatent,
    d_model: dims.dModel,
  };
  const odd = Object.entries(dimList).find(([, v]) => v % 4 !== 0);
  if (odd) return `${odd[0]}=${odd[1]}: the MLA kernels read whole vec4s, so every dim must be a multiple of 4`;
  if (qLen > context) return `q_len=${qLen} exceeds context=${context} (the new tokens are part of the context)`;
  return spec.kvLens ? kvLensProblem(spec.kvLens, batch, context, qLen) : null;
}

/** Why explicit KV lengths do not fit the spec, or null. */
function kvLensProblem(kvLens: readonly number[], batch: number, context: number, qLen: number): string | null {
  if (kvLens.length !== batch) return `${kvLens.length} KV lengths for batch ${batch}`;
  if (kvLens.some((len) => !Number.isInteger(len) || len < 0 || len > context || (len > 0 && len < qLen)))
    return `every KV length must be 0 or an integer from q_len=${qLen} to context=${context} (${kvLens.join(', ')})`;
  if (Math.max(...kvLens) !== context) return `context=${context} must be the longest KV length (${Math.max(...kvLens)})`;
  return null;
}

/** Whether the sequences' lengths differ (a ragged batch: packed layouts, a RoPE table per sequence). */
function isRagged(spec: Pick<MlaSpec, 'kvLens' | 'context'>): boolean {
  return spec.kvLens !== undefined && spec.kvLens.some((len) => len !== spec.context);
}

/**
 * Output tolerance. The error is dominated by roundings of values the stages store in the storage type
 * (the assembled or absorbed query, decompressed K/V, o_lat, the output; with layer=full the projections
 * too): each a relative eps of the stored value. For outputs that are softmax averages those errors average
 * like the output itself, and a score error ds moves the output by about ds times its own size, with ds
 * growing with the score magnitude. Hence atol ~ eps x roundings x (1 + max |score|) x max |output|, plus the
 * f32 accumulation over the visible tokens and the d_c + d_r dot products.
 */
export function mlaTolerance(dtype: Dtype, roundings: number, maxScore: number, maxOut: number, reduction: number): Tolerance {
  const base = reductionTolerance(dtype, reduction, maxOut);
  return {
    atol: base.atol + 4 * EPSILON[dtype] * Math.sqrt(roundings) * (1 + maxScore) * maxOut,
    rtol: base.rtol + 2 * EPSILON[dtype] * Math.sqrt(roundings),
  };
}

interface Reference {
  out: Float64Array;
  y?: Float64Array;
  maxScore: number;
}

/** Why a spec cannot be built on this device (checked before any host data is generated), or null. */
function mlaSkip(spec: MlaSpec, dtype: Dtype, context: BuildContext): string | null {
  const invalid = validateSpec(spec) ?? dtypeUnsupported(dtype, context);
  if (invalid) return invalid;
  const { dims, form, qLen: S } = spec;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = dims;
  const storageOf = (name: string, length: number) => ({ name, usage: 'storage' as const, type: dtype, length, canary: CANARY });
  const paged = (spec.pageSize ?? 0) > 0;
  if (paged && spec.layer === 'full') return 'a paged cache takes layer=attention (kv-append writes the contiguous layout)';
  const lens = seqLengths(spec);
  const cached = Math.max(
    1,
    lens.reduce((a, b) => a + b, 0),
  );
  // A paged cache spreads over as many buffers as it needs (its pool split decides whether it fits); naive-latent
  // gathers its pages into a contiguous workspace, the latent cache's size, and decompresses that into K/V scratch.
  const latentRows = storageOf(paged ? 'latent_ws' : 'latent', cached * (dC + dRope));
  const kv = [storageOf('k', cached * H * (dNope + dRope)), storageOf('v', cached * H * dV)];
  const caches = form === 'absorbed' ? (paged ? [] : [latentRows]) : form === 'naive-latent' || !paged ? [latentRows, ...kv] : [];
  const tooBig = buffersMisfit(caches, context.limits);
  if (tooBig) return tooBig;
  // The expanded cache is decompressed on the host (as a serving stack would have written it): past the budget
  // that would take minutes of JavaScript.
  const older = lens.reduce((n, len) => n + Math.max(0, len - S), 0);
  const expansionFlops = 2 * H * older * dC * (dNope + dV);
  if (form === 'naive-expanded' && expansionFlops > HOST_EXPANSION_BUDGET_FLOPS) {
    return `the expanded cache is decompressed on the host: ${(expansionFlops / 1e9).toFixed(0)} GFLOP of float64, past its budget of ${HOST_EXPANSION_BUDGET_FLOPS / 1e9} GFLOP (naive-latent measures the same attention over a GPU-decompressed cache)`;
  }
  return null;
}

/** A case being built: the spec and its sizes, the inputs, the data buffers in declaration order, the stages. */
interface MlaBuild {
  spec: MlaSpec;
  dtype: Dtype;
  context: BuildContext;
  /** The seeded inputs, made on first read (upload, the check): declaring a case makes no host data. */
  inputs: () => MlaInputs;
  /** Tokens of the step (batch x q_len), a latent cache row (d_c + d_r), a query head's row (d_nope + d_r). */
  T: number;
  row: number;
  qW: number;
  scale: number;
  kvLens: number[];
  /** Rows of the RoPE table the q_len-periodic rows cycle through: q_len, or every new token's in a ragged batch. */
  posSeg: number;
  buffers: BufferDecl[];
  list: StageList;
  /** An activation (or scratch) of the storage type; an input with `data`. */
  act(name: string, length: number, data?: () => Float32Array, role?: BufferDecl['role']): void;
  weights(name: string, length: number, data: () => Float32Array): void;
}

function startBuild(spec: MlaSpec, dtype: Dtype, context: BuildContext, problem: MlaProblem): MlaBuild {
  const { dims, batch, qLen: S } = spec;
  const kvLens = seqLengths(spec);
  const table = Float32Array.from(ropeTable(problem, dims.dRope));
  const buffers = [
    input('seqs', 'activations', 'u32', sequenceTable(kvLens), SHORT_CANARY),
    input('cos_sin', 'activations', 'f32', table, SHORT_CANARY),
  ];
  return {
    ...{ spec, dtype, context, inputs: memo(() => generateInputs(spec, dtype, context.seed)), buffers, kvLens, scale: problem.scale },
    ...{ T: batch * S, row: dims.dLatent + dims.dRope, qW: dims.dNope + dims.dRope, posSeg: problem.kvLens ? batch * S : S },
    list: new StageList(dtype, spec.tiling, context, context.plans),
    act: (name, length, data, role = 'activations') =>
      buffers.push(data ? lazyInput(name, role, dtype, length, data, CANARY) : storage(name, role, dtype, length, { canary: CANARY })),
    weights: (name, length, data) => buffers.push(lazyInput(name, 'weights', dtype, length, data)),
  };
}

/** The packed latent cache; with layer=full the GPU writes the new tokens' rows (NaN until then). */
function latentCache({ spec, inputs, row, kvLens }: MlaBuild): Float32Array {
  const latent = Float32Array.from(inputs().latent);
  if (spec.layer !== 'full') return latent;
  seqStarts(spec).forEach((start, b) => {
    const end = start + (kvLens[b] as number);
    if (end > start) latent.fill(NaN, (end - spec.qLen) * row, end * row);
  });
  return latent;
}

/** q_in: the input (layer=attention), or the per-layer path from the hidden states, which also appends the new latent rows. */
function emitLayerPath(b: MlaBuild): void {
  const { spec, T, row, qW, act, weights, list } = b;
  const { heads: H, dRope, dLatent: dC, dQLatent: dCq, dModel } = spec.dims;
  if (spec.layer !== 'full') {
    act('q_in', T * H * qW, () => b.inputs().qIn!);
    return;
  }
  const lw = () => b.inputs().layerWeights!;
  act('hidden', T * dModel, () => b.inputs().hidden!);
  act('q_in', T * H * qW);
  if (dCq > 0) {
    weights('w_dq', dModel * dCq, () => lw().wDQ!);
    weights('q_norm', dCq, () => lw().qNorm!);
    act('c_q', T * dCq);
    act('c_q_norm', T * dCq);
    list.gemm('q-down', 'q-proj', {
      m: T,
      n: dCq,
      k: dModel,
      z: 1,
      a: ['hidden', { row: dModel }],
      b: ['w_dq', { row: dCq }],
      c: ['c_q', { row: dCq }],
    });
    list.rmsNorm('q-norm', 'q-proj', { m: T, d: dCq, src: ['c_q', { row: dCq }], gain: 'q_norm', dst: ['c_q_norm', { row: dCq }] });
  }
  const [qSrc, qK] = dCq > 0 ? ['c_q_norm', dCq] : ['hidden', dModel];
  weights('w_uq', qK * H * qW, () => lw().wUQ);
  list.gemm('q-up', 'q-proj', {
    m: T,
    n: H * qW,
    k: qK,
    z: 1,
    a: [qSrc, { row: qK }],
    b: ['w_uq', { row: H * qW }],
    c: ['q_in', { row: H * qW }],
  });
  weights('w_dkv', dModel * row, () => lw().wDKV);
  weights('kv_norm', dC, () => lw().kvNorm);
  act('kv_new', T * row);
  list.gemm('kv-down', 'kv-append', {
    m: T,
    n: row,
    k: dModel,
    z: 1,
    a: ['hidden', { row: dModel }],
    b: ['w_dkv', { row }],
    c: ['kv_new', { row }],
  });
  const { context: L, qLen: S } = spec;
  // A ragged batch's new rows go to latent_new first, then to each sequence's slots (appendRagged).
  const staged = spec.form !== 'naive-expanded' && isRagged(spec);
  if (staged) act('latent_new', T * row);
  const dest: Rows =
    spec.form === 'naive-expanded' || staged ? ['latent_new', { row }] : ['latent', { off: (L - S) * row, outer: L * row, row, seg: S }];
  list.rmsNorm('kv-norm', 'kv-append', { m: T, d: dC, src: ['kv_new', { row }], gain: 'kv_norm', dst: dest });
  list.rope('k-rope', 'kv-append', {
    m: T,
    z: 1,
    copy: 0,
    rot: dRope,
    posSeg: b.posSeg,
    src: ['kv_new', { off: dC, row }],
    table: 'cos_sin',
    dst: [dest[0], { ...dest[1], off: (dest[1].off ?? 0) + dC }],
  });
  if (staged) appendRagged(b);
}

/**
 * kv-append of a ragged batch: the new rows (normalised, roped) from latent_new into the packed latent cache, one row
 * copy (mla_rope with no rotation) per run of equal lengths, where each sequence's new tokens are its last q_len.
 */
function appendRagged(b: MlaBuild): void {
  const { row, list, kvLens } = b;
  const S = b.spec.qLen;
  const runs = lengthRuns(kvLens);
  runs.forEach((run, i) =>
    list.rope(`kv-store${runs.length > 1 ? `-${i}` : ''}`, 'kv-append', {
      ...{ m: run.count * S, z: 1, copy: row, rot: 0, posSeg: 1, table: 'cos_sin' },
      src: ['latent_new', { ...(run.seq > 0 ? { off: run.seq * S * row } : {}), row }],
      dst: ['latent', { off: (run.start + run.len - S) * row, outer: run.len * row, row, seg: S }],
    }),
  );
}

/** q_in rows are [token][head][qW]: token m = (b, s) with positions by s. */
function qInRows({ spec, qW }: MlaBuild, off: number): RowAddr {
  const H = spec.dims.heads;
  return { off, zs: qW, row: H * qW, outer: spec.qLen * H * qW, seg: spec.qLen };
}

/** A run of `count` consecutive sequences of one length `len` > 0 from sequence `seq`, at packed token `start`. */
export interface LengthRun {
  seq: number;
  count: number;
  len: number;
  start: number;
}

/** The batch's sequences as runs of equal length, zero-length ones left out (one run when none differ). */
export function lengthRuns(kvLens: readonly number[]): LengthRun[] {
  const runs: LengthRun[] = [];
  let start = 0;
  kvLens.forEach((len, seq) => {
    const last = runs.at(-1);
    if (len > 0 && last && last.len === len && last.seq + last.count === seq) last.count++;
    else if (len > 0) runs.push({ seq, count: 1, len, start });
    start += len;
  });
  return runs;
}

/** Tokens a cache holds (at least 1, so that a batch of empty sequences still declares its buffers). */
function cachedTokens(kvLens: readonly number[]): number {
  return Math.max(
    1,
    kvLens.reduce((a, n) => a + n, 0),
  );
}

/**
 * One GEMM set of naive MLA's up-projection: `m` latent rows from `src` into the K and V buffers `k`, `v`, addressed
 * by `dst(width)` for rows of `width` elements, z the head.
 */
interface UpProjection {
  m: number;
  src: Rows;
  k: string;
  v: string;
  dst: (width: number) => RowAddr;
}

/**
 * Naive MLA's K/V: the up-projections into them, the paging the attend reads them through, facts of a paged cache the
 * attend does not read itself (naive-latent's); or why none fits.
 */
type NaiveKv = { ups: UpProjection[]; paging?: Paging; facts?: Record<string, number> } | string;

/** Into the packed layout: `tokens` tokens from token `first` of each sequence of a run (its heads `len` tokens apart). */
function packedDst(run: LengthRun, H: number, tokens: number, first: number): (width: number) => RowAddr {
  return (width) => ({
    ...{ off: (run.start * H + first) * width, zs: run.len * width },
    ...{ row: width, outer: H * run.len * width, seg: tokens },
  });
}

/**
 * naive-latent: the latent cache is the input; the whole K/V is decompressed into scratch every step, from the cache
 * itself or, paged, from the contiguous workspace its pages are gathered into first.
 */
function latentKv(b: MlaBuild): NaiveKv {
  const { spec, dtype, row, qW, kvLens } = b;
  const cached = cachedTokens(kvLens);
  const paged = spec.pageSize ? gatherLatent(b) : undefined;
  if (typeof paged === 'string') return paged;
  if (!paged) b.buffers.push(lazyInput('latent', 'kv-cache', dtype, cached * row, () => latentCache(b), CANARY));
  const src = paged ? LATENT_WORKSPACE : 'latent';
  b.act('k', cached * spec.dims.heads * qW, undefined, 'scratch');
  b.act('v', cached * spec.dims.heads * spec.dims.dV, undefined, 'scratch');
  const ups = lengthRuns(kvLens).map((run): UpProjection => ({
    ...{ m: run.count * run.len, k: 'k', v: 'v', dst: packedDst(run, spec.dims.heads, run.len, 0) },
    src: [src, { ...(run.start > 0 ? { off: run.start * row } : {}), row, outer: run.len * row, seg: run.len }],
  }));
  return { ups, ...(paged && { facts: paged }) };
}

/** The contiguous workspace a paged latent cache is gathered into (role scratch, like the K/V it is decompressed into). */
const LATENT_WORKSPACE = 'latent_ws';

/**
 * naive-latent over a paged cache: the latent pages (FlashMLA's [page][page_size][d_c + d_r], shuffled, over as many
 * buffers as the binding limit asks) with their block table `latent_pages`, and the gather stage that copies each
 * sequence's rows into the packed workspace, where the contiguous up-projection reads them (vLLM's gather_cache);
 * `seqs` stays the contiguous table the attend over K/V reads. Its paging facts, or why the pages fit no buffer.
 */
function gatherLatent(b: MlaBuild): Record<string, number> | string {
  const { spec, dtype, context, row, kvLens } = b;
  const plan: CachePlan = {
    ...{ kvLens, pageSize: spec.pageSize!, dtype, rowBytes: row * elementBytes(dtype), nKv: 1, seed: context.seed },
    ...(spec.maxPoolBytes !== undefined && { maxPoolBytes: spec.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  const { maxPages } = pageCounts(kvLens, plan.pageSize);
  b.buffers.push(lazyInput('latent_pages', 'activations', 'u32', kvLens.length * maxPages, () => layout.table().blockTable, SHORT_CANARY));
  const source = memo(() => latentSource(spec, b.inputs(), dtype));
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'latent', stride: row, source }));
  b.act(LATENT_WORKSPACE, cachedTokens(kvLens) * row, undefined, 'scratch');
  const io = { seqs: 'seqs', table: 'latent_pages', cache: 'latent', dst: LATENT_WORKSPACE };
  const gather = { name: 'kv-gather', phase: 'gather', dtype, kvLens, maxPages, paging: layout.paging, stride: row, io };
  b.list.add(gatherStage(gather, context.limits.maxComputeWorkgroupsPerDimension));
  return { pageSize: layout.paging.pageSize, kvPools: layout.paging.pools, poolPages: layout.paging.poolPages };
}

/** naive-expanded: the expanded K/V cache is the input; only the new tokens' latent rows are decompressed into it. */
function expandedKv(b: MlaBuild): NaiveKv {
  const { spec, dtype, T, row, kvLens } = b;
  if (spec.pageSize) return pagedExpandedKv(b);
  const { heads: H, dNope, dRope, dV } = spec.dims;
  const tokens = cachedTokens(kvLens) * H;
  const expanded = memo(() => expandCache(spec, b.inputs(), dtype));
  b.buffers.push(lazyInput('k', 'kv-cache', dtype, tokens * (dNope + dRope), () => expanded().k, CANARY));
  b.buffers.push(lazyInput('v', 'kv-cache', dtype, tokens * dV, () => expanded().v, CANARY));
  b.act('latent_new', T * row, spec.layer === 'full' ? undefined : () => newRows(spec, b.inputs().latent));
  const S = spec.qLen;
  const ups = lengthRuns(kvLens).map((run): UpProjection => ({
    ...{ m: run.count * S, k: 'k', v: 'v', dst: packedDst(run, H, S, run.len - S) },
    src: ['latent_new', { ...(run.seq > 0 ? { off: run.seq * S * row } : {}), row }],
  }));
  return { ups };
}

/**
 * naive-expanded over a paged cache: K and V in pages [head][page_size][dim] (pools of their own, the block table in
 * `seqs`, as the attention family's), the host-expanded tokens filled through the table; the up-projection writes the
 * new tokens through the block table too: one GEMM set per (sequence, page) the new tokens fall in, its rows addressed
 * in that page's pool buffer.
 */
function pagedExpandedKv(b: MlaBuild): NaiveKv {
  const { spec, dtype, context, row, kvLens } = b;
  const { heads: H, dNope, dRope, dV } = spec.dims;
  const qW = dNope + dRope;
  const plan: CachePlan = {
    ...{ kvLens, pageSize: spec.pageSize!, dtype, rowBytes: Math.max(qW, dV) * elementBytes(dtype), nKv: H, seed: context.seed },
    ...(spec.maxPoolBytes !== undefined && { maxPoolBytes: spec.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  b.buffers[b.buffers.findIndex((buffer) => buffer.name === 'seqs')] = sequenceBuffer(plan, layout, SHORT_CANARY);
  const expanded = memo(() => expandCache(spec, b.inputs(), dtype));
  const starts = seqStarts(spec);
  const packed = (data: () => Float32Array, width: number) => () => ({
    ...{ data: data(), width },
    start: (s: number, g: number, t: number) => ((starts[s] as number) * H + g * (kvLens[s] as number) + t) * width,
  });
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'k', stride: qW, source: packed(() => expanded().k, qW) }));
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'v', stride: dV, source: packed(() => expanded().v, dV) }));
  b.act('latent_new', b.T * row, () => newRows(spec, b.inputs().latent));
  const ups = newTokenPages(kvLens, spec.qLen, layout).map((chunk): UpProjection => ({
    ...{ m: chunk.tokens, k: poolBuffer('k', chunk.pool), v: poolBuffer('v', chunk.pool) },
    src: ['latent_new', { ...(chunk.newRow > 0 ? { off: chunk.newRow * row } : {}), row }],
    dst: (width) => ({
      off: (chunk.page * H * layout.paging.pageSize + chunk.slot) * width,
      zs: layout.paging.pageSize * width,
      row: width,
    }),
  }));
  return { ups, paging: layout.paging };
}

/** New tokens sharing one page: `tokens` of them from slot `slot` of page `page` of pool `pool`, from latent_new row `newRow`. */
export interface PageChunk {
  pool: number;
  page: number;
  slot: number;
  tokens: number;
  newRow: number;
}

/** Where each sequence's q_len new tokens lie in a paged cache, page by page (none for an empty sequence). */
export function newTokenPages(kvLens: readonly number[], qLen: number, layout: Pick<PagedLayout, 'table' | 'paging'>): PageChunk[] {
  const { pageSize: P, poolPages } = layout.paging;
  const table = layout.table();
  const chunks: PageChunk[] = [];
  kvLens.forEach((len, seq) => {
    for (let t = len - qLen; len > 0 && t < len;) {
      const end = Math.min(len, (Math.floor(t / P) + 1) * P);
      const physical = table.blockTable[seq * table.maxPages + Math.floor(t / P)] as number;
      const [pool, page] = [Math.floor(physical / poolPages), physical % poolPages];
      chunks.push({ pool, page, slot: t % P, tokens: end - t, newRow: seq * qLen + t - (len - qLen) });
      t = end;
    }
  });
  return chunks;
}

/** The up-project stages of one GEMM set: k_nope and v through W_UK / W_UV, the shared k_rope broadcast to every head. */
function emitUpProjection(b: MlaBuild, up: UpProjection, suffix: string): void {
  const { qW, list } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = b.spec.dims;
  const at = (width: number, off: number): RowAddr => {
    const dst = up.dst(width);
    return { ...dst, off: (dst.off ?? 0) + off };
  };
  const up1 = (name: string, n: number, w: string, dst: string, width: number) =>
    list.gemm(name + suffix, 'up-project', {
      ...{ m: up.m, n, k: dC, z: H, a: up.src },
      ...{ b: [w, { zs: dC * n, row: n }] as Rows, c: [dst, at(width, 0)] as Rows },
    });
  up1('up-k', dNope, 'w_uk_t', up.k, qW);
  up1('up-v', dV, 'w_uv_t', up.v, dV);
  const ropeSrc: Rows = [up.src[0], { ...up.src[1], off: (up.src[1].off ?? 0) + dC }];
  list.rope('k-rope-broadcast' + suffix, 'up-project', {
    ...{ m: up.m, z: H, copy: dRope, rot: 0, posSeg: 1, src: ropeSrc },
    ...{ table: 'cos_sin', dst: [up.k, at(qW, dNope)] as Rows },
  });
}

/** Naive MLA: q assembled with RoPE, K/V decompressed (latent or expanded cache), the core at qk d_nope + d_r / v d_v. */
function emitNaive(b: MlaBuild, cache: (b: MlaBuild) => NaiveKv): AttentionCore | Skip {
  const { spec, dtype, context, T, qW, list } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = spec.dims;
  const { batch, qLen: S } = spec;
  b.weights('w_uk_t', H * dNope * dC, () => transposeBlocks(b.inputs().weights.wUK, H, dNope, dC));
  b.weights('w_uv_t', H * dV * dC, () => transposeBlocks(b.inputs().weights.wUV, H, dV, dC));
  b.act('q', T * H * qW);
  list.rope('q-rope', 'q-rope', {
    m: T,
    z: H,
    copy: dNope,
    rot: dRope,
    posSeg: b.posSeg,
    src: ['q_in', qInRows(b, 0)],
    table: 'cos_sin',
    dst: ['q', qInRows(b, 0)],
  });
  const kv = cache(b);
  if (typeof kv === 'string') return { kind: 'skip', reason: kv };
  kv.ups.forEach((up, i) => emitUpProjection(b, up, kv.ups.length > 1 ? `-${i}` : ''));
  b.act('out', T * H * dV);
  const shape: AttentionShape = { batch, nQ: H, nKv: H, dQk: qW, dV, qLen: S, kvLens: b.kvLens, causal: true, scale: b.scale };
  const core = attentionCore(
    shape,
    dtype,
    context,
    { seqs: 'seqs', q: 'q', k: 'k', v: 'v', out: 'out', ...(kv.paging && { paging: kv.paging }) },
    { tiling: spec.tiling, phase: S <= 16 ? 'decode' : 'prefill' },
  );
  if (core.kind === 'skip') return core;
  list.add(core);
  return kv.facts ? { ...core, facts: { ...core.facts, ...kv.facts } } : core;
}

/**
 * The latent cache the absorbed attend reads as K (all d_c + d_r) and V (the first d_c): one contiguous buffer, or
 * pages of `pageSize` tokens in a shuffled order spread over as many buffers as the binding limit asks (FlashMLA's
 * [page][64][576]), with the block table after the sequence table in `seqs`; or why its pages fit no buffer.
 */
function latentCacheIo(b: MlaBuild): Pick<AttentionIo, 'k' | 'v' | 'vStride' | 'paging'> | string {
  const { spec, dtype, context, row } = b;
  const io = { k: 'latent', v: 'latent', vStride: row };
  if (!spec.pageSize) {
    const cached = Math.max(
      1,
      b.kvLens.reduce((a, n) => a + n, 0),
    );
    b.buffers.push(lazyInput('latent', 'kv-cache', dtype, cached * row, () => latentCache(b), CANARY));
    return io;
  }
  const plan: CachePlan = {
    ...{ kvLens: b.kvLens, pageSize: spec.pageSize, dtype, rowBytes: row * elementBytes(dtype), nKv: 1, seed: context.seed },
    ...(spec.maxPoolBytes !== undefined && { maxPoolBytes: spec.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  b.buffers[b.buffers.findIndex((buffer) => buffer.name === 'seqs')] = sequenceBuffer(plan, layout, SHORT_CANARY);
  const source = memo(() => latentSource(spec, b.inputs(), dtype));
  b.buffers.push(...cacheBuffers(plan, layout, { name: 'latent', stride: row, source }));
  return { ...io, paging: layout.paging };
}

/** Absorbed MLA: W_UK folded into the query, the core over the latent cache in MQA shape, W_UV applied after. */
function emitAbsorbed(b: MlaBuild): AttentionCore | Skip {
  const { spec, dtype, context, T, row, qW, list } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = spec.dims;
  const { batch, qLen: S } = spec;
  const cache = latentCacheIo(b);
  if (typeof cache === 'string') return { kind: 'skip', reason: cache };
  b.weights('w_uk', H * dNope * dC, () => b.inputs().weights.wUK);
  b.weights('w_uv_t', H * dV * dC, () => transposeBlocks(b.inputs().weights.wUV, H, dV, dC));
  b.act('q', T * H * row);
  b.act('o_lat', T * H * dC);
  b.act('out', T * H * dV);
  list.gemm('absorb-q', 'absorb-q', {
    m: T,
    n: dC,
    k: dNope,
    z: H,
    a: ['q_in', { zs: qW, row: H * qW }],
    b: ['w_uk', { zs: dNope * dC, row: dC }],
    c: ['q', { zs: row, row: H * row }],
  });
  const qRows: RowAddr = { off: dC, zs: row, row: H * row, outer: S * H * row, seg: S };
  list.rope('q-rope', 'q-rope', {
    m: T,
    z: H,
    copy: 0,
    rot: dRope,
    posSeg: b.posSeg,
    src: ['q_in', qInRows(b, dNope)],
    table: 'cos_sin',
    dst: ['q', qRows],
  });
  const shape: AttentionShape = { batch, nQ: H, nKv: 1, dQk: row, dV: dC, qLen: S, kvLens: b.kvLens, causal: true, scale: b.scale };
  const io = { seqs: 'seqs', q: 'q', out: 'o_lat', ...cache };
  const core = attentionCore(shape, dtype, context, io, {
    tiling: spec.tiling,
    phase: 'decode',
    ...(spec.tiling === 'rows' && { strategies: [absorbedRowsStrategy] }),
  });
  if (core.kind === 'skip') return core;
  list.add(core);
  list.gemm('absorb-o', 'absorb-o', {
    m: T,
    n: dV,
    k: dC,
    z: H,
    a: ['o_lat', { zs: dC, row: H * dC }],
    b: ['w_uv_t', { zs: dC * dV, row: dV }],
    c: ['out', { zs: dV, row: H * dV }],
  });
  return core;
}

/** Each form's stages from q_in to `out` (adding a form is adding an emitter). */
const FORM_EMITTERS: Record<MlaForm, (b: MlaBuild) => AttentionCore | Skip> = {
  'naive-latent': (b) => emitNaive(b, latentKv),
  'naive-expanded': (b) => emitNaive(b, expandedKv),
  absorbed: emitAbsorbed,
};

/** The checks of `out` (and `y` with o-proj) against the float64 reference, on sampled rows where it would cost too much. */
function mlaChecks(b: MlaBuild, problem: MlaProblem): OutputCheck[] {
  const { spec, dtype, T, row } = b;
  const { heads: H, dNope, dRope, dV, dLatent: dC, dModel } = spec.dims;
  const { batch, context: L, qLen: S } = spec;
  // Large GPU cases: the absorbed float64 reference on evenly spaced output rows (all heads of evenly spaced
  // tokens where W_O follows, since y mixes the heads), as many as REFERENCE_BUDGET_FLOPS pays for.
  const perRowFlops = 2 * (dC * (dNope + dV) + (L - S / 2) * (2 * dC + dRope));
  const cost = referenceCost(problem);
  const wholeFlops = 2 * Math.min(cost.naive, cost.absorbed);
  const budget = spec.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS;
  const tokenSample =
    spec.oProj && wholeFlops > budget ? sampleRows(T, dModel, H * perRowFlops + 2 * H * dV * dModel, budget, 8) : undefined;
  const outSample: SampledRows | undefined = tokenSample
    ? { rowLength: dV, total: T * H, rows: tokenSample.rows.flatMap((t) => Array.from({ length: H }, (_, h) => t * H + h)) }
    : spec.oProj || wholeFlops <= budget
      ? undefined
      : sampleRows(T * H, dV, perRowFlops, budget);
  let memo: Reference | undefined;
  const reference = (): Reference => (memo ??= mlaReference(spec, problem, b.inputs(), dtype, outSample?.rows));
  const roundings = (spec.form === 'absorbed' ? 3 : 4) + (spec.layer === 'full' ? 4 : 0);
  const reduction = L + row;
  const checks: OutputCheck[] = [
    {
      buffer: 'out',
      shape: [batch, S, H, dV],
      expected: () => reference().out,
      get tolerance() {
        const r = reference();
        return mlaTolerance(dtype, roundings, r.maxScore, maxAbs(r.out), reduction);
      },
      ...(outSample && { sampledRows: outSample }),
    },
  ];
  if (!spec.oProj) return checks;
  return [
    ...checks,
    {
      buffer: 'y',
      shape: [batch, S, dModel],
      expected: () => reference().y!,
      get tolerance() {
        const r = reference();
        return mlaTolerance(dtype, roundings + 1, r.maxScore, maxAbs(r.y!), reduction + H * dV);
      },
      ...(tokenSample && { sampledRows: tokenSample }),
    },
  ];
}

/**
 * FlashMLA's FLOP and byte formulas for the absorbed attend (tests/test_flash_mla.py: s_q x total_seqlens x h_q x
 * (d + dv) x 2 FLOPs; the latent cache once, q and the output), so a case's rates can stand beside its figures.
 */
export function flashMlaWork(
  spec: Pick<MlaSpec, 'dims' | 'batch' | 'context' | 'kvLens' | 'qLen'>,
  dtype: Dtype,
): { flops: number; bytes: number } {
  const { dims, batch, qLen } = spec;
  const [d, dv] = [dims.dLatent + dims.dRope, dims.dLatent];
  const total = seqLengths(spec).reduce((a, n) => a + n, 0);
  return {
    flops: 2 * qLen * total * dims.heads * (d + dv),
    bytes: (total * d + batch * qLen * dims.heads * (d + dv)) * elementBytes(dtype),
  };
}

function mlaFacts({ spec, buffers, scale, dtype }: MlaBuild, core: AttentionCore): Record<string, number | string> {
  const { dims, form } = spec;
  const cachedTokens = Math.max(
    1,
    seqLengths(spec).reduce((a, n) => a + n, 0),
  );
  return {
    ...core.facts,
    ...{
      form,
      heads: dims.heads,
      dNope: dims.dNope,
      dRope: dims.dRope,
      dV: dims.dV,
      dLatent: dims.dLatent,
      dQLatent: dims.dQLatent,
      dModel: dims.dModel,
    },
    ...{ layer: spec.layer, oProj: spec.oProj ? 1 : 0, scale, ropeTheta: ROPE_THETA, cachedTokens },
    kvElementsPerToken: kvElementsFormula(form, dims),
    ...(form === 'absorbed' && flashMlaFacts(spec, dtype)),
    kvBytesPerToken: kvBytesPerToken(buffers, cachedTokens),
    cacheLayout:
      form === 'naive-expanded'
        ? spec.pageSize
          ? `K pages [head][${spec.pageSize}][d_nope+d_r], V pages [head][${spec.pageSize}][d_v] in a shuffled order per block table [batch][max_pages]`
          : 'K [batch][head][token][d_nope+d_r], V [batch][head][token][d_v]'
        : spec.pageSize
          ? `pages [${spec.pageSize}][d_c+d_r] (c_KV, roped k_rope) in a shuffled order per block table [batch][max_pages]${form === 'naive-latent' ? ', gathered every step into a contiguous workspace [token][d_c+d_r]' : ''}`
          : '[batch][token][d_c+d_r] (c_KV, roped k_rope)',
  };
}

function flashMlaFacts(spec: MlaSpec, dtype: Dtype): { flashMlaFlops: number; flashMlaBytes: number } {
  const work = flashMlaWork(spec, dtype);
  return { flashMlaFlops: work.flops, flashMlaBytes: work.bytes };
}

/** Builds one MLA case: the layer path, the form's stages, o-proj, the float64 checks. */
export function mlaCase(spec: MlaSpec, dtype: Dtype, context: BuildContext): BuildResult {
  const skip = mlaSkip(spec, dtype, context);
  if (skip) return { kind: 'skip', reason: skip };
  const { dims, batch, context: L, qLen: S } = spec;
  const problem: MlaProblem = {
    ...{ dims, batch, qLen: S, context: L, scale: mlaScale(dims), ropeTheta: ROPE_THETA },
    ...(isRagged(spec) && { kvLens: seqLengths(spec) }),
  };
  const b = startBuild(spec, dtype, context, problem);
  emitLayerPath(b);
  const core = FORM_EMITTERS[spec.form](b);
  if (core.kind === 'skip') return core;
  if (spec.oProj) {
    const { heads: H, dV, dModel } = dims;
    b.weights('w_o', H * dV * dModel, () => b.inputs().wO!);
    b.act('y', b.T * dModel);
    b.list.gemm('o-proj', 'o-proj', {
      m: b.T,
      n: dModel,
      k: H * dV,
      z: 1,
      a: ['out', { row: H * dV }],
      b: ['w_o', { row: dModel }],
      c: ['y', { row: dModel }],
    });
  }
  b.buffers.push(...b.list.buffers);
  const kernelCase: KernelCase = {
    ...{ buffers: b.buffers, stages: b.list.stages, checks: mlaChecks(b, problem), facts: mlaFacts(b, core) },
    tunables: [core.tunable, ...b.list.tunables],
  };
  return { kind: 'case', kernelCase };
}

/** float64 reference of a case, by whichever form is cheaper (they agree; the unit tests hold them to it). */
function mlaReference(spec: MlaSpec, problem: MlaProblem, inputs: MlaInputs, dtype: Dtype, rows?: readonly number[]): Reference {
  let qIn: ArrayLike<number>;
  let latent: Latent;
  if (spec.layer === 'full') {
    const layer = mlaLayerInputs(problem, inputs.layerWeights!, inputs.hidden!);
    qIn = layer.qIn;
    latent = appendToCache(problem, inputs.latent, layer.newLatent);
  } else {
    // The cache's rows from its seeded source: a GPU-sized (paged) cache is never one host array.
    const source = latentSource(spec, inputs, dtype);
    qIn = inputs.qIn!;
    latent = { data: source.data, start: (b, t) => source.start(b, 0, t) };
  }
  const cost = referenceCost(problem);
  const { dims, batch, qLen } = problem;
  // Sampled rows: the absorbed form row by row (the naive one decompresses the whole cache first).
  const { out, maxScore } = rows
    ? mlaAbsorbedReference(problem, inputs.weights, qIn, latent, rows)
    : (cost.naive <= cost.absorbed ? mlaNaiveReference : mlaAbsorbedReference)(problem, inputs.weights, qIn, latent);
  // y mixes the heads of a token: sampled rows come as every head of the sampled tokens, in token order.
  const tokens = rows ? rows.length / dims.heads : batch * qLen;
  const y = spec.oProj ? matmulRows(out, tokens, inputs.wO!, dims.heads * dims.dV, dims.dModel) : undefined;
  return { out, maxScore, ...(y && { y }) };
}

/**
 * The absorbed attend on CPU adapters: the attention core's subgroup rows kernel
 * (kernels/attention_rows_subgroup.wgsl) over the latent cache, k and v the same rows (the core adds V_STRIDE4 =
 * the row stride), two query rows per invocation, the rows of a sequence in as few workgroups as fit.
 */
export function absorbedRowsPlan(
  shape: AttentionShape,
  limits: DeviceLimits,
  subgroupMinSize: number | undefined,
  rpi = 2,
): SubgroupRowsPlan | string {
  if (shape.nKv !== 1) return 'the absorbed attend is MQA-shaped (one latent KV head)';
  const plan = subgroupRowsPlan(shape, 'decode', limits, subgroupMinSize, { rpi });
  return typeof plan === 'string' ? `${plan} (tiling=workgroup runs anywhere)` : plan;
}

const absorbedRowsStrategy: AttentionStrategy = ({ shape, limits, subgroupMinSize }) => absorbedRowsPlan(shape, limits, subgroupMinSize);

export function mlaDimsOf(params: Parameters<KernelFamily['build']>[0]): {
  preset: MlaPresetName | 'custom';
  dims: MlaDims;
  layers: number;
} {
  const preset = stringParam(params, 'preset', PRESET_NAMES);
  if (preset !== 'custom') {
    const { layers, ...dims } = MLA_PRESETS[preset];
    return { preset, dims, layers };
  }
  const dims: MlaDims = {
    heads: numberParam(params, 'heads'),
    dNope: numberParam(params, 'd_nope'),
    dRope: numberParam(params, 'd_rope'),
    dV: numberParam(params, 'd_v'),
    dLatent: numberParam(params, 'd_latent'),
    dQLatent: optionalNumber(params, 'd_q_latent', 0),
    dModel: numberParam(params, 'd_model'),
  };
  return { preset, dims, layers: optionalNumber(params, 'layers', 1) };
}

/**
 * Axes: preset (deepseek-v2 | deepseek-v2-lite | deepseek-v3 | deepseek-v3-tp2 | custom with heads, d_nope, d_rope, d_v,
 * d_latent, d_q_latent, d_model, layers), form, batch, context (or seq: prefill, q_len = context = seq),
 * q_len (default 1), dtype, tiling (workgroup | rows), layer (attention | full), o_proj (0 | 1), page_size (layer=attention),
 * ragged (decode: r in [0, 1), KV lengths falling linearly from context to context * (1 - r), at least q_len).
 */
export const mlaFamily: KernelFamily = {
  name: 'mla',
  requiredAxes: ['preset', 'form', 'batch', 'dtype'],
  build(params, context): BuildResult {
    const { preset, dims, layers } = mlaDimsOf(params);
    const form = stringParam(params, 'form', FORMS);
    const dtype = stringParam(params, 'dtype', DTYPES);
    const batch = numberParam(params, 'batch');
    const seq = params['seq'] === undefined ? undefined : numberParam(params, 'seq');
    const contextLen = seq ?? numberParam(params, 'context');
    const qLen = seq ?? optionalNumber(params, 'q_len', 1);
    const tiling = optionalString(params, 'tiling', ATTENTION_TILINGS, 'workgroup');
    const layer = optionalString(params, 'layer', MLA_LAYERS, 'attention');
    const oProj = optionalNumber(params, 'o_proj', layer === 'full' ? 1 : 0) !== 0;
    const pageSize = optionalNumber(params, 'page_size', 0);
    const ragged = optionalNumber(params, 'ragged', 0);
    if (!(ragged >= 0 && ragged < 1)) return { kind: 'skip', reason: `ragged=${ragged} must be in [0, 1)` };
    if (ragged > 0 && seq !== undefined) return { kind: 'skip', reason: 'a ragged batch is a decode batch (context and q_len, not seq)' };
    // Every sequence holds at least its q_len new tokens.
    const kvLens = raggedLengths(batch, contextLen, ragged).map((len) => Math.max(len, qLen));
    const model = { preset, layers, kvElementsPerToken: kvElementsFormula(form, dims) };
    let built: BuildResult;
    if ((BASELINE_FORMS as readonly string[]).includes(form)) {
      if (layer === 'full' || oProj) return { kind: 'skip', reason: `form ${form} is the attention core alone (no layer path or o-proj)` };
      const nKv = baselineKvHeads(form as BaselineForm, dims.heads);
      const shape: AttentionShape = { batch, nQ: dims.heads, nKv, dQk: dims.dNope, dV: dims.dV, qLen, kvLens, causal: true };
      built = attentionCase(shape, dtype, context, { tiling, phase: qLen <= 16 ? 'decode' : 'prefill', pageSize });
    } else {
      const spec: MlaSpec = {
        ...{ dims, form: form as MlaForm, batch, context: contextLen, qLen, layer, oProj, tiling, pageSize },
        ...(ragged > 0 && { kvLens }),
      };
      built = mlaCase(spec, dtype, context);
    }
    if (built.kind === 'case') built.kernelCase.facts = { form, ...model, ...built.kernelCase.facts };
    return built;
  },
};
