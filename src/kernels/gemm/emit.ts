import type { DeviceLimits } from '../../core/device-facts.js';
import { grid2d } from '../family.js';
import { elementBytes, type BufferDecl, type Dtype, type StageDecl } from '../spec.js';
import type { GemmPlan } from './plan.js';
import { gemmWork, type GemmProblem } from './problem.js';
import { SHADERS } from '../shaders.js';
import { packStruct } from '../uniforms.js';
import { addrOf, gemmParamsWords, uniformDecl, type GemmGrid } from './uniforms.js';

/** What a GEMM adds to a case: its uniform buffer and its one dispatch. */
export interface EmittedGemm {
  buffers: BufferDecl[];
  stage: StageDecl;
}

export interface GemmStageNames {
  /** Stage name; the uniform buffer is `<name>_params`. */
  name: string;
  phase?: string;
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

function shaderOf(plan: GemmPlan, dtype: Dtype): Pick<StageDecl, 'shader' | 'constants' | 'sizes'> {
  switch (plan.kind) {
    case 'tiled':
      return {
        shader: 'gemm_tiled.wgsl',
        constants: { WG_M: plan.wgM, WG_N: plan.wgN, BK4: plan.bk4 },
        sizes: { TM: plan.tm, TN4: plan.tn4 },
      };
    case 'subgroup':
      return { shader: 'gemm_subgroup.wgsl', constants: { WG: plan.wg }, sizes: { TM: plan.tm, TN: plan.tn, PACK: pack(dtype) } };
    case 'gemv':
      return { shader: 'gemv.wgsl', constants: { WG_N: plan.wgN, KS: plan.kSlices }, sizes: { ROWS: plan.rows, PACK: pack(dtype) } };
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

/** The one emitter: a plan and a problem become a uniform buffer and a dispatch over the problem's buffers. */
export function emitGemm(
  problem: GemmProblem,
  plan: GemmPlan,
  names: GemmStageNames,
  limits: Pick<DeviceLimits, 'maxComputeWorkgroupsPerDimension'>,
): EmittedGemm {
  const grid = planGrid(problem, plan);
  const params = `${names.name}_params`;
  const words = plan.kind === 'mla-gemm' ? mlaGemmWords(problem, grid) : gemmParamsWords(problem, grid);
  const [x, y] = grid2d(grid.colBlocks * grid.rowBlocks, limits.maxComputeWorkgroupsPerDimension);
  return {
    buffers: [uniformDecl(params, words)],
    stage: {
      name: names.name,
      ...(names.phase !== undefined && { phase: names.phase }),
      ...shaderOf(plan, problem.dtype),
      dtype: problem.dtype,
      bindings: [params, problem.a.buffer, problem.b.buffer, problem.c.buffer],
      workgroups: [x, y, problem.batch],
      work: gemmWork(problem),
      gemm: problem,
    },
  };
}
