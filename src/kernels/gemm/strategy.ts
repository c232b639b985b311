import type { DeviceLimits, WantedFeature } from '../../core/device-facts.js';
import type { GemmPlan, GemmPlanKind, GemvPlan, SubgroupPlan, TiledPlan } from './plan.js';
import { bMatrices, type GemmProblem } from './problem.js';
import { planGrid, unitColumns } from './emit.js';
import type { Dtype } from '../spec.js';

/**
 * Which kernels suit the device: 'workgroup' the GPU kernels (workgroup-memory tiles, split-k GEMV), 'rows' the
 * CPU-adapter kernel (lavapipe: per-lane loads shared by subgroup shuffles). The same words as the attention
 * core's tiling, so a stage list passes its own through.
 */
export const GEMM_TILINGS = ['workgroup', 'rows'] as const;
export type GemmTiling = (typeof GEMM_TILINGS)[number];

/** What the strategy reads of the device. */
export interface GemmDevice {
  limits: Pick<
    DeviceLimits,
    | 'maxComputeWorkgroupStorageSize'
    | 'maxComputeInvocationsPerWorkgroup'
    | 'maxComputeWorkgroupSizeX'
    | 'maxComputeWorkgroupSizeY'
    | 'maxComputeWorkgroupsPerDimension'
  >;
  features: ReadonlySet<WantedFeature>;
  subgroupMinSize?: number;
}

/** Lanes of the subgroup kernel's groups (LANES in kernels/gemm_subgroup.wgsl). */
export const SUBGROUP_LANES = 8;
/** Rows the GEMV takes per workgroup at most; more rows are a GEMM. */
export const GEMV_MAX_ROWS = 4;
/** vec4 accumulators per lane of the subgroup kernel: the FMA calibration kernel's 16 chains. */
export const SUBGROUP_MAX_ACC = 16;
/** Workgroups a GPU wants in flight before the tiles grow (about two per SM of a large GPU). */
const GPU_MIN_WORKGROUPS = 256;
const VEC4_F32 = 16;

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const pow2Ceil = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Workgroup memory a plan declares, in bytes (the shaders stage f32 vec4s; `mats` B matrices side by side). */
export function workgroupBytes(plan: GemmPlan, dtype: Dtype, mats: 1 | 2 = 1): number {
  switch (plan.kind) {
    case 'tiled':
      return (plan.wgM * plan.tm * (plan.bk4 + 1) + plan.bk4 * 4 * plan.wgN * plan.tn4 * mats) * VEC4_F32 + plan.wgM * plan.tm * 4;
    case 'gemv':
      return plan.kSlices * plan.rows * (unitColumns(dtype) / 4) * plan.wgN * VEC4_F32;
    default:
      return 0;
  }
}

function invocations(plan: GemmPlan): [number, number] {
  switch (plan.kind) {
    case 'tiled':
      return [plan.wgN, plan.wgM];
    case 'gemv':
      return [plan.wgN * plan.kSlices, 1];
    default:
      return [plan.wg, 1];
  }
}

/** Why `plan` cannot run `problem` on `device`, or null. */
export function planDefect(problem: GemmProblem, plan: GemmPlan, device: GemmDevice): string | null {
  const { limits } = device;
  const [x, y] = invocations(plan);
  if (x * y > limits.maxComputeInvocationsPerWorkgroup || x > limits.maxComputeWorkgroupSizeX || y > limits.maxComputeWorkgroupSizeY) {
    return `a ${x} x ${y} workgroup is past the device's workgroup limits`;
  }
  const shared = workgroupBytes(plan, problem.dtype, bMatrices(problem));
  if (shared > limits.maxComputeWorkgroupStorageSize)
    return `${shared} bytes of workgroup memory, above the device's ${limits.maxComputeWorkgroupStorageSize}`;
  const grid = planGrid(problem, plan);
  const maxDim = limits.maxComputeWorkgroupsPerDimension;
  if (grid.colBlocks * grid.rowBlocks > maxDim * maxDim || problem.batch > maxDim)
    return `${grid.colBlocks * grid.rowBlocks} x ${problem.batch} workgroups, past the device's grid`;
  if (plan.kind === 'subgroup' || plan.kind === 'gemv') {
    const unit = unitColumns(problem.dtype);
    const b = problem.b.rows;
    const offsets = [b.offset ?? 0, b.batchStride ?? 0, b.rowStride, b.segment?.stride ?? 0, problem.epilogue?.pair ?? 0];
    if ([...offsets, problem.groups?.stride ?? 0].some((s) => s % unit !== 0)) {
      return `the ${plan.kind} kernel reads B in 16-byte units: its offsets and strides (the SwiGLU pair and group stride too) must be multiples of ${unit} ${problem.dtype} elements, got ${JSON.stringify({ ...b, pair: problem.epilogue?.pair, groupStride: problem.groups?.stride })}`;
    }
  }
  return extensionDefect(problem, plan) ?? kindDefect(problem, plan, device);
}

