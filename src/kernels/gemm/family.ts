import { EPSILON, reductionTolerance } from '../../reference/allclose.js';
import { matmulRowFlops, matmulRows } from '../../reference/gemm.js';
import { seededUniform } from '../../reference/random.js';
import type { AxisValue } from '../../core/numbers.js';
import type { BuildContext, BuildResult, KernelFamily } from '../family.js';
import { numberParam, stringParam } from '../family.js';
import { lazyInput, maxAbs, memo } from '../build.js';
import {
  buffersMisfit,
  REFERENCE_BUDGET_FLOPS,
  sampleRows,
  type BufferDecl,
  type Dtype,
  type KernelCase,
  type OutputCheck,
  type SampledRows,
} from '../spec.js';
import { emitGemm } from './emit.js';
import { describePlan, GEMM_PLAN_KINDS, type GemmPlan, type GemmPlanKind } from './plan.js';
import { gemmWork, problemDefect, type GemmProblem, type RowAddressing } from './problem.js';
import { GEMM_MODELS, GEMM_OPS, gemmShape, type GemmShape, type OperandLayout } from './shapes.js';
import { gemmSlot } from './space.js';
import { GEMM_TILINGS, planDefect, planGemm, preferredKinds, type GemmTiling } from './strategy.js';
import { overrideOf } from '../tunable.js';

/** `auto`: the strategy's plan; a plan kind forces that kernel (mla-gemm: the kernel MLA ran before, for A/B). */
export const GEMM_KERNELS = ['auto', ...GEMM_PLAN_KINDS] as const;
export type GemmKernel = (typeof GEMM_KERNELS)[number];

const CANARY = 16;
/** What the output's unwritten gaps (another tensor's part of a row) hold: a stray write shows as a mismatch. */
const GAP_VALUE = 0.25;

export interface GemmCaseSpec {
  shape: GemmShape;
  dtype: Dtype;
  tiling: GemmTiling;
  /** A kernel for the strategy to plan (auto: its choice), or a plan as given (a tuner's candidate). */
  kernel: GemmKernel | GemmPlan;
  /** float64 FLOPs the check's reference may cost before it samples output rows (default REFERENCE_BUDGET_FLOPS). */
  referenceBudgetFlops?: number;
}

/** Matrices an operand's buffer holds: one when the batch shares it. */
const copies = (layout: OperandLayout, batch: number): number => (layout.order === 'shared' ? 1 : batch);

/** Rows of an operand as addressing: [batch][rows], [rows][batch] or one [rows], `row` elements each. */
function addressing(layout: OperandLayout, rows: number, batch: number): RowAddressing {
  switch (layout.order) {
    case 'shared':
      return { batchStride: 0, rowStride: layout.row };
    case 'batch-major':
      return { batchStride: batch > 1 ? rows * layout.row : 0, rowStride: layout.row };
    case 'row-major':
      return { batchStride: layout.row, rowStride: batch * layout.row };
  }
}

/** Buffer row of matrix row (z, i), and back (for an output: never shared). */
function bufferRow(layout: OperandLayout, rows: number, batch: number, z: number, i: number): number {
  return layout.order === 'row-major' ? i * batch + z : z * rows + i;
}
function matrixRow(layout: OperandLayout, rows: number, batch: number, slot: number): [number, number] {
  return layout.order === 'row-major' ? [slot % batch, Math.floor(slot / batch)] : [Math.floor(slot / rows), slot % rows];
}

/** Dense [copies][rows][width] into the operand's buffer layout; the rest of each row is `fill`. */
function layOut(dense: Float32Array, layout: OperandLayout, rows: number, width: number, batch: number, fill: number): Float32Array {
  const out = new Float32Array(copies(layout, batch) * rows * layout.row).fill(fill);
  for (let z = 0; z < copies(layout, batch); z++) {
    for (let i = 0; i < rows; i++) {
      const src = (z * rows + i) * width;
      out.set(dense.subarray(src, src + width), bufferRow(layout, rows, batch, z, i) * layout.row);
    }
  }
  return out;
}

