import type { DeviceLimits } from '../gpu/device.js';
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
  RMS_NORM_EPS,
  ROPE_THETA,
  type MlaDims,
  type MlaLayerWeights,
  type MlaProblem,
  type MlaWeights,
} from '../reference/mla.js';
import { seededUniform } from '../reference/random.js';
import { roundToF16 } from '../util/f16.js';
import { attentionCore } from './attention-core.js';
import { subgroupRowsPlan, type AttentionStrategy, type SubgroupRowsPlan } from './attention-plans.js';
import { ATTENTION_TILINGS, attentionCase, kvBytesPerToken, sequenceTable, type AttentionShape, type AttentionTiling } from './attention.js';
import { CANARY, ceilDiv, dtypeUnsupported, input, maxAbs, paramsUniform, pow2Ceil, SHORT_CANARY, storage } from './build.js';
import type { BuildContext, BuildResult, KernelFamily } from './family.js';
import { grid2d, numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import { SHADERS } from './shaders.js';
import { buffersMisfit, DTYPES, elementBytes, REFERENCE_BUDGET_FLOPS, sampleRows, type BufferDecl, type Dtype, type KernelCase, type OutputCheck, type SampledRows, type StageDecl, type Tolerance } from './spec.js';

/**
 * Multi-head Latent Attention (DeepSeek-V2/V3) as stage lists over the attention core (src/reference/mla.ts
 * has the equations, layouts and RoPE convention):
 *   naive-latent:   q-rope, up-project (latent cache -> per-head k_nope, v; shared k_rope broadcast), attend, reduce
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
 *     and V (the first 512).
 *   expanded (naive-expanded): K [batch][head][token][d_nope + d_r] and V [batch][head][token][d_v], the
 *     attention core's MHA layout: heads * (d_nope + d_r + d_v) elements per token (40960 for DeepSeek-V2).
 * Every sequence holds `context` tokens, the q_len new ones last. Weights are stored in the layout each form
 * reads (the absorbed form's W_UK is [head][d_nope][d_c], the naive form's [head][d_c][d_nope]), as engines
 * re-lay them out offline.
 */

export interface MlaPreset extends MlaDims {
  layers: number;
}

/** Official configs (MODELS.md). */
export const MLA_PRESETS: Record<'deepseek-v2' | 'deepseek-v2-lite' | 'deepseek-v3', MlaPreset> = {
  'deepseek-v2': { heads: 128, dNope: 128, dRope: 64, dV: 128, dLatent: 512, dQLatent: 1536, dModel: 5120, layers: 60 },
  'deepseek-v2-lite': { heads: 16, dNope: 128, dRope: 64, dV: 128, dLatent: 512, dQLatent: 0, dModel: 2048, layers: 27 },
  'deepseek-v3': { heads: 128, dNope: 128, dRope: 64, dV: 128, dLatent: 512, dQLatent: 1536, dModel: 7168, layers: 61 },
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
  /** Cached tokens per sequence, the q_len new ones included. */
  context: number;
  qLen: number;
  layer: MlaLayer;
  oProj: boolean;
  tiling: AttentionTiling;
  /** float64 FLOPs the check's reference may cost before it samples output rows (default REFERENCE_BUDGET_FLOPS). */
  referenceBudgetFlops?: number;
}

/** float64 FLOPs the host may spend decompressing a naive-expanded cache (about 10 s of JavaScript). */
const HOST_EXPANSION_BUDGET_FLOPS = 1e10;

/** Element addressing of rows (see kernels/mla_gemm.wgsl): (z, m) -> off + z zs + (m / seg) outer + (m % seg) row. */
interface RowAddr {
  off?: number;
  zs?: number;
  outer?: number;
  row: number;
  seg?: number;
}

/** The kernels' Addr struct, in units of `unit` elements (4: the GEMM's vec4s). */
function addrValues(addr: RowAddr, unit: number): { off: number; zs: number; outer: number; row: number; seg: number } {
  const [off, zs, outer, row] = [addr.off ?? 0, addr.zs ?? 0, addr.outer ?? 0, addr.row];
  if ([off, zs, outer, row].some((w) => w % unit !== 0)) throw new Error(`mla: address ${JSON.stringify(addr)} is not in whole vec${unit}s`);
  return { off: off / unit, zs: zs / unit, outer: outer / unit, row: row / unit, seg: addr.seg ?? 0x7fffffff };
}

interface Emitted {
  buffers: BufferDecl[];
  stages: StageDecl[];
}

/** Builds the stage list of a case: each helper adds its uniform and its dispatch. */
class StageList implements Emitted {
  buffers: BufferDecl[] = [];
  stages: StageDecl[] = [];
  private count = 0;

  constructor(
    private readonly dtype: Dtype,
    private readonly tiling: AttentionTiling,
    private readonly limits: DeviceLimits,
  ) {}

  private uniformName(name: string): string {
    return `u${this.count++}_${name}`;
  }

  /** C[z] = A[z] B[z]: m x k times k x n, z batches (see kernels/mla_gemm.wgsl). */
  gemm(
    name: string,
    phase: string,
    g: { m: number; n: number; k: number; z: number; a: [string, RowAddr]; b: [string, RowAddr]; c: [string, RowAddr] },
  ): void {
    const elem = elementBytes(this.dtype);
    // Rows per invocation up to 8 (CPU adapters) or 4, but no more than there are: decode GEMMs have one row.
    const tm = Math.min(this.tiling === 'rows' ? 8 : 4, 2 ** Math.floor(Math.log2(Math.max(1, g.m))));
    // CPU adapters: each invocation streams a contiguous run of up to 8 vec4 columns (16 accumulators in all).
    // Matrix-vector products (one row: decode's absorb-q / absorb-o) stream best with one column per
    // invocation and workgroups of <= 32 (measured on lavapipe: 1.7x faster than 4 columns in 32-lane groups).
    let tn = this.tiling === 'rows' && tm > 1 ? 8 : 1;
    while (tn > 1 && (tn * tm > 16 || tn * 8 > g.n / 4)) tn /= 2;
    const tile = { TM: tm, TN: tn };
    const n4 = g.n / 4;
    const wg = this.tiling === 'rows' ? Math.min(tm > 1 ? 64 : 32, Math.max(8, pow2Ceil(ceilDiv(n4, tile.TN)))) : 64;
    const nBlocks = ceilDiv(n4, wg * tile.TN);
    const rowBlocks = ceilDiv(g.m, tile.TM);
    const [x, y] = grid2d(nBlocks * rowBlocks, this.limits.maxComputeWorkgroupsPerDimension);
    const params = this.uniformName(name);
    this.buffers.push(
      paramsUniform(params, SHADERS.mlaGemm, {
        m: g.m,
        n4,
        k4: g.k / 4,
        n_blocks: nBlocks,
        row_blocks: rowBlocks,
        a: addrValues(g.a[1], 4),
        b: addrValues(g.b[1], 4),
        c: addrValues(g.c[1], 4),
      }),
    );
    const aReads = (g.a[1].zs ? g.z : 1) * g.m * g.k;
    const bReads = (g.b[1].zs ? g.z : 1) * g.k * g.n;
    this.stages.push({
      name,
      phase,
      shader: SHADERS.mlaGemm.file,
      dtype: this.dtype,
      constants: { WG: wg, ...tile },
      bindings: [params, g.a[0], g.b[0], g.c[0]],
      workgroups: [x, y, g.z],
      work: { flops: 2 * g.m * g.n * g.k * g.z, bytesRead: (aReads + bReads) * elem, bytesWritten: g.z * g.m * g.n * elem },
    });
  }

  /** Per row: copy `copy` elements, rotate the next `rot` (see kernels/mla_rope.wgsl). */
  rope(name: string, phase: string, r: { m: number; z: number; copy: number; rot: number; posSeg: number; src: [string, RowAddr]; table: string; dst: [string, RowAddr] }): void {
    const elem = elementBytes(this.dtype);
    const params = this.uniformName(name);
    const [src, dst] = [addrValues(r.src[1], 1), addrValues(r.dst[1], 1)];
    this.buffers.push(paramsUniform(params, SHADERS.mlaRope, { m: r.m, z: r.z, copy: r.copy, rot: r.rot, pos_seg: r.posSeg, src, dst }));
    const rows = r.m * r.z;
    const wg = 64;
    this.stages.push({
      name,
      phase,
      shader: SHADERS.mlaRope.file,
      dtype: this.dtype,
      constants: { WG: wg },
      bindings: [params, r.src[0], r.table, r.dst[0]],
      workgroups: grid2d(ceilDiv(rows, wg), this.limits.maxComputeWorkgroupsPerDimension),
      work: { flops: 3 * rows * r.rot, bytesRead: rows * (r.copy + r.rot) * elem + r.posSeg * r.rot * 4, bytesWritten: rows * (r.copy + r.rot) * elem },
    });
  }

  rmsNorm(name: string, phase: string, r: { m: number; d: number; src: [string, RowAddr]; gain: string; dst: [string, RowAddr] }): void {
    const elem = elementBytes(this.dtype);
    const params = this.uniformName(name);
    const [src, dst] = [addrValues(r.src[1], 1), addrValues(r.dst[1], 1)];
    this.buffers.push(paramsUniform(params, SHADERS.mlaRmsNorm, { m: r.m, d: r.d, eps: RMS_NORM_EPS, src, dst }));
    const wg = 64;
    this.stages.push({
      name,
      phase,
      shader: SHADERS.mlaRmsNorm.file,
      dtype: this.dtype,
      constants: { WG: wg },
      bindings: [params, r.src[0], r.gain, r.dst[0]],
      workgroups: grid2d(ceilDiv(r.m, wg), this.limits.maxComputeWorkgroupsPerDimension),
      work: { flops: 4 * r.m * r.d, bytesRead: (r.m + 1) * r.d * elem, bytesWritten: r.m * r.d * elem },
    });
  }

  add(emitted: Emitted, phaseOf: (stage: StageDecl) => string = (s) => s.phase ?? s.name): void {
    this.buffers.push(...emitted.buffers);
    this.stages.push(...emitted.stages.map((stage) => ({ ...stage, phase: phaseOf(stage) })));
  }
}

function validateSpec(spec: MlaSpec): string | null {
  const { dims, batch, context, qLen } = spec;
  for (const [name, value] of Object.entries({ ...dims, batch, context, q_len: qLen })) {
    if (!Number.isInteger(value) || value < (name === 'dQLatent' ? 0 : 1)) return `${name}=${value} must be a positive integer`;
  }
  const dimList = { d_nope: dims.dNope, d_rope: dims.dRope, d_v: dims.dV, d_latent: dims.dLatent, d_q_latent: dims.dQLatent, d_model: dims.dModel };
  const odd = Object.entries(dimList).find(([, v]) => v % 4 !== 0);
  if (odd) return `${odd[0]}=${odd[1]}: the MLA kernels read whole vec4s, so every dim must be a multiple of 4`;
  if (qLen > context) return `q_len=${qLen} exceeds context=${context} (the new tokens are part of the context)`;
  return null;
}

interface Inputs {
  weights: MlaWeights;
  layerWeights?: MlaLayerWeights;
  hidden?: Float32Array;
  wO?: Float32Array;
  /** [batch][q_len][heads][d_nope + d_r] before RoPE (attention-only path). */
  qIn?: Float32Array;
  /** [batch][context][d_c + d_r]; with layer=full the new tokens' rows are the GPU's to write. */
  latent: Float32Array;
}

function generateInputs(spec: MlaSpec, dtype: Dtype, seed: number): Inputs {
  const { dims, batch, context, qLen } = spec;
  const tokens = batch * qLen;
  const qWidth = dims.heads * (dims.dNope + dims.dRope);
  let next = seed;
  const uniform = (length: number, bound: number): Float32Array => seededUniform(length, (next++ >>> 0) as number, dtype, -bound, bound);
  const gain = (length: number): Float32Array => seededUniform(length, (next++ >>> 0) as number, dtype, 0.5, 1.5);
  // Weights ~ U(-1, 1) / sqrt(fan_in): every projection keeps values of order one.
  const weights: MlaWeights = {
    wUK: uniform(dims.heads * dims.dNope * dims.dLatent, 1 / Math.sqrt(dims.dLatent)),
    wUV: uniform(dims.heads * dims.dV * dims.dLatent, 1 / Math.sqrt(dims.dLatent)),
  };
  const latent = uniform(batch * context * (dims.dLatent + dims.dRope), 1);
  const inputs: Inputs = { weights, latent };
  if (spec.layer === 'full') {
    const qSource = dims.dQLatent > 0 ? dims.dQLatent : dims.dModel;
    inputs.hidden = uniform(tokens * dims.dModel, 1);
    inputs.layerWeights = {
      ...(dims.dQLatent > 0 && { wDQ: uniform(dims.dModel * dims.dQLatent, 1 / Math.sqrt(dims.dModel)), qNorm: gain(dims.dQLatent) }),
      wUQ: uniform(qSource * qWidth, 1 / Math.sqrt(qSource)),
      wDKV: uniform(dims.dModel * (dims.dLatent + dims.dRope), 1 / Math.sqrt(dims.dModel)),
      kvNorm: gain(dims.dLatent),
    };
  } else {
    inputs.qIn = uniform(tokens * qWidth, 1);
  }
  if (spec.oProj) inputs.wO = uniform(dims.heads * dims.dV * dims.dModel, 1 / Math.sqrt(dims.heads * dims.dV));
  return inputs;
}

/** Per-head transpose: [z][rows][cols] -> [z][cols][rows]. */
function transposeBlocks(x: Float32Array, z: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < z; b++) {
    const base = b * rows * cols;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[base + c * rows + r] = x[base + r * cols + c] as number;
  }
  return out;
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

/** Builds one MLA case: buffers, stages per form, the float64 checks. */
export function mlaCase(spec: MlaSpec, dtype: Dtype, context: BuildContext): BuildResult {
  const invalid = validateSpec(spec);
  if (invalid) return { kind: 'skip', reason: invalid };
  const unsupported = dtypeUnsupported(dtype, context);
  if (unsupported) return { kind: 'skip', reason: unsupported };
  const { dims, form, batch, context: L, qLen: S } = spec;
  const { heads: H, dNope, dRope, dV, dLatent: dC, dQLatent: dCq, dModel } = dims;
  const T = batch * S;
  const row = dC + dRope;
  const qW = dNope + dRope;
  const scale = mlaScale(dims);
  const problem: MlaProblem = { dims, batch, qLen: S, context: L, scale, ropeTheta: ROPE_THETA };
  // Past the device's limits: a skip before the host fills arrays of that size.
  const tooBig = buffersMisfit(
    [
      { name: 'latent', usage: 'storage', type: dtype, length: batch * L * row, canary: CANARY },
      ...(form !== 'absorbed'
        ? [
            { name: 'k', usage: 'storage' as const, type: dtype, length: batch * H * L * qW, canary: CANARY },
            { name: 'v', usage: 'storage' as const, type: dtype, length: batch * H * L * dV, canary: CANARY },
          ]
        : []),
    ],
    context.limits,
  );
  if (tooBig) return { kind: 'skip', reason: tooBig };
  // The expanded cache is decompressed on the host (as a serving stack would have written it): past the budget
  // that would take minutes of JavaScript.
  const expansionFlops = 2 * batch * H * (L - S) * dC * (dNope + dV);
  if (form === 'naive-expanded' && expansionFlops > HOST_EXPANSION_BUDGET_FLOPS) {
    return {
      kind: 'skip',
      reason: `the expanded cache is decompressed on the host: ${(expansionFlops / 1e9).toFixed(0)} GFLOP of float64, past its budget of ${HOST_EXPANSION_BUDGET_FLOPS / 1e9} GFLOP (naive-latent measures the same attention over a GPU-decompressed cache)`,
    };
  }
  const inputs = generateInputs(spec, dtype, context.seed);
  const full = spec.layer === 'full';
  const kvLens = Array.from({ length: batch }, () => L);
  const seqs = sequenceTable(kvLens);
  const table = Float32Array.from(ropeTable(problem, dRope));

  const buffers: BufferDecl[] = [input('seqs', 'activations', 'u32', seqs, SHORT_CANARY), input('cos_sin', 'activations', 'f32', table, SHORT_CANARY)];
  const act = (name: string, length: number, data?: Float32Array, role: BufferDecl['role'] = 'activations'): void => {
    buffers.push(storage(name, role, dtype, length, { canary: CANARY, ...(data && { data }) }));
  };
  const weights = (name: string, data: Float32Array): void => {
    buffers.push(input(name, 'weights', dtype, data));
  };
  const list = new StageList(dtype, spec.tiling, context.limits);

  // The latent cache: the GPU writes the new tokens' rows itself with layer=full (NaN until then).
  const latentData = Float32Array.from(inputs.latent);
  if (full) {
    for (let b = 0; b < batch; b++) latentData.fill(NaN, (b * L + L - S) * row, (b * L + L) * row);
  }
  const newSlots: RowAddr = { off: (L - S) * row, outer: L * row, row, seg: S };

  // Per-layer path: hidden states -> q_in (pre-RoPE queries) and the new tokens' cache rows.
  if (full) {
    const lw = inputs.layerWeights!;
    act('hidden', T * dModel, inputs.hidden);
    act('q_in', T * H * qW);
    if (dCq > 0) {
      weights('w_dq', lw.wDQ!);
      weights('q_norm', lw.qNorm!);
      act('c_q', T * dCq);
      act('c_q_norm', T * dCq);
      list.gemm('q-down', 'q-proj', { m: T, n: dCq, k: dModel, z: 1, a: ['hidden', { row: dModel }], b: ['w_dq', { row: dCq }], c: ['c_q', { row: dCq }] });
      list.rmsNorm('q-norm', 'q-proj', { m: T, d: dCq, src: ['c_q', { row: dCq }], gain: 'q_norm', dst: ['c_q_norm', { row: dCq }] });
    }
    const qSrc = dCq > 0 ? 'c_q_norm' : 'hidden';
    const qK = dCq > 0 ? dCq : dModel;
    weights('w_uq', lw.wUQ);
    list.gemm('q-up', 'q-proj', { m: T, n: H * qW, k: qK, z: 1, a: [qSrc, { row: qK }], b: ['w_uq', { row: H * qW }], c: ['q_in', { row: H * qW }] });
    weights('w_dkv', lw.wDKV);
    weights('kv_norm', lw.kvNorm);
    act('kv_new', T * row);
    list.gemm('kv-down', 'kv-append', { m: T, n: row, k: dModel, z: 1, a: ['hidden', { row: dModel }], b: ['w_dkv', { row }], c: ['kv_new', { row }] });
    const dest: [string, RowAddr] = form === 'naive-expanded' ? ['latent_new', { row }] : ['latent', newSlots];
    list.rmsNorm('kv-norm', 'kv-append', { m: T, d: dC, src: ['kv_new', { row }], gain: 'kv_norm', dst: dest });
    list.rope('k-rope', 'kv-append', { m: T, z: 1, copy: 0, rot: dRope, posSeg: S, src: ['kv_new', { off: dC, row }], table: 'cos_sin', dst: [dest[0], { ...dest[1], off: (dest[1].off ?? 0) + dC }] });
  } else {
    act('q_in', T * H * qW, inputs.qIn);
  }

  // q_in rows are [token][head][qW]: token m = (b, s) with positions by s.
  const qInRows = (off: number): RowAddr => ({ off, zs: qW, row: H * qW, outer: S * H * qW, seg: S });
  let core;
  const naive = form !== 'absorbed';
  if (naive) {
    const wUKt = transposeBlocks(inputs.weights.wUK, H, dNope, dC);
    const wUVt = transposeBlocks(inputs.weights.wUV, H, dV, dC);
    weights('w_uk_t', wUKt);
    weights('w_uv_t', wUVt);
    act('q', T * H * qW);
    list.rope('q-rope', 'q-rope', { m: T, z: H, copy: dNope, rot: dRope, posSeg: S, src: ['q_in', qInRows(0)], table: 'cos_sin', dst: ['q', qInRows(0)] });
    const kRows = (off: number, tokens: number): RowAddr => ({ off, zs: L * qW, row: qW, outer: H * L * qW, seg: tokens });
    const vRows = (off: number, tokens: number): RowAddr => ({ off, zs: L * dV, row: dV, outer: H * L * dV, seg: tokens });
    if (form === 'naive-latent') {
      buffers.push(input('latent', 'kv-cache', dtype, latentData, CANARY));
      act('k', batch * H * L * qW, undefined, 'scratch');
      act('v', batch * H * L * dV, undefined, 'scratch');
      const src: RowAddr = { row, outer: L * row, seg: L };
      list.gemm('up-k', 'up-project', { m: batch * L, n: dNope, k: dC, z: H, a: ['latent', src], b: ['w_uk_t', { zs: dC * dNope, row: dNope }], c: ['k', kRows(0, L)] });
      list.gemm('up-v', 'up-project', { m: batch * L, n: dV, k: dC, z: H, a: ['latent', src], b: ['w_uv_t', { zs: dC * dV, row: dV }], c: ['v', vRows(0, L)] });
      list.rope('k-rope-broadcast', 'up-project', { m: batch * L, z: H, copy: dRope, rot: 0, posSeg: 1, src: ['latent', { ...src, off: dC }], table: 'cos_sin', dst: ['k', kRows(dNope, L)] });
    } else {
      const expanded = expandCache(spec, inputs, dtype);
      buffers.push(input('k', 'kv-cache', dtype, expanded.k, CANARY));
      buffers.push(input('v', 'kv-cache', dtype, expanded.v, CANARY));
      if (!full) act('latent_new', T * row, newRows(spec, inputs.latent));
      else act('latent_new', T * row);
      const src: RowAddr = { row };
      list.gemm('up-k', 'up-project', { m: T, n: dNope, k: dC, z: H, a: ['latent_new', src], b: ['w_uk_t', { zs: dC * dNope, row: dNope }], c: ['k', kRows((L - S) * qW, S)] });
      list.gemm('up-v', 'up-project', { m: T, n: dV, k: dC, z: H, a: ['latent_new', src], b: ['w_uv_t', { zs: dC * dV, row: dV }], c: ['v', vRows((L - S) * dV, S)] });
      list.rope('k-rope-broadcast', 'up-project', { m: T, z: H, copy: dRope, rot: 0, posSeg: 1, src: ['latent_new', { off: dC, row }], table: 'cos_sin', dst: ['k', kRows((L - S) * qW + dNope, S)] });
    }
    act('out', T * H * dV);
    const shape: AttentionShape = { batch, nQ: H, nKv: H, dQk: qW, dV, qLen: S, kvLens, causal: true, scale };
    core = attentionCore(shape, dtype, context, { seqs: 'seqs', q: 'q', k: 'k', v: 'v', out: 'out' }, { tiling: spec.tiling, phase: S <= 16 ? 'decode' : 'prefill' });
  } else {
    buffers.push(input('latent', 'kv-cache', dtype, latentData, CANARY));
    weights('w_uk', inputs.weights.wUK);
    const wUVt = transposeBlocks(inputs.weights.wUV, H, dV, dC);
    weights('w_uv_t', wUVt);
    act('q', T * H * row);
    act('o_lat', T * H * dC);
    act('out', T * H * dV);
    list.gemm('absorb-q', 'absorb-q', { m: T, n: dC, k: dNope, z: H, a: ['q_in', { zs: qW, row: H * qW }], b: ['w_uk', { zs: dNope * dC, row: dC }], c: ['q', { zs: row, row: H * row }] });
    const qRows = (off: number): RowAddr => ({ off, zs: row, row: H * row, outer: S * H * row, seg: S });
    list.rope('q-rope', 'q-rope', { m: T, z: H, copy: 0, rot: dRope, posSeg: S, src: ['q_in', qInRows(dNope)], table: 'cos_sin', dst: ['q', qRows(dC)] });
    const shape: AttentionShape = { batch, nQ: H, nKv: 1, dQk: row, dV: dC, qLen: S, kvLens, causal: true, scale };
    core = attentionCore(
      shape,
      dtype,
      context,
      { seqs: 'seqs', q: 'q', k: 'latent', v: 'latent', out: 'o_lat', vStride: row },
      { tiling: spec.tiling, phase: 'decode', ...(spec.tiling === 'rows' && { strategies: [absorbedRowsStrategy] }) },
    );
  }
  if (core.kind === 'skip') return core;
  list.add(core);
  if (!naive) {
    list.gemm('absorb-o', 'absorb-o', { m: T, n: dV, k: dC, z: H, a: ['o_lat', { zs: dC, row: H * dC }], b: ['w_uv_t', { zs: dC * dV, row: dV }], c: ['out', { zs: dV, row: H * dV }] });
  }
  if (spec.oProj) {
    weights('w_o', inputs.wO!);
    act('y', T * dModel);
    list.gemm('o-proj', 'o-proj', { m: T, n: dModel, k: H * dV, z: 1, a: ['out', { row: H * dV }], b: ['w_o', { row: dModel }], c: ['y', { row: dModel }] });
  }
  buffers.push(...list.buffers);

  // Large GPU cases: the absorbed float64 reference on evenly spaced output rows (all heads of evenly spaced
  // tokens where W_O follows, since y mixes the heads), as many as REFERENCE_BUDGET_FLOPS pays for.
  const perRowFlops = 2 * (dC * (dNope + dV) + (L - S / 2) * (2 * dC + dRope));
  const cost = referenceCost(problem);
  const wholeFlops = 2 * Math.min(cost.naive, cost.absorbed);
  const budget = spec.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS;
  const tokenSample = spec.oProj && wholeFlops > budget ? sampleRows(T, dModel, H * perRowFlops + 2 * H * dV * dModel, budget, 8) : undefined;
  const outSample: SampledRows | undefined = tokenSample
    ? { rowLength: dV, total: T * H, rows: tokenSample.rows.flatMap((t) => Array.from({ length: H }, (_, h) => t * H + h)) }
    : spec.oProj || wholeFlops <= budget
      ? undefined
      : sampleRows(T * H, dV, perRowFlops, budget);
  let memo: Reference | undefined;
  const reference = (): Reference => (memo ??= mlaReference(spec, problem, inputs, outSample?.rows));
  const roundings = (naive ? 4 : 3) + (full ? 4 : 0);
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
  if (spec.oProj) {
    checks.push({
      buffer: 'y',
      shape: [batch, S, dModel],
      expected: () => reference().y!,
      get tolerance() {
        const r = reference();
        return mlaTolerance(dtype, roundings + 1, r.maxScore, maxAbs(r.y!), reduction + H * dV);
      },
      ...(tokenSample && { sampledRows: tokenSample }),
    });
  }
  const cachedTokens = batch * L;
  const facts: Record<string, number | string> = {
    ...core.facts,
    form,
    heads: H,
    dNope,
    dRope,
    dV,
    dLatent: dC,
    dQLatent: dCq,
    dModel,
    layer: spec.layer,
    oProj: spec.oProj ? 1 : 0,
    scale,
    ropeTheta: ROPE_THETA,
    cachedTokens,
    kvElementsPerToken: kvElementsFormula(form, dims),
    kvBytesPerToken: kvBytesPerToken(buffers, cachedTokens),
    cacheLayout: form === 'naive-expanded' ? 'K [batch][head][token][d_nope+d_r], V [batch][head][token][d_v]' : '[batch][token][d_c+d_r] (c_KV, roped k_rope)',
  };
  const kernelCase: KernelCase = { buffers, stages: list.stages, checks, facts };
  return { kind: 'case', kernelCase };
}

/** The new tokens' cache rows [batch][q_len][d_c + d_r] of a latent cache. */
function newRows(spec: MlaSpec, latent: Float32Array): Float32Array {
  const { dims, batch, context: L, qLen: S } = spec;
  const row = dims.dLatent + dims.dRope;
  const out = new Float32Array(batch * S * row);
  for (let b = 0; b < batch; b++) out.set(latent.subarray((b * L + L - S) * row, (b * L + L) * row), b * S * row);
  return out;
}

/**
 * The expanded cache of the tokens before the new ones, decompressed on the host from the same latent cache
 * (rounded to the storage type, as a GPU-written cache would be); the new tokens' slots stay NaN until the
 * up-project stage writes them.
 */
function expandCache(spec: MlaSpec, inputs: Inputs, dtype: Dtype): { k: Float32Array; v: Float32Array } {
  const { dims, batch, context: L, qLen: S } = spec;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = dims;
  const row = dC + dRope;
  const qW = dNope + dRope;
  const k = new Float32Array(batch * H * L * qW).fill(NaN);
  const v = new Float32Array(batch * H * L * dV).fill(NaN);
  const round = dtype === 'f16' ? roundToF16 : Math.fround;
  const { wUK, wUV, } = inputs.weights;
  const { latent } = inputs;
  const decompress = (w: Float32Array, h: number, j: number, c: number): number => {
    let sum = 0;
    const base = (h * (w === wUK ? dNope : dV) + j) * dC;
    for (let i = 0; i < dC; i++) sum += (w[base + i] as number) * (latent[c + i] as number);
    return round(sum);
  };
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < L - S; t++) {
      const c = (b * L + t) * row;
      for (let h = 0; h < H; h++) {
        const kBase = ((b * H + h) * L + t) * qW;
        for (let j = 0; j < dNope; j++) k[kBase + j] = decompress(wUK, h, j, c);
        for (let r = 0; r < dRope; r++) k[kBase + dNope + r] = latent[c + dC + r] as number;
        const vBase = ((b * H + h) * L + t) * dV;
        for (let j = 0; j < dV; j++) v[vBase + j] = decompress(wUV, h, j, c);
      }
    }
  }
  return { k, v };
}

