import { type MlaDims, seqLengths } from '../reference/mla.js';
import type { AttentionTiling } from './attention.js';
import { CANARY, dtypeUnsupported } from './build.js';
import type { BuildContext, KernelFamily } from './family.js';
import { numberParam, optionalNumber, stringParam } from './family.js';
import { buffersMisfit, type Dtype } from './spec.js';

/** What an MLA case is: the presets and forms, the spec of a case, and whether it can be built on a device. */

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
export function isRagged(spec: Pick<MlaSpec, 'kvLens' | 'context'>): boolean {
  return spec.kvLens !== undefined && spec.kvLens.some((len) => len !== spec.context);
}

/** Why a spec cannot be built on this device (checked before any host data is generated), or null. */
export function mlaSkip(spec: MlaSpec, dtype: Dtype, context: BuildContext): string | null {
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