/** One GEMM case: seeded A and B in the shape's layouts (NaN where the kernel must not read), C against float64. */
/** The case's operands (seeded, laid out with NaN in every gap) and the check of C against float64. */
function gemmData(
  spec: GemmCaseSpec,
  problem: GemmProblem,
  lengths: { a: number; b: number; c: number },
  context: BuildContext,
): { buffers: BufferDecl[]; check: OutputCheck } {
  const { shape, dtype } = spec;
  const { m, n, k, batch } = problem;
  // Inputs of order one, B scaled by 1/sqrt(k) so that every output is too.
  // Made on first read (upload, the check): declaring a case (planning it for another device) makes no host data.
  const a = memo(() => seededUniform(copies(shape.a, batch) * m * k, context.seed, dtype));
  const b = memo(() => seededUniform(batch * k * n, (context.seed + 1) >>> 0, dtype, -1 / Math.sqrt(k), 1 / Math.sqrt(k)));
  const c: BufferDecl = { name: 'c', role: 'activations', usage: 'storage', type: dtype, length: lengths.c, canary: CANARY };
  if (shape.c.row > n) {
    const gaps = memo(() => layOut(new Float32Array(batch * m * n).fill(NaN), shape.c, m, n, batch, GAP_VALUE));
    Object.defineProperty(c, 'data', { get: gaps, enumerable: true });
  }
  const buffers: BufferDecl[] = [
    lazyInput('a', 'activations', dtype, lengths.a, () => layOut(a(), shape.a, m, k, batch, NaN), CANARY),
    lazyInput('b', 'weights', dtype, lengths.b, () => layOut(b(), { row: shape.b.row, order: 'batch-major' }, k, n, batch, NaN), CANARY),
    c,
  ];
  const reference = { batch, m, n, k, sharedA: shape.a.order === 'shared' };
  const sampled: SampledRows | undefined = sampleRows(
    batch * m,
    shape.c.row,
    matmulRowFlops(reference),
    spec.referenceBudgetFlops ?? REFERENCE_BUDGET_FLOPS,
  );
  const slots = sampled?.rows ?? Array.from({ length: batch * m }, (_, i) => i);
  let cached: Float64Array | undefined;
  const expected = (): Float64Array => {
    if (cached) return cached;
    const rows = matmulRows(
      reference,
      a(),
      b(),
      slots.map((slot) => matrixRow(shape.c, m, batch, slot)),
    );
    cached = new Float64Array(slots.length * shape.c.row).fill(GAP_VALUE);
    slots.forEach((_, s) => cached!.set(rows.subarray(s * n, (s + 1) * n), s * shape.c.row));
    return cached;
  };
  const check: OutputCheck = {
    buffer: 'c',
    shape: [lengths.c / shape.c.row, shape.c.row],
    expected,
    get tolerance() {
      return gemmTolerance(dtype, k, maxAbs(expected()));
    },
    ...(sampled && { sampledRows: sampled }),
  };
  return { buffers, check };
}

/** The tunable slot of a GEMM case's plan (BuildContext.plans). */
export const GEMM_SLOT = 'gemm';

/** The kinds a case's slot may take: the strategy's (the forced kind only, where the suite forces one). */
function slotKinds(problem: GemmProblem, spec: GemmCaseSpec): GemmPlanKind[] {
  if (spec.kernel === 'auto') return preferredKinds(problem, spec.tiling);
  return [typeof spec.kernel === 'object' ? spec.kernel.kind : spec.kernel];
}

