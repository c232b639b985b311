import { uniquePlans, type TunableSlot } from '../tunable.js';
import { unitColumns } from './emit.js';
import type { GemmPlan, GemmPlanKind } from './plan.js';
import { bMatrices, type GemmProblem } from './problem.js';
import { planOfKind, planDefect, SUBGROUP_MAX_ACC, type GemmDevice, type GemmTiling } from './strategy.js';

/**
 * The legal GEMM plans of a problem: per kind, the strategy's plan first (a search starts the kind from it), then a
 * grid of the kind's fields, every point that planDefect passes (the device's workgroup limits and memory, the
 * kernels' alignment and private arrays, grouped rows' tiles within a block) and that keeps each kernel's register
 * budget (16 vec4 accumulators per invocation, both B matrices' with the SwiGLU epilogue). Rows per invocation stop at the first power of two that covers m: more only computes padding.
 */

const pow2Ceil = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
const POW2 = (from: number, to: number): number[] => Array.from({ length: Math.log2(to / from) + 1 }, (_, i) => from * 2 ** i);

function grid(kind: GemmPlanKind, problem: GemmProblem, seed: GemmPlan): GemmPlan[] {
  const rows = (max: number): number[] => POW2(1, max).filter((tm) => tm <= pow2Ceil(problem.m));
  // Accumulators scale with the B matrices (the SwiGLU's gate and up).
  const mats = bMatrices(problem);
  switch (kind) {
    case 'subgroup': {
      const pack = (unitColumns(problem.dtype) / 4) * mats;
      const tms = [...new Set([...rows(16), seed.kind === 'subgroup' ? seed.tm : 1])];
      return POW2(8, 64).flatMap((wg) =>
        tms.flatMap((tm) =>
          POW2(1, 4)
            .filter((tn) => tm * tn * pack <= SUBGROUP_MAX_ACC)
            .map((tn): GemmPlan => ({ kind, wg, tm, tn })),
        ),
      );
    }
    case 'gemv':
      return POW2(8, 64).flatMap((wgN) =>
        POW2(1, 32).flatMap((kSlices) =>
          [1, 2, 3, 4].filter((r) => r <= problem.m).map((r): GemmPlan => ({ kind, wgN, kSlices, rows: r })),
        ),
      );
    case 'tiled':
      return POW2(4, 16).flatMap((wgM) =>
        POW2(8, 32).flatMap((wgN) =>
          rows(8).flatMap((tm) =>
            POW2(1, 4)
              .filter((tn4) => tm * tn4 * mats <= 16)
              .flatMap((tn4) => POW2(2, 8).map((bk4): GemmPlan => ({ kind, wgM, wgN, tm, tn4, bk4 }))),
          ),
        ),
      );
    case 'mla-gemm':
      return POW2(8, 64).flatMap((wg) =>
        rows(8).flatMap((tm) =>
          POW2(1, 8)
            .filter((tn) => tm * tn <= 16)
            .map((tn): GemmPlan => ({ kind, wg, tm, tn })),
        ),
      );
  }
}

/** The legal plans of `kinds` for a problem: the default plan first (where it is legal), each kind's strategy plan, then the grids. */
export function gemmPlanSpace(
  problem: GemmProblem,
  device: GemmDevice,
  tiling: GemmTiling,
  kinds: readonly GemmPlanKind[],
  defaultPlan: GemmPlan | null,
): GemmPlan[] {
  const seeds = kinds.map((kind) => planOfKind(kind, problem, device, tiling)).filter((plan) => planDefect(problem, plan, device) === null);
  const first = defaultPlan && planDefect(problem, defaultPlan, device) === null ? [defaultPlan] : [];
  const plans = [
    ...first,
    ...seeds,
    ...seeds.flatMap((seed) => grid(seed.kind, problem, seed).filter((plan) => planDefect(problem, plan, device) === null)),
  ];
  return uniquePlans(plans.map((plan) => ({ family: 'gemm', plan }))).map((slot) => slot.plan as GemmPlan);
}

/** A GEMM stage's plan choice: the plan it runs, and the strategy's default (null: none fits) its space starts from. */
export interface GemmChoice {
  chosen: GemmPlan;
  defaultPlan: GemmPlan | null;
}

/** A GEMM stage's plan as a tunable slot named `name`: `chosen` runs, the plans of `kinds` are its space. */
export function gemmSlot(
  name: string,
  problem: GemmProblem,
  device: GemmDevice,
  tiling: GemmTiling,
  kinds: readonly GemmPlanKind[],
  choice: GemmChoice,
): TunableSlot {
  return {
    name,
    chosen: { family: 'gemm', plan: choice.chosen },
    space: () => gemmPlanSpace(problem, device, tiling, kinds, choice.defaultPlan).map((plan) => ({ family: 'gemm', plan })),
  };
}
