import type { DeviceLimits } from '../core/device-facts.js';
import {
  COLUMNS_MAX_ROWS,
  COLUMNS_MAX_VEC4,
  FLASH_MAX_RPI,
  FLASH_TOKEN_TILES,
  flashPlanDefect,
  noSubgroups,
  ROWS_MAX_RPI,
  ROWS_MAX_VEC4,
  SUBGROUP_ROWS_LANES,
  SUBGROUP_ROWS_MAX_RPI,
  SUBGROUP_ROWS_MAXQ,
  SUBGROUP_ROWS_MAXV,
  type AttentionPlan,
  type AttentionStrategy,
  type PlanRequest,
} from './attention-plans.js';
import { longestKv, queryRows, type AttentionShape } from './attention-shape.js';
import { chooseDecodeTiles, choosePrefillTiles } from './attention-tiles.js';
import { ceilDiv, pow2Ceil } from './build.js';
import { uniquePlans } from './tunable.js';

/**
 * The legal attend plans for a request: for every plan kind whose strategy accepts the request (the tiling's
 * strategies, or the caller's: MLA's absorbed attend is the subgroup rows kernel only), that strategy's plan
 * first, then a grid of the kind's tunables with every point checked against the kernel's limits and the
 * device's. Split counts are powers of two (each kind's chunk alignment kept); workgroups powers of two.
 *
 * Not tunable: the tiling (an axis: a case is about the GPU or the CPU-adapter kernels), the reduce stage's
 * workgroup (one invocation per output element, bound by its reads), and the tiled kernels' derived lanes
 * (SC, RCH, OC, ORG follow WG, BR and BK as chooseDecodeTiles / choosePrefillTiles derive them).
 */

/** Split counts tried (chunk = the longest sequence / splits, aligned); the strategy's own chunk is kept too. */
const SPLITS = [1, 2, 4, 8, 16, 32, 64, 128];
const WORKGROUPS = [8, 16, 32, 64, 128, 256];
const ROWS_PER_INVOCATION = [1, 2, 4, 8];
const TILED_WORKGROUPS = [32, 64, 128, 256];
const DECODE_ROW_BLOCKS = [1, 2, 4, 8, 16, 32, 64, 128];
const PREFILL_ROW_BLOCKS = [1, 2, 4, 8, 16, 32, 64];
const DECODE_TOKEN_TILES = [16, 32, 64, 128];
const PREFILL_TOKEN_TILES = [8, 16, 32, 64];

/** Tokens per split for each split count (aligned; distinct), the given chunk among them. */
function chunks(shape: AttentionShape, align: number, given: number): number[] {
  const longest = longestKv(shape);
  const all = [given, ...SPLITS.map((splits) => ceilDiv(ceilDiv(longest, splits), align) * align)];
  return [...new Set(all)].filter((chunk) => chunk >= 1 && (chunk <= longest || chunk === given));
}

const maxWorkgroup = (limits: DeviceLimits): number => Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);

/** Why a plan of the rows tiling's kernels or the flash kernel cannot run the request, or null (private rows, lanes, alignment, memory). */
export function rowsPlanDefect(plan: AttentionPlan, { shape, limits, subgroupMinSize }: PlanRequest): string | null {
  const [dq4, dv4] = [ceilDiv(shape.dQk, 4), ceilDiv(shape.dV, 4)];
  const oneSplit = 'chunk' in plan && plan.chunk >= longestKv(shape);
  switch (plan.kind) {
    case 'rows-subgroup': {
      const fit = Math.min(SUBGROUP_ROWS_MAX_RPI, Math.floor(SUBGROUP_ROWS_MAXQ / dq4), Math.floor(SUBGROUP_ROWS_MAXV / dv4));
      if (plan.rpi < 1 || plan.rpi > fit) return `rpi=${plan.rpi}: the private rows hold 1 to ${fit} rows`;
      if (plan.wg % SUBGROUP_ROWS_LANES !== 0 || plan.wg > maxWorkgroup(limits))
        return `wg=${plan.wg}: whole groups of 8 lanes within the device's workgroup`;
      if (!oneSplit && plan.chunk % 8 !== 0) return `chunk=${plan.chunk}: splits walk whole blocks of 8 tokens`;
      if (plan.output === 'direct' && !oneSplit) return 'direct output needs one split';
      return noSubgroups('the subgroup rows kernel shares loads', subgroupMinSize);
    }
    case 'columns':
      if (Math.max(dq4, dv4) > COLUMNS_MAX_VEC4) return `head dims past the columns kernel's ${COLUMNS_MAX_VEC4 * 4}`;
      if (plan.r < 1 || plan.r > COLUMNS_MAX_ROWS) return `r=${plan.r}: 1 to ${COLUMNS_MAX_ROWS} rows`;
      return noSubgroups('the columns kernel sums', subgroupMinSize);
    case 'rows': {
      const fit = Math.min(ROWS_MAX_RPI, Math.floor(ROWS_MAX_VEC4 / Math.max(dq4, dv4)));
      if (plan.rpi < 1 || plan.rpi > fit) return `rpi=${plan.rpi}: the private rows hold 1 to ${fit} rows`;
      if (plan.wg > maxWorkgroup(limits)) return `wg=${plan.wg}: past the device's workgroup`;
      return !oneSplit && plan.chunk % 4 !== 0 ? `chunk=${plan.chunk}: splits walk whole blocks of 4 tokens` : null;
    }
    case 'flash':
      return flashPlanDefect(plan, { shape, limits, subgroupMinSize });
    default:
      return null;
  }
}

