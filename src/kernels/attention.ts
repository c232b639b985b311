import { EPSILON, reductionTolerance } from '../reference/allclose.js';
import { attentionReference, visibleTokens, type AttentionProblem, type CacheRows } from '../reference/attention.js';
import { seededUniform } from '../reference/random.js';
import { attentionCore, type AttentionIo, type AttentionOptions } from './attention-core.js';
import { PREFILL_KERNELS, type PrefillKernel } from './attention-plans.js';
import { ATTENTION_PHASES, ATTENTION_TILINGS, attentionFlops, shapeProblem, type AttentionShape } from './attention-shape.js';
import { CANARY, ceilDiv, dtypeUnsupported, lazyInput, memo, seededMaxAbs, SHORT_CANARY, storage } from './build.js';
import { cacheBuffers, pagedLayout, sequenceBuffer, type CachePlan } from './kv-cache.js';
import { packedRow, seededCache, sequenceTable } from './kv-pages.js';
import type { BuildContext, BuildResult, KernelFamily } from './family.js';
import { numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import {
  bindingsMisfit,
  buffersMisfit,
  DTYPES,
  elementBytes,
  REFERENCE_BUDGET_FLOPS,
  sampleRows,
  type BufferDecl,
  type Dtype,
  type OutputCheck,
  type Tolerance,
} from './spec.js';

export {
  ATTENTION_PHASES,
  ATTENTION_TILINGS,
  KV_LAYOUT,
  type AttentionPhase,
  type AttentionShape,
  type AttentionTiling,
} from './attention-shape.js';
export type { AttentionOptions } from './attention-core.js';
export { PREFILL_KERNELS, type PrefillKernel } from './attention-plans.js';

/**
 * Attention family: MHA, GQA and MQA as one attention core parameterised by query heads, KV heads and
 * (possibly different) qk / v head dims, so the MLA work can reuse it (naive: qk 192 / v 128; absorbed: MQA
 * shape, qk 576 / v 512) through `attentionCase`. Two phases, each with a GPU-first kernel:
 *   decode:  split-KV flash-decoding, kernels/attention_decode.wgsl (attend: all query heads of a KV head in
 *            one workgroup, K/V streamed once) + kernels/attention_reduce.wgsl (merge the splits);
 *   prefill: flash-attention, kernels/attention_flash.wgsl (a row per invocation, K/V tiles in workgroup memory
 *            shared across subgroup lanes, online softmax; needs subgroups of >= 8 lanes) or, without them or with
 *            prefill_kernel=tiled, kernels/attention_prefill.wgsl (Q/K/V tiles, score tiles spread over lanes).
 * and a CPU-adapter tiling for both ('rows': where subgroups of >= 8 lanes exist, kernels/attention_rows_subgroup.wgsl
 * for KV heads with >= 8 query rows and kernels/attention_columns.wgsl below that; else kernels/attention_rows.wgsl;
 * the same reduce), picked by
 * AttentionOptions.tiling (the suites' quick profile, which `auto` uses on software adapters, asks for it).
 * Each kernel choice is a plan with its tunables (attention-plans.ts: plan kinds and the strategies each tiling
 * tries), which attention-core.ts emits as stages; this module builds the family's cases around the core.
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

/** Presets from MODELS.md: MHA/GQA/MQA at 128 query heads of dim 128, and Llama-3-8B. */
export const ATTENTION_VARIANTS = {
  mha: { nQ: 128, nKv: 128, d: 128 },
  gqa: { nQ: 128, nKv: 8, d: 128 },
  mqa: { nQ: 128, nKv: 1, d: 128 },
  'llama3-8b': { nQ: 32, nKv: 8, d: 128 },
} as const;
export type AttentionVariant = keyof typeof ATTENTION_VARIANTS | 'custom';
const VARIANT_NAMES = [...Object.keys(ATTENTION_VARIANTS), 'custom'] as AttentionVariant[];

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

export { sequenceTable } from './kv-pages.js';

/** attentionCase's options: the core's, and the cache's layout. */
export interface AttentionCaseOptions extends AttentionOptions {
  /** Tokens per KV page; 0 or absent: the contiguous layout. */
  pageSize?: number;
  /** Test hook: at most this many bytes per pool buffer of a paged cache. */
  maxPoolBytes?: number;
}

/** A case's cache: its buffers (the sequence table first), what the reference reads, how the core binds them. */
interface DeclaredCache {
  buffers: BufferDecl[];
  k: () => ArrayLike<number> | CacheRows;
  v: () => ArrayLike<number> | CacheRows;
  maxAbs: { k: () => number; v: () => number };
  io: Pick<AttentionIo, 'k' | 'v' | 'paging'>;
}

/** The contiguous cache: K and V arrays in the packed layout, made on first read. */
function contiguousCache(shape: AttentionShape, dtype: Dtype, seed: number): DeclaredCache {
  const { nKv, dQk, dV, kvLens } = shape;
  const [dQkPad, dVPad] = [ceilDiv(dQk, 4) * 4, ceilDiv(dV, 4) * 4];
  const rows = kvLens.reduce((a, b) => a + b, 0) * nKv;
  const k = memo(() => seededUniform(rows * dQk, (seed + 1) >>> 0, dtype));
  const v = memo(() => seededUniform(rows * dV, (seed + 2) >>> 0, dtype));
  const buffers = [
    lazyInput('seqs', 'activations', 'u32', 2 * kvLens.length, () => sequenceTable(kvLens), SHORT_CANARY),
    lazyInput('k', 'kv-cache', dtype, rows * dQkPad, () => padRows(k(), dQk, dQkPad), CANARY),
    lazyInput('v', 'kv-cache', dtype, rows * dVPad, () => padRows(v(), dV, dVPad), CANARY),
  ];
  return { buffers, k, v, maxAbs: { k: () => seededMaxAbs(k()), v: () => seededMaxAbs(v()) }, io: { k: 'k', v: 'v' } };
}

/** The paged cache: pool buffers of shuffled pages, filled from seeded sources on upload; or why it cannot be. */
function pagedCache(shape: AttentionShape, dtype: Dtype, context: BuildContext, options: AttentionCaseOptions): DeclaredCache | string {
  const { nKv, dQk, dV, kvLens } = shape;
  const [dQkPad, dVPad] = [ceilDiv(dQk, 4) * 4, ceilDiv(dV, 4) * 4];
  const plan: CachePlan = {
    kvLens,
    pageSize: options.pageSize!,
    dtype,
    rowBytes: Math.max(dQkPad, dVPad) * elementBytes(dtype),
    nKv,
    seed: context.seed,
    ...(options.maxPoolBytes !== undefined && { maxPoolBytes: options.maxPoolBytes }),
  };
  const layout = pagedLayout(plan, context.limits);
  if (typeof layout === 'string') return layout;
  const total = kvLens.reduce((a, b) => a + b, 0) * nKv;
  const row = packedRow(kvLens, nKv);
  const k = memo(() => seededCache(total * dQk, dQk, (context.seed + 1) >>> 0, dtype, row));
  const v = memo(() => seededCache(total * dV, dV, (context.seed + 2) >>> 0, dtype, row));
  const buffers = [
    sequenceBuffer(plan, layout, SHORT_CANARY),
    ...cacheBuffers(plan, layout, { name: 'k', stride: dQkPad, source: k }),
    ...cacheBuffers(plan, layout, { name: 'v', stride: dVPad, source: v }),
  ];
  const io = { k: 'k', v: 'v', paging: layout.paging };
  return { buffers, k, v, maxAbs: { k: () => seededMaxAbs(k().data), v: () => seededMaxAbs(v().data) }, io };
}

/** Why the case's contiguous buffers pass the device's limits (decided before any data is made), or null. */
function contiguousMisfit(shape: AttentionShape, dtype: Dtype, limits: BuildContext['limits']): string | null {
  const { batch, nQ, nKv, dQk, dV, qLen, kvLens } = shape;
  const rows = kvLens.reduce((a, b) => a + b, 0) * nKv;
  const [dQkPad, dVPad] = [ceilDiv(dQk, 4) * 4, ceilDiv(dV, 4) * 4];
  const outRows = batch * qLen * nQ;
  const storage = (name: string, length: number, canary = CANARY) => ({ name, usage: 'storage' as const, type: dtype, length, canary });
  return buffersMisfit(
    [storage('q', outRows * dQkPad), storage('k', rows * dQkPad), storage('v', rows * dVPad), storage('out', outRows * dV, SHORT_CANARY)],
    limits,
  );
}

/**
 * One attention case: inputs, the decode (attend + reduce) or prefill stages, the float64 check and the work.
 * The lower-level entry point that other families (MLA) reuse with their own head dims. Nothing is generated here:
 * inputs are made when they are first read (upload, the check), so a declared case costs no host memory.
 */
export function attentionCase(shape: AttentionShape, dtype: Dtype, context: BuildContext, options: AttentionCaseOptions = {}): BuildResult {
  const invalid = shapeProblem(shape) ?? dtypeUnsupported(dtype, context);
  if (invalid) return { kind: 'skip', reason: invalid };
  const paged = (options.pageSize ?? 0) > 0;
  const tooBig = paged ? null : contiguousMisfit(shape, dtype, context.limits);
  if (tooBig) return { kind: 'skip', reason: tooBig };
  const cache = paged ? pagedCache(shape, dtype, context, options) : contiguousCache(shape, dtype, context.seed);
  if (typeof cache === 'string') return { kind: 'skip', reason: cache };
  const scale = shape.scale ?? 1 / Math.sqrt(shape.dQk);
  const problem: AttentionProblem = { ...shape, kvLens: [...shape.kvLens], scale };
  const { batch, nQ, dQk, dV, qLen } = shape;
  const outRows = batch * qLen * nQ;
  const dQkPad = ceilDiv(dQk, 4) * 4;
  const q = memo(() => seededUniform(outRows * dQk, context.seed, dtype));
  const [seqs, ...kv] = cache.buffers;
  const inputs = [seqs!, lazyInput('q', 'activations', dtype, outRows * dQkPad, () => padRows(q(), dQk, dQkPad), CANARY), ...kv];
  const out = storage('out', 'activations', dtype, outRows * dV, { canary: SHORT_CANARY });
  const core = attentionCore(shape, dtype, context, { seqs: 'seqs', q: 'q', out: 'out', ...cache.io }, options);
  if (core.kind === 'skip') return core;
  // Uniforms first, as before the core was split out (keeps the buffer order of existing results).
  const buffers = [...core.buffers.filter((b) => b.name === 'params'), ...inputs, ...core.buffers.filter((b) => b.name !== 'params'), out];
  const unbindable = bindingsMisfit(core.stages, buffers, context.limits);
  if (unbindable) return { kind: 'skip', reason: `${cacheSummary(kv)}: ${unbindable}` };
  const cachedTokens = shape.kvLens.reduce((a, b) => a + b, 0);
  const facts = { ...core.facts, kvBytesPerToken: kvBytesPerToken(buffers, Math.max(1, cachedTokens)) };
  const checks = [attentionCheck(problem, dtype, q, cache, options)];
  return { kind: 'case', kernelCase: { buffers, stages: core.stages, checks, facts, tunables: [core.tunable] } };
}

/** The float64 check of `out`: on evenly spaced output rows where the whole reference costs past the budget. */
function attentionCheck(
  problem: AttentionProblem,
  dtype: Dtype,
  q: () => Float32Array,
  cache: DeclaredCache,
  options: AttentionCaseOptions,
): OutputCheck {
  const { batch, qLen, nQ, dV } = problem;
  const outRows = batch * qLen * nQ;
  const sampledRows = sampleRows(outRows, dV, attentionFlops(problem) / outRows, options.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS);
  return {
    buffer: 'out',
    shape: [batch, qLen, nQ, dV],
    expected: () => attentionReference(problem, { q: q(), k: cache.k(), v: cache.v() }, sampledRows?.rows),
    get tolerance() {
      return attentionTolerance(dtype, problem, seededMaxAbs(q()), cache.maxAbs.k(), cache.maxAbs.v());
    },
    ...(sampledRows && { sampledRows }),
  };
}

/** "a KV cache of 1.50 GiB in 12 buffers" (for skip reasons). */
function cacheSummary(kv: readonly BufferDecl[]): string {
  const bytes = kv.reduce((sum, b) => sum + b.length * elementBytes(b.type), 0);
  return `a KV cache of ${(bytes / 2 ** 30).toFixed(2)} GiB in ${kv.length} buffer${kv.length === 1 ? '' : 's'}`;
}

/** KV lengths of a batch: all `context`, or with `ragged` r in [0, 1) falling linearly to context * (1 - r). */
export function raggedLengths(batch: number, context: number, ragged: number): number[] {
  return Array.from({ length: batch }, (_, b) => Math.max(1, Math.round(context * (1 - (batch > 1 ? (ragged * b) / (batch - 1) : 0)))));
}

/** The prefill_kernel axis: auto (the strategy's choice) or one kernel. */
export const PREFILL_KERNEL_CHOICES: readonly ('auto' | PrefillKernel)[] = ['auto', ...PREFILL_KERNELS];

export const attentionFamily: KernelFamily = {
  name: 'attention',
  requiredAxes: ['phase', 'variant', 'batch', 'dtype'],
  // Two kernels of one problem see the same inputs.
  inputInvariantAxes: ['prefill_kernel'],
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
      if (ragged > 0)
        return { kind: 'skip', reason: 'ragged prefill needs per-sequence query lengths (use attentionCase with kvLens >= q_len)' };
      qLen = seq;
      kvLens = Array.from({ length: batch }, () => seq);
    }
    const tiling = optionalString(params, 'tiling', ATTENTION_TILINGS, 'workgroup');
    const prefillKernel = optionalString(params, 'prefill_kernel', PREFILL_KERNEL_CHOICES, 'auto');
    if (prefillKernel !== 'auto' && (tiling !== 'workgroup' || phase !== 'prefill'))
      return { kind: 'skip', reason: `prefill_kernel=${prefillKernel} picks the workgroup tiling's prefill kernel` };
    const shape: AttentionShape = { batch, nQ, nKv, dQk, dV, qLen, kvLens, causal };
    const pageSize = optionalNumber(params, 'page_size', 0);
    const built = attentionCase(shape, dtype, context, {
      phase,
      tiling,
      pageSize,
      ...(prefillKernel !== 'auto' && { prefillKernel }),
    });
    if (built.kind === 'case') built.kernelCase.facts = { variant, ...built.kernelCase.facts };
    return built;
  },
};
