/**
 * How a GEMM is run: one plan kind per kernel, each with the tunables that kernel takes (a tuner searches these
 * fields; src/kernels/gemm/strategy.ts picks them from the shape and the device, emit.ts turns a plan into a stage).
 */

/**
 * kernels/gemm_tiled.wgsl, the GPU kernel: a workgroup of wgM x wgN invocations stages A (bm x bk) and B (bk x bn)
 * tiles in workgroup memory with coalesced vec4 loads; each invocation accumulates tm rows x tn4 vec4 columns
 * (rows wgM apart, columns wgN apart) in registers, so a value read from workgroup memory feeds tn4 x 4 or tm
 * multiply-adds. bm = wgM tm, bn = 4 wgN tn4.
 */
export interface TiledPlan {
  kind: 'tiled';
  wgM: number;
  wgN: number;
  tm: number;
  tn4: number;
  /** k depth of a staged tile, in vec4s. */
  bk4: number;
}

/**
 * kernels/gemm_subgroup.wgsl, the CPU-adapter kernel (and GEMV there): a group of 8 subgroup lanes owns tm rows
 * and 8 x tn 16-byte units of B's columns (4 f32 or 8 f16 columns each); the lanes fetch A cooperatively and pass
 * it around by subgroup shuffles.
 */
export interface SubgroupPlan {
  kind: 'subgroup';
  /** Invocations per workgroup, a multiple of 8 (groups of 8 lanes side by side along n). */
  wg: number;
  tm: number;
  /** 16-byte units of B per lane and row. */
  tn: number;
}

/**
 * kernels/gemv.wgsl, the GPU GEMV for one or few rows: wgN invocations along n (one 16-byte unit of B's columns
 * each: 4 f32 or 8 f16) times kSlices along k stream each B row once with coalesced 16-byte loads; the k slices'
 * partial sums meet in workgroup memory. Up to `rows` rows of A per workgroup.
 */
export interface GemvPlan {
  kind: 'gemv';
  wgN: number;
  kSlices: number;
  rows: number;
}

/** kernels/mla_gemm.wgsl as the MLA stages used it before this family (for paired A/B runs); vec4 sizes only. */
export interface MlaGemmPlan {
  kind: 'mla-gemm';
  wg: number;
  tm: number;
  tn: number;
}

export type GemmPlan = TiledPlan | SubgroupPlan | GemvPlan | MlaGemmPlan;
export type GemmPlanKind = GemmPlan['kind'];
export const GEMM_PLAN_KINDS: readonly GemmPlanKind[] = ['tiled', 'subgroup', 'gemv', 'mla-gemm'];

/** One line of a plan's fields, for case facts: `tiled wgM=16 wgN=16 tm=4 tn4=2 bk4=4`. */
export function describePlan(plan: GemmPlan): string {
  const fields = Object.entries(plan)
    .filter(([key]) => key !== 'kind')
    .map(([key, value]) => `${key}=${value}`);
  return [plan.kind, ...fields].join(' ');
}