/** Every plan of the seed's kind on the kind's grid (the seed's own values among each field's). */
function grid(seed: AttentionPlan, request: PlanRequest): AttentionPlan[] {
  const { shape, limits } = request;
  const rows = queryRows(shape);
  switch (seed.kind) {
    case 'rows-subgroup':
      // No more lanes than the rows need (spare lanes still run on a CPU adapter).
      return ROWS_PER_INVOCATION.flatMap((rpi) =>
        WORKGROUPS.filter((wg) => wg <= Math.max(SUBGROUP_ROWS_LANES, pow2Ceil(ceilDiv(rows, rpi)))).flatMap((wg) =>
          chunks(shape, 8, seed.chunk).flatMap((chunk): AttentionPlan[] => {
            const oneSplit = chunk >= longestKv(shape);
            return (oneSplit ? (['direct', 'partials'] as const) : (['partials'] as const)).map((output) => ({
              kind: 'rows-subgroup',
              rpi,
              wg,
              chunk,
              output,
            }));
          }),
        ),
      );
    case 'columns':
      return [seed.r, ...ROWS_PER_INVOCATION].flatMap((r) =>
        chunks(shape, 4, seed.chunk).map((chunk): AttentionPlan => ({ kind: 'columns', r, chunk })),
      );
    case 'rows':
      return ROWS_PER_INVOCATION.flatMap((rpi) =>
        WORKGROUPS.filter((wg) => wg <= 64).flatMap((wg) =>
          chunks(shape, 4, seed.chunk).map((chunk): AttentionPlan => ({ kind: 'rows', rpi, wg, chunk })),
        ),
      );
    case 'decode':
      return TILED_WORKGROUPS.flatMap((WG) =>
        DECODE_ROW_BLOCKS.filter((BR) => BR <= pow2Ceil(rows)).flatMap((BR) =>
          DECODE_TOKEN_TILES.flatMap((BK): AttentionPlan[] => {
            const tiles = chooseDecodeTiles(shape, limits, { WG, BR, BK });
            if (typeof tiles === 'string') return [];
            return chunks(shape, BK, ceilDiv(seed.chunk, BK) * BK).map((chunk) => ({ kind: 'decode', tiles, chunk }));
          }),
        ),
      );
    case 'flash':
      return WORKGROUPS.flatMap((wg) =>
        ROWS_PER_INVOCATION.filter((rpi) => rpi <= FLASH_MAX_RPI).flatMap((rpi) =>
          FLASH_TOKEN_TILES.map((bk): AttentionPlan => ({ kind: 'flash', wg, rpi, bk })),
        ),
      );
    case 'prefill':
      return TILED_WORKGROUPS.flatMap((WG) =>
        PREFILL_ROW_BLOCKS.filter((BR) => BR <= pow2Ceil(rows)).flatMap((BR) =>
          PREFILL_TOKEN_TILES.flatMap((BK): AttentionPlan[] => {
            const tiles = choosePrefillTiles(shape, limits, { WG, BR, BK });
            return typeof tiles === 'string' ? [] : [{ kind: 'prefill', tiles }];
          }),
        ),
      );
  }
}

/**
 * The legal plans for a request under `strategies`: the default plan (the strategies' choice for the request, its
 * wishes included), then each applicable strategy's plan (a search starts each kind from the first plan of that
 * kind), then the rest of each kind's grid.
 */
export function attentionPlanSpace(
  request: PlanRequest,
  strategies: readonly AttentionStrategy[],
  defaultPlan: AttentionPlan | null,
): AttentionPlan[] {
  const seeds = strategies
    .map((strategy) => strategy({ ...request, wishes: {} }))
    .filter((plan): plan is AttentionPlan => typeof plan !== 'string');
  const plans = [
    ...(defaultPlan ? [defaultPlan] : []),
    ...seeds,
    ...seeds.flatMap((seed) => grid(seed, request).filter((plan) => rowsPlanDefect(plan, request) === null)),
  ];
  return uniquePlans(plans.map((plan) => ({ family: 'attention', plan }))).map((slot) => slot.plan as AttentionPlan);
}