export function gemmCase(spec: GemmCaseSpec, context: BuildContext): BuildResult {
  const { shape, dtype } = spec;
  const { m, n, k, batch } = shape;
  if (dtype === 'f16' && !context.features.has('shader-f16')) return { kind: 'skip', reason: 'adapter has no shader-f16' };
  const lengths = { a: copies(shape.a, batch) * m * shape.a.row, b: batch * k * shape.b.row, c: batch * m * shape.c.row };
  const tooBig = buffersMisfit(
    (['a', 'b', 'c'] as const).map((name) => ({ name, usage: 'storage' as const, type: dtype, length: lengths[name], canary: CANARY })),
    context.limits,
  );
  if (tooBig) return { kind: 'skip', reason: tooBig };
  const problem: GemmProblem = {
    m,
    n,
    k,
    batch,
    dtype,
    a: { buffer: 'a', rows: addressing(shape.a, m, batch) },
    b: { buffer: 'b', rows: { batchStride: batch > 1 ? k * shape.b.row : 0, rowStride: shape.b.row } },
    c: { buffer: 'c', rows: addressing(shape.c, m, batch) },
  };
  const defect = problemDefect(problem);
  if (defect) return { kind: 'skip', reason: defect };
  const picked =
    typeof spec.kernel === 'object'
      ? (planDefect(problem, spec.kernel, context) ?? spec.kernel)
      : planGemm(problem, context, spec.tiling, spec.kernel === 'auto' ? undefined : spec.kernel);
  const given = overrideOf(context.plans, GEMM_SLOT, 'gemm');
  const plan = given ? (planDefect(problem, given, context) ?? given) : picked;
  if (typeof plan === 'string') return { kind: 'skip', reason: plan };
  const choice = { chosen: plan, defaultPlan: typeof picked === 'string' ? null : picked };

  const { buffers, check } = gemmData(spec, problem, lengths, context);
  const emitted = emitGemm(problem, plan, { name: 'gemm' }, context.limits);
  buffers.push(...emitted.buffers);
  const work = gemmWork(problem);
  const kernelCase: KernelCase = {
    buffers,
    stages: [emitted.stage],
    checks: [check],
    facts: { plan: describePlan(plan), m, n, k, batch, intensity: work.flops / (work.bytesRead + work.bytesWritten) },
    tunables: [gemmSlot(GEMM_SLOT, problem, context, spec.tiling, slotKinds(problem, spec), choice)],
    gemm: problem,
  };
  return { kind: 'case', kernelCase };
}

/** f32 accumulation over k terms, one rounding to the storage type (inputs are already rounded on the host). */
export function gemmTolerance(dtype: Dtype, k: number, maxOut: number): ReturnType<typeof reductionTolerance> {
  const base = reductionTolerance(dtype, k, maxOut);
  return { atol: base.atol + EPSILON[dtype] * maxOut, rtol: base.rtol };
}

function optionalNumber(params: Record<string, AxisValue>, name: string): number | undefined {
  return params[name] === undefined ? undefined : numberParam(params, name);
}

/**
 * Axes: op (see shapes.ts), model (none for square and custom), rows (m), dtype, tiling (workgroup | rows: GPU or
 * CPU-adapter kernels), kernel (auto | tiled | subgroup | gemv | mla-gemm), batch (expert ops, custom), n and k
 * (custom).
 */
export const gemmFamily: KernelFamily = {
  name: 'gemm',
  requiredAxes: ['op', 'model', 'rows', 'dtype'],
  inputInvariantAxes: ['tiling', 'kernel'],
  build(params, context): BuildResult {
    const op = stringParam(params, 'op', GEMM_OPS);
    const model = stringParam(params, 'model', GEMM_MODELS);
    const batch = optionalNumber(params, 'batch');
    const n = optionalNumber(params, 'n');
    const k = optionalNumber(params, 'k');
    const shape = gemmShape({
      op,
      model,
      rows: numberParam(params, 'rows'),
      ...(batch !== undefined && { batch }),
      ...(n !== undefined && { n }),
      ...(k !== undefined && { k }),
    });
    if (typeof shape === 'string') return { kind: 'skip', reason: shape };
    const dtype = stringParam(params, 'dtype', ['f32', 'f16'] as const);
    const tiling = params['tiling'] === undefined ? 'workgroup' : stringParam(params, 'tiling', GEMM_TILINGS);
    const kernel = params['kernel'] === undefined ? 'auto' : stringParam(params, 'kernel', GEMM_KERNELS);
    const built = gemmCase({ shape, dtype, tiling, kernel: kernel as GemmKernel }, context);
    if (built.kind === 'case') built.kernelCase.facts = { op, model, ...built.kernelCase.facts };
    return built;
  },
};

export type { GemmPlanKind };
