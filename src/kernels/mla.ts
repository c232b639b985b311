import { EPSILON, reductionTolerance } from '../reference/allclose.js';
import {
  appendToCache,
  type Latent,
  matmulRows,
  mlaAbsorbedReference,
  mlaLayerInputs,
  mlaNaiveReference,
  type MlaProblem,
  mlaScale,
  referenceCost,
  ROPE_THETA,
  seqLengths,
} from '../reference/mla.js';
import type { AttentionCore } from './attention-core.js';
import { ATTENTION_TILINGS, attentionCase, type AttentionShape, kvBytesPerToken, raggedLengths } from './attention.js';
import { maxAbs } from './build.js';
import type { BuildContext, BuildResult, KernelFamily, Skip } from './family.js';
import { numberParam, optionalNumber, optionalString, stringParam } from './family.js';
import { emitAbsorbed } from './mla-absorbed.js';
import { emitLayerPath, type MlaBuild, startBuild } from './mla-build.js';
import { latentSource, type MlaInputs } from './mla-inputs.js';
import { emitNaive, expandedKv, latentKv } from './mla-naive.js';
import {
  BASELINE_FORMS,
  type BaselineForm,
  baselineKvHeads,
  FORMS,
  isRagged,
  kvElementsFormula,
  MLA_LAYERS,
  mlaDimsOf,
  type MlaForm,
  mlaSkip,
  type MlaSpec,
} from './mla-spec.js';
import {
  type Dtype,
  DTYPES,
  elementBytes,
  type KernelCase,
  type OutputCheck,
  REFERENCE_BUDGET_FLOPS,
  type SampledRows,
  sampleRows,
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