/** float64 reference of a case, by whichever form is cheaper (they agree; the unit tests hold them to it). */
function mlaReference(spec: MlaSpec, problem: MlaProblem, inputs: Inputs, rows?: readonly number[]): Reference {
  let qIn: ArrayLike<number>;
  let latent: ArrayLike<number> = inputs.latent;
  if (spec.layer === 'full') {
    const layer = mlaLayerInputs(problem, inputs.layerWeights!, inputs.hidden!);
    qIn = layer.qIn;
    latent = appendToCache(problem, inputs.latent, layer.newLatent);
  } else {
    qIn = inputs.qIn!;
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
export function absorbedRowsPlan(shape: AttentionShape, limits: DeviceLimits, subgroupMinSize: number | undefined, rpi = 2): SubgroupRowsPlan | string {
  if (shape.nKv !== 1) return 'the absorbed attend is MQA-shaped (one latent KV head)';
  const plan = subgroupRowsPlan(shape, 'decode', limits, subgroupMinSize, { rpi });
  return typeof plan === 'string' ? `${plan} (tiling=workgroup runs anywhere)` : plan;
}

const absorbedRowsStrategy: AttentionStrategy = ({ shape, limits, subgroupMinSize }) => absorbedRowsPlan(shape, limits, subgroupMinSize);

export function mlaDimsOf(params: Parameters<KernelFamily['build']>[0]): { preset: MlaPresetName | 'custom'; dims: MlaDims; layers: number } {
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
 * Axes: preset (deepseek-v2 | deepseek-v2-lite | deepseek-v3 | custom with heads, d_nope, d_rope, d_v,
 * d_latent, d_q_latent, d_model, layers), form, batch, context (or seq: prefill, q_len = context = seq),
 * q_len (default 1), dtype, tiling (workgroup | rows), layer (attention | full), o_proj (0 | 1).
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
    const model = { preset, layers, kvElementsPerToken: kvElementsFormula(form, dims) };
    let built: BuildResult;
    if ((BASELINE_FORMS as readonly string[]).includes(form)) {
      if (layer === 'full' || oProj) return { kind: 'skip', reason: `form ${form} is the attention core alone (no layer path or o-proj)` };
      const nKv = baselineKvHeads(form as BaselineForm, dims.heads);
      const kvLens = Array.from({ length: batch }, () => contextLen);
      const shape: AttentionShape = { batch, nQ: dims.heads, nKv, dQk: dims.dNope, dV: dims.dV, qLen, kvLens, causal: true };
      built = attentionCase(shape, dtype, context, { tiling, phase: qLen <= 16 ? 'decode' : 'prefill' });
    } else {
      built = mlaCase({ dims, form: form as MlaForm, batch, context: contextLen, qLen, layer, oProj, tiling }, dtype, context);
    }
    if (built.kind === 'case') built.kernelCase.facts = { form, ...model, ...built.kernelCase.facts };
    return built;
  },
};
