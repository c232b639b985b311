import type { DeviceLimits } from '../../core/device-facts.js';
import { grid2d } from '../family.js';
import { elementBytes, type BufferDecl, type Dtype, type StageDecl, type Work } from '../spec.js';
import type { GemmPlan } from './plan.js';
import { bMatrices, gemmWork, groupBindings, type GemmProblem } from './problem.js';
import { SHADERS } from '../shaders.js';
import { packStruct } from '../uniforms.js';
import { addrOf, gemmParamsWords, uniformDecl, withRows, type GemmGrid } from './uniforms.js';

/** What a GEMM adds to a case: its uniform buffer and its one dispatch. */
export interface EmittedGemm {
  buffers: BufferDecl[];
  stage: StageDecl;
}

export interface GemmStageNames {
  /** Stage name; the uniform buffer is `<name>_params`. */
  name: string;
  phase?: string;
  /** The stage's work where the caller knows it better (grouped rows: the rows and groups its layout really runs). */
  work?: Work;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** Columns in a 16-byte unit of B, as the subgroup and GEMV kernels load it. */
export const unitColumns = (dtype: Dtype): number => 16 / elementBytes(dtype);
/** vec4s of columns per unit (PACK in the shaders). */
const pack = (dtype: Dtype): number => unitColumns(dtype) / 4;

/** Output blocks of a plan: columns (in vec4s) and rows each workgroup covers. */
export function planGrid(problem: GemmProblem, plan: GemmPlan): GemmGrid {
  const n4 = ceilDiv(problem.n, 4);
  const units = ceilDiv(problem.n, unitColumns(problem.dtype));
  switch (plan.kind) {
    case 'tiled':
      return { colBlocks: ceilDiv(n4, plan.wgN * plan.tn4), rowBlocks: ceilDiv(problem.m, plan.wgM * plan.tm) };
    case 'subgroup':
      return { colBlocks: ceilDiv(units, plan.wg * plan.tn), rowBlocks: ceilDiv(problem.m, plan.tm) };
    case 'gemv':
      return { colBlocks: ceilDiv(units, plan.wgN), rowBlocks: ceilDiv(problem.m, plan.rows) };
    case 'mla-gemm':
      return { colBlocks: ceilDiv(n4, plan.wg * plan.tn), rowBlocks: ceilDiv(problem.m, plan.tm) };
  }
}

function shaderOf(plan: GemmPlan, problem: GemmProblem): Pick<StageDecl, 'shader' | 'constants' | 'sizes'> {
  const { dtype } = problem;
  const DUAL = bMatrices(problem);
  switch (plan.kind) {
    case 'tiled':
      return {
        shader: 'gemm_tiled.wgsl',
        constants: { WG_M: plan.wgM, WG_N: plan.wgN, BK4: plan.bk4 },
        sizes: { TM: plan.tm, TN4: plan.tn4, DUAL },
      };
    case 'subgroup':
      return { shader: 'gemm_subgroup.wgsl', constants: { WG: plan.wg }, sizes: { TM: plan.tm, TN: plan.tn, PACK: pack(dtype), DUAL } };
    case 'gemv':
      return {
        shader: 'gemv.wgsl',
        constants: { WG_N: plan.wgN, KS: plan.kSlices },
        sizes: { ROWS: plan.rows, PACK: pack(dtype), DUAL },
      };
    case 'mla-gemm':
      return { shader: 'mla_gemm.wgsl', constants: { WG: plan.wg, TM: plan.tm, TN: plan.tn } };
  }
}

/** mla_gemm.wgsl's own uniform block: sizes and addresses in vec4s (see src/kernels/mla.ts). */
function mlaGemmWords(problem: GemmProblem, grid: GemmGrid): Uint32Array {
  return packStruct(SHADERS.mlaGemm.params, {
    m: problem.m,
    n4: problem.n / 4,
    k4: problem.k / 4,
    n_blocks: grid.colBlocks,
    row_blocks: grid.rowBlocks,
    a: addrOf(problem.a.rows, 4),
    b: addrOf(problem.b.rows, 4),
    c: addrOf(problem.c.rows, 4),
  });
}

/**
 * What one run of a plan on a problem takes: its uniform's words and its workgroups (a host loop recomputes them for
 * each expert's rows, which only the read-back counts give, and rewrites the uniform of a dispatch emitted up front).
 */
export function gemmLaunch(
  problem: GemmProblem,
  plan: GemmPlan,
  limits: Pick<DeviceLimits, 'maxComputeWorkgroupsPerDimension'>,
): { words: Uint32Array; workgroups: [number, number, number] } {
  const grid = planGrid(problem, plan);
  const words = plan.kind === 'mla-gemm' ? mlaGemmWords(problem, grid) : gemmParamsWords(problem, grid);
  const [x, y] = grid2d(grid.colBlocks * grid.rowBlocks, limits.maxComputeWorkgroupsPerDimension);
  return { words, workgroups: [x, y, problem.batch] };
}

/**
 * A launch of an emitted plain GEMM over other rows (a host loop's expert: its count read back, its first row in the
 * padded layout): `words` the emitted uniform, the problem's A and C rows moved to `first`. Not for mla-gemm.
 */
export function gemmRowsLaunch(
  emitted: { problem: GemmProblem; plan: GemmPlan; words: Uint32Array },
  m: number,
  first: number,
  limits: Pick<DeviceLimits, 'maxComputeWorkgroupsPerDimension'>,
): { words: Uint32Array; workgroups: [number, number, number] } {
  const { problem, plan } = emitted;
  const grid = planGrid({ ...problem, m }, plan);
  const words = withRows(emitted.words, {
    m,
    rowBlocks: grid.rowBlocks,
    aOffset: first * problem.a.rows.rowStride,
    cOffset: first * problem.c.rows.rowStride,
  });
  const [x, y] = grid2d(grid.colBlocks * grid.rowBlocks, limits.maxComputeWorkgroupsPerDimension);
  return { words, workgroups: [x, y, problem.batch] };
}

/**
 * The one emitter: a plan and a problem become a uniform buffer and a dispatch over the problem's buffers (grouped
 * rows: the kernel's `main_grouped` entry point, which also binds the group index, the row count and the row ids).
 */
export function emitGemm(
  problem: GemmProblem,
  plan: GemmPlan,
  names: GemmStageNames,
  limits: Pick<DeviceLimits, 'maxComputeWorkgroupsPerDimension'>,
): EmittedGemm {
  const params = `${names.name}_params`;
  const { words, workgroups } = gemmLaunch(problem, plan, limits);
  return {
    buffers: [uniformDecl(params, words)],
    stage: {
      name: names.name,
      ...(names.phase !== undefined && { phase: names.phase }),
      ...shaderOf(plan, problem),
      ...(problem.groups && { entryPoint: 'main_grouped' }),
      dtype: problem.dtype,
      bindings: [params, problem.a.buffer, problem.b.buffer, problem.c.buffer, ...(problem.groups ? groupBindings(problem.groups) : [])],
      workgroups,
      work: names.work ?? gemmWork(problem),
      gemm: problem,
    },
  };
}