/** Rows of A one workgroup (tiled) or lane group (subgroup) covers: grouped rows need them in one block. */
function tileRows(plan: GemmPlan): number {
  switch (plan.kind) {
    case 'tiled':
      return plan.wgM * plan.tm;
    case 'gemv':
      return plan.rows;
    default:
      return plan.tm;
  }
}

/** Why the plan's kernel cannot run the problem's epilogue or grouped rows, or null. */
function extensionDefect(problem: GemmProblem, plan: GemmPlan): string | null {
  const { epilogue, groups } = problem;
  if (!epilogue && !groups) return null;
  if (plan.kind === 'gemv' || plan.kind === 'mla-gemm') {
    const what = [epilogue && 'the SwiGLU epilogue', groups && 'grouped rows'].filter(Boolean).join(' and ');
    return `the ${plan.kind} kernel does not run ${what} (the tiled and subgroup kernels do)`;
  }
  if (groups && groups.block % tileRows(plan) !== 0)
    return `grouped rows: a tile of ${tileRows(plan)} rows must lie in one block of ${groups.block} rows (a divisor of it)`;
  return null;
}

function kindDefect(problem: GemmProblem, plan: GemmPlan, device: GemmDevice): string | null {
  switch (plan.kind) {
    case 'subgroup': {
      const size = device.subgroupMinSize;
      if (!device.features.has('subgroups') || size === undefined)
        return 'the subgroup kernel shares A across subgroup lanes; this adapter has no subgroups';
      if (size % SUBGROUP_LANES !== 0)
        return `the subgroup kernel needs subgroups of a multiple of ${SUBGROUP_LANES} lanes; this adapter has ${size}`;
      if (plan.wg % SUBGROUP_LANES !== 0) return `a workgroup of ${plan.wg} is not whole groups of ${SUBGROUP_LANES} lanes`;
      return null;
    }
    case 'gemv':
      return problem.m > plan.rows * 65535 ? 'too many rows' : null;
    case 'mla-gemm': {
      // kernels/mla_gemm.wgsl's private arrays: MAX_TM rows and column offsets, MAX_TILE accumulators.
      if (plan.tm > 8 || plan.tn > 8 || plan.tm * plan.tn > 16)
        return `mla_gemm holds at most 8 rows, 8 columns and 16 vec4 accumulators per invocation, got tm=${plan.tm} tn=${plan.tn}`;
      if (problem.n % 4 !== 0 || problem.k % 4 !== 0)
        return `mla_gemm reads and writes whole vec4s: n=${problem.n} and k=${problem.k} must be multiples of 4`;
      const c = problem.c.rows;
      if ([c.offset ?? 0, c.batchStride ?? 0, c.rowStride, c.segment?.stride ?? 0].some((s) => s % 4 !== 0))
        return 'mla_gemm writes whole vec4s: the output offsets and strides must be multiples of 4';
      return null;
    }
    default:
      return null;
  }
}

/**
 * The subgroup kernel's plan: as many rows per lane group as there are, in balanced blocks of at most 16 vec4
 * accumulators per lane (the FMA calibration kernel's 16 chains: 16 rows of one f32 unit, 8 of an f16 unit's two
 * vec4s), one unit of B per lane (two for a GEMV of up to 4 rows: twice the B loads per step and per shuffle),
 * groups side by side up to 64 lanes but no more than the columns need. Measured on lavapipe (paired, same
 * process): at the V2-Lite up-projection 16 x 1 f32 units 2.1-2.4x faster than 8 x 2, 24 x 1 and 32 x 1, and
 * 8 x 1 f16 units 2.7-5x faster than 16 x 1; for absorb-q/o at one row, 1 x 2 units 1.6-2.4x faster than 1 x 1
 * (f32) and 1.1x (f16).
 */
