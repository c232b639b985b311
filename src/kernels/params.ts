import { z } from 'zod';
import type { AxisValue } from '../core/numbers.js';
import { ATTENTION_PHASES, ATTENTION_TILINGS, ATTENTION_VARIANTS, PREFILL_KERNEL_CHOICES } from './attention.js';
import { CALIBRATION_KERNELS } from './calibration.js';
import { GEMM_KERNELS, GEMM_MODELS, GEMM_OPS, GEMM_TILINGS, gemmShape } from './gemm.js';
import { FORMS, MLA_LAYERS, MLA_PRESETS } from './mla-spec.js';
import { MOE_BALANCES } from './moe-inputs.js';
import { MOE_DISPATCHES, MOE_PRESETS } from './moe.js';

/**
 * The axis values each kernel family can honour, checked for every planned case before anything runs: a value a
 * family would have to change (a context of -1 run as 1 token, a fraction of a head) is refused with the axis
 * named, never measured under a key that says something else. Relations between axes that a device or a shape
 * decides (q_len > context, a cache past the binding limit) stay recorded skips of the family's build.
 */
const count = (min: number) =>
  z
    .number({ error: `must be an integer >= ${min}` })
    .int(`must be an integer >= ${min}`)
    .min(min, `must be an integer >= ${min}`);
const flag = z.union([z.literal(0), z.literal(1)], { error: 'must be 0 or 1' });
const oneOf = <T extends string>(values: readonly T[]) => z.enum(values as [T, ...T[]], { error: `must be one of ${values.join(', ')}` });
const dtype = oneOf(['f32', 'f16']);
const tiling = oneOf(ATTENTION_TILINGS);
/** Tokens per KV-cache page: 0 is the contiguous layout. */
const pageSize = count(0);
/** An MoE shape axis: a count, or `preset` for the preset's own value. */
const countOrPreset = (min: number) => {
  const message = `must be an integer >= ${min} or "preset"`;
  return z
    .union([z.number(), z.literal('preset')], { error: message })
    .refine((value) => value === 'preset' || (Number.isInteger(value) && value >= min), message);
};

function requireAxes(params: Record<string, unknown>, axes: readonly string[], why: string, ctx: z.RefinementCtx): void {
  for (const axis of axes) {
    if (params[axis] === undefined) ctx.addIssue({ code: 'custom', path: [axis], message: `is needed ${why}` });
  }
}

const attentionParams = z
  .strictObject({
    phase: oneOf(ATTENTION_PHASES),
    variant: oneOf([...Object.keys(ATTENTION_VARIANTS), 'custom']),
    batch: count(1),
    dtype,
    context: count(1).optional(),
    q_len: count(1).optional(),
    seq: count(1).optional(),
    tiling: tiling.optional(),
    heads: count(1).optional(),
    kv_heads: count(1).optional(),
    head_dim: count(1).optional(),
    v_head_dim: count(1).optional(),
    ragged: z.number({ error: 'must be a number in [0, 1)' }).min(0, 'must be in [0, 1)').lt(1, 'must be in [0, 1)').optional(),
    causal: flag.optional(),
    page_size: pageSize.optional(),
    prefill_kernel: oneOf(PREFILL_KERNEL_CHOICES).optional(),
  })
  .superRefine((p, ctx) => {
    requireAxes(p, p.phase === 'decode' ? ['context'] : ['seq'], `by phase ${p.phase}`, ctx);
    if (p.variant === 'custom') requireAxes(p, ['heads', 'kv_heads', 'head_dim'], 'by variant custom', ctx);
  });

/** The dims of preset custom (a named preset has its own; deepseek-v3-tp2 is DeepSeek-V3 at 64 heads). */
const MLA_CUSTOM_DIMS = ['heads', 'd_nope', 'd_rope', 'd_v', 'd_latent', 'd_q_latent', 'd_model', 'layers'] as const;

