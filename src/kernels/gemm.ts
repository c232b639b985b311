/**
 * The GEMM family (issue #23): matrix products as plan objects, for the gemm suite and for the MLA and MoE stages.
 * A stage builds a GemmProblem (sizes, dtype, operands with their row addressing), asks planGemm for a plan (or
 * picks one), and emitGemm turns problem + plan into its uniform buffer and its dispatch.
 */
export { emitGemm, gemmLaunch, gemmRowsLaunch, planGrid, unitColumns, type EmittedGemm, type GemmStageNames } from './gemm/emit.js';
export { gemmCase, gemmFamily, gemmTolerance, GEMM_KERNELS, type GemmCaseSpec, type GemmKernel } from './gemm/family.js';
export {
  describePlan,
  GEMM_PLAN_KINDS,
  type GemmPlan,
  type GemmPlanKind,
  type GemvPlan,
  type MlaGemmPlan,
  type SubgroupPlan,
  type TiledPlan,
} from './gemm/plan.js';
export {
  bMatrices,
  gemmWork,
  problemDefect,
  rowStart,
  type GemmGroups,
  type GemmProblem,
  type Operand,
  type RowAddressing,
  type SwigluEpilogue,
} from './gemm/problem.js';
export { gemmPlanSpace, gemmSlot } from './gemm/space.js';
export { GEMM_MODELS, GEMM_OPS, gemmShape, type GemmModel, type GemmOp, type GemmShape } from './gemm/shapes.js';
export {
  GEMM_TILINGS,
  gemvPlan,
  planDefect,
  planGemm,
  preferredKinds,
  subgroupPlan,
  tiledPlan,
  type GemmDevice,
  type GemmTiling,
} from './gemm/strategy.js';