export function subgroupPlan(problem: GemmProblem, wanted: Partial<SubgroupPlan> = {}): SubgroupPlan {
  const units = ceilDiv(problem.n, unitColumns(problem.dtype));
  // Accumulators per row and unit of each B: PACK vec4s, for each of the SwiGLU's two matrices.
  const perRow = (unitColumns(problem.dtype) / 4) * bMatrices(problem);
  const maxTm = SUBGROUP_MAX_ACC / perRow;
  const blocks = ceilDiv(problem.m, maxTm);
  const tm = wanted.tm ?? (problem.groups ? largestDivisor(problem.groups.block, maxTm) : ceilDiv(problem.m, blocks));
  const tn = wanted.tn ?? (tm <= GEMV_MAX_ROWS && 2 * tm * perRow <= SUBGROUP_MAX_ACC ? 2 : 1);
  const wg = wanted.wg ?? Math.min(64, SUBGROUP_LANES * ceilDiv(units, SUBGROUP_LANES * tn));
  return { kind: 'subgroup', wg, tm, tn };
}

/** The largest divisor of n that is at most max (grouped rows: tiles that never straddle two blocks). */
function largestDivisor(n: number, max: number): number {
  for (let d = Math.min(n, Math.floor(max)); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * The GPU GEMV: one 16-byte unit of columns per invocation, up to 64 side by side, k split to fill 256
 * invocations (fewer slices where the partial sums would not fit workgroup memory).
 */
export function gemvPlan(problem: GemmProblem, limits: GemmDevice['limits'], wanted: Partial<GemvPlan> = {}): GemvPlan {
  const units = ceilDiv(problem.n, unitColumns(problem.dtype));
  const wgN = wanted.wgN ?? Math.min(64, Math.max(8, pow2Ceil(units)));
  let plan: GemvPlan = {
    kind: 'gemv',
    wgN,
    kSlices: wanted.kSlices ?? Math.max(1, Math.min(256 / wgN, pow2Ceil(ceilDiv(problem.k, 4)))),
    rows: wanted.rows ?? Math.min(GEMV_MAX_ROWS, problem.m),
  };
  while (wanted.kSlices === undefined && plan.kSlices > 1 && workgroupBytes(plan, problem.dtype) > limits.maxComputeWorkgroupStorageSize)
    plan = { ...plan, kSlices: plan.kSlices / 2 };
  return plan;
}

/**
 * The GPU GEMM: 16 x 16 invocations, each 4 rows x 2 vec4 columns (64 x 128 outputs per workgroup, 128 FMAs per
 * 12 vec4 reads of workgroup memory), k staged 16 deep (32 for long k where workgroup memory allows); smaller
 * register tiles while the grid has fewer than GPU_MIN_WORKGROUPS workgroups (decode-sized GEMMs want parallelism
 * more than reuse), and shallower tiles where the device's workgroup memory is smaller.
 */
export function tiledPlan(problem: GemmProblem, limits: GemmDevice['limits'], wanted: Partial<TiledPlan> = {}): TiledPlan {
  let plan: TiledPlan = { kind: 'tiled', wgM: 16, wgN: 16, tm: 4, tn4: 2, bk4: 4, ...wanted };
  const count = (candidate: TiledPlan) => {
    const grid = planGrid(problem, candidate);
    return grid.colBlocks * grid.rowBlocks * problem.batch;
  };
  while (count(plan) < GPU_MIN_WORKGROUPS) {
    if (wanted.tn4 === undefined && plan.tn4 > 1) plan = { ...plan, tn4: plan.tn4 / 2 };
    else if (wanted.tm === undefined && plan.tm > 1) plan = { ...plan, tm: plan.tm / 2 };
    else break;
  }
  // Rows past m only cost: no more rows per invocation than m needs.
  if (wanted.tm === undefined) while (plan.tm > 1 && plan.wgM * plan.tm >= 2 * problem.m) plan = { ...plan, tm: plan.tm / 2 };
  // Grouped rows: a workgroup's rows in one block (fewer rows per invocation first, then fewer invocations).
  const block = problem.groups?.block;
  while (block !== undefined && block % (plan.wgM * plan.tm) !== 0) {
    if (wanted.tm === undefined && plan.tm > 1) plan = { ...plan, tm: plan.tm / 2 };
    else if (wanted.wgM === undefined && plan.wgM > 1) plan = { ...plan, wgM: plan.wgM / 2 };
    else break;
  }
  const mats = bMatrices(problem);
  const budget = limits.maxComputeWorkgroupStorageSize;
  if (wanted.bk4 === undefined && ceilDiv(problem.k, 4) >= 64 && workgroupBytes({ ...plan, bk4: 8 }, problem.dtype, mats) <= budget)
    plan = { ...plan, bk4: 8 };
  // A device with little workgroup memory: shallower k tiles first, then smaller register tiles.
  while (workgroupBytes(plan, problem.dtype, mats) > budget) {
    if (wanted.bk4 === undefined && plan.bk4 > 1) plan = { ...plan, bk4: plan.bk4 / 2 };
    else if (wanted.tn4 === undefined && plan.tn4 > 1) plan = { ...plan, tn4: plan.tn4 / 2 };
    else if (wanted.tm === undefined && plan.tm > 1) plan = { ...plan, tm: plan.tm / 2 };
    else break;
  }
  return plan;
}

/**
 * The strategy: the plan for a problem on a device, by tiling, or the reason none fits. Without a kind it tries
 * the kinds that suit the tiling in order of preference and takes the first the device and the problem allow (the
 * subgroup kernel needs subgroups and 16-byte B rows; the tiled kernel runs anywhere); with a kind, that kind or
 * its defect.
 */
export function planGemm(problem: GemmProblem, device: GemmDevice, tiling: GemmTiling, kind?: GemmPlanKind): GemmPlan | string {
  const candidates = kind ? [kind] : preferredKinds(problem, tiling);
  let first: string | undefined;
  for (const candidate of candidates) {
    const plan = planOfKind(candidate, problem, device, tiling);
    const defect = planDefect(problem, plan, device);
    if (!defect) return plan;
    first ??= defect;
  }
  return first!;
}

export function preferredKinds(problem: GemmProblem, tiling: GemmTiling): GemmPlanKind[] {
  const gpu: GemmPlanKind[] = problem.m <= GEMV_MAX_ROWS ? ['gemv', 'tiled'] : ['tiled'];
  return tiling === 'rows' ? ['subgroup', ...gpu] : gpu;
}

/** The default plan of one kernel kind for the problem (the strategy's choice within that kind). */
export function planOfKind(kind: GemmPlanKind, problem: GemmProblem, device: GemmDevice, tiling: GemmTiling): GemmPlan {
  switch (kind) {
    case 'subgroup':
      return subgroupPlan(problem);
    case 'gemv':
      return gemvPlan(problem, device.limits);
    case 'tiled':
      return tiledPlan(problem, device.limits);
    case 'mla-gemm':
      return mlaGemmPlan(problem, tiling);
  }
}

/** mla_gemm's tile choice as src/kernels/mla.ts makes it (StageList.gemm), so an A/B runs what MLA runs. */
export function mlaGemmPlan(problem: GemmProblem, tiling: GemmTiling): GemmPlan {
  const tm = Math.min(tiling === 'rows' ? 8 : 4, 2 ** Math.floor(Math.log2(Math.max(1, problem.m))));
  let tn = tiling === 'rows' && tm > 1 ? 8 : 1;
  while (tn > 1 && (tn * tm > 16 || tn * 8 > problem.n / 4)) tn /= 2;
  const n4 = problem.n / 4;
  const wg = tiling === 'rows' ? Math.min(tm > 1 ? 64 : 32, Math.max(8, pow2Ceil(ceilDiv(n4, tn)))) : 64;
  return { kind: 'mla-gemm', wg, tm, tn };
}