const mlaParams = z
  .strictObject({
    preset: oneOf([...Object.keys(MLA_PRESETS), 'custom']),
    form: oneOf(FORMS),
    batch: count(1),
    dtype,
    context: count(1).optional(),
    q_len: count(1).optional(),
    seq: count(1).optional(),
    tiling: tiling.optional(),
    layer: oneOf(MLA_LAYERS).optional(),
    o_proj: flag.optional(),
    page_size: pageSize.optional(),
    ragged: z.number({ error: 'must be a number in [0, 1)' }).min(0, 'must be in [0, 1)').lt(1, 'must be in [0, 1)').optional(),
    heads: count(1).optional(),
    d_nope: count(1).optional(),
    d_rope: count(1).optional(),
    d_v: count(1).optional(),
    d_latent: count(1).optional(),
    d_q_latent: count(0).optional(),
    d_model: count(1).optional(),
    layers: count(1).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.seq === undefined) requireAxes(p, ['context'], 'without seq', ctx);
    if (p.preset === 'custom') requireAxes(p, ['heads', 'd_nope', 'd_rope', 'd_v', 'd_latent', 'd_model'], 'by preset custom', ctx);
    // A named preset's dims are its own: a dim beside it would be run as the preset's and keyed as the axis's.
    const dim = MLA_CUSTOM_DIMS.find((axis) => p.preset !== 'custom' && p[axis] !== undefined);
    if (dim) ctx.addIssue({ code: 'custom', path: [dim], message: `is for preset custom only (preset ${p.preset} has its own dims)` });
  });

const moeParams = z.strictObject({
  preset: oneOf(Object.keys(MOE_PRESETS)),
  tokens: count(1),
  dispatch: oneOf(MOE_DISPATCHES),
  dtype,
  balance: oneOf(MOE_BALANCES).optional(),
  hidden: countOrPreset(1).optional(),
  inter: countOrPreset(1).optional(),
  experts: countOrPreset(1).optional(),
  shared: countOrPreset(0).optional(),
  top_k: countOrPreset(1).optional(),
  n_group: countOrPreset(1).optional(),
  topk_group: countOrPreset(1).optional(),
  block: count(1).optional(),
  tiling: oneOf(GEMM_TILINGS).optional(),
});

const gemmParams = z
  .strictObject({
    op: oneOf(GEMM_OPS),
    model: oneOf(GEMM_MODELS),
    rows: count(1),
    dtype,
    tiling: oneOf(GEMM_TILINGS).optional(),
    kernel: oneOf(GEMM_KERNELS).optional(),
    batch: count(1).optional(),
    n: count(1).optional(),
    k: count(1).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.op === 'custom') requireAxes(p, ['n', 'k'], 'by op custom', ctx);
    else if (p.n !== undefined || p.k !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: [p.n !== undefined ? 'n' : 'k'],
        message: `is for op custom only (op ${p.op} has its own sizes)`,
      });
    const shape = gemmShape(p);
    if (typeof shape === 'string') ctx.addIssue({ code: 'custom', path: [/model/.test(shape) ? 'model' : 'batch'], message: shape });
  });

const calibrationParams = z.strictObject({
  kernel: oneOf(CALIBRATION_KERNELS),
  mib: z.number({ error: 'must be a positive number' }).positive('must be a positive number'),
  iterations: count(1).optional(),
});

const FAMILY_PARAMS: Readonly<Record<string, z.ZodType>> = {
  attention: attentionParams,
  mla: mlaParams,
  moe: moeParams,
  gemm: gemmParams,
  calibration: calibrationParams,
};

/**
 * Why a case's axis values cannot be honoured by its family, as `axis=value: reason` (or `axis: reason` for a
 * missing one); undefined when they can, or when the family declares no schema.
 */
export function paramsProblem(family: string, params: Record<string, AxisValue>): string | undefined {
  const schema = Object.hasOwn(FAMILY_PARAMS, family) ? FAMILY_PARAMS[family] : undefined;
  if (!schema) return undefined;
  const parsed = schema.safeParse(params);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys((schema as z.ZodObject).shape ?? {}).join(', ');
    return `${issue.keys.join(', ')}: not an axis of the ${family} family (its axes: ${known})`;
  }
  const axis = String(issue.path[0] ?? '');
  const value = Object.hasOwn(params, axis) ? params[axis] : undefined;
  return value === undefined ? `${axis}: ${issue.message}` : `${axis}=${value}: ${issue.message}`;
}
