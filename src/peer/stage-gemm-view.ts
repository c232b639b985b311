import { maxAbs } from '../kernels/build.js';
import { gemmTolerance } from '../kernels/gemm/family.js';
import type { GemmProblem } from '../kernels/gemm/problem.js';
import { REFERENCE_BUDGET_FLOPS, sampleRows, type BufferDecl, type KernelCase, type OutputCheck } from '../kernels/spec.js';
import { matmulRowFlops, matmulRows } from '../reference/gemm.js';
import { seededUniform } from '../reference/random.js';
import { copiesOf, gather, type GemmView } from './gemm-view.js';

/**
 * The GEMM stages of one phase of a multi-stage case (MLA's up-project, absorb-q, ...), in dispatch order. The
 * phase may hold other dispatches too (RMSNorm, a RoPE copy), which its timing includes and a peer's MatMuls do not.
 */
export interface PhaseGemms {
  phase: string;
  stages: { name: string; problem: GemmProblem }[];
}

/** Phases holding at least one GEMM stage (StageDecl.gemm), in the order the case dispatches them. */
export function phaseGemms(kernelCase: KernelCase): PhaseGemms[] {
  const phases: PhaseGemms[] = [];
  for (const stage of kernelCase.stages) {
    const phase = stage.phase ?? stage.name;
    let entry = phases.find((p) => p.phase === phase);
    if (!entry) phases.push((entry = { phase, stages: [] }));
    // A plain product only: MatMul has no grouped B (MoE's per-expert weights) or SwiGLU epilogue.
    if (stage.gemm && !stage.gemm.groups && !stage.gemm.epilogue) entry.stages.push({ name: stage.name, problem: stage.gemm });
  }
  return phases.filter((p) => p.stages.length > 0);
}

/**
 * [copies][rows][width] of an operand: gathered from its buffer's host data, where the case uploads it; seeded
 * where another stage computes it (no host data, or NaN on the host: rows a stage before this one writes, such as
 * the new tokens' latent rows).
 */
function operandValues(buffer: BufferDecl | undefined, problem: GemmProblem, which: 'a' | 'b', seed: number): Float32Array {
  const operand = problem[which];
  const copies = copiesOf(operand.rows, problem.batch);
  const [rows, width] = which === 'a' ? [problem.m, problem.k] : [problem.k, problem.n];
  const scale = which === 'b' ? 1 / Math.sqrt(problem.k) : 1;
  const seeded = seededUniform(copies * rows * width, seed, problem.dtype, -scale, scale);
  const data = buffer?.data;
  if (!(data instanceof Float32Array)) return seeded;
  const values = gather(data, operand.rows, copies, rows, width);
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) values[i] = seeded[i] as number;
  return values;
}

/**
 * A GEMM stage of a case as a peer sees it: its operands at the stage's shape and dtype (the case's own values
 * where the operand is a case input; seeded where it is another stage's output, which a MatMul's time does not
 * depend on), and a float64 check of the dense [batch][m][n] product (sampled rows where the reference would cost
 * more than REFERENCE_BUDGET_FLOPS), with the GEMM family's tolerance.
 */
export function stageGemmView(name: string, problem: GemmProblem, buffers: readonly BufferDecl[], seed: number): GemmView {
  const { m, n, k, batch, dtype } = problem;
  const find = (name: string) => buffers.find((b) => b.name === name);
  const a = operandValues(find(problem.a.buffer), problem, 'a', seed);
  const b = operandValues(find(problem.b.buffer), problem, 'b', (seed + 1) >>> 0);
  const [aCopies, bCopies] = [copiesOf(problem.a.rows, batch), copiesOf(problem.b.rows, batch)];
  const shape = { batch, m, n, k, sharedA: aCopies === 1 && batch > 1 };
  // MatMul broadcasts a shared B; the reference reads B per batch entry.
  const bFull = () => (bCopies === batch ? b : repeat(b, batch));
  const sampled = sampleRows(batch * m, n, matmulRowFlops(shape), REFERENCE_BUDGET_FLOPS);
  const slots = sampled?.rows ?? Array.from({ length: batch * m }, (_, i) => i);
  let cached: Float64Array | undefined;
  const expected = (): Float64Array =>
    (cached ??= matmulRows(
      shape,
      a,
      bFull(),
      slots.map((slot) => [Math.floor(slot / m), slot % m] as const),
    ));
  const check: OutputCheck = {
    buffer: name,
    shape: [batch * m, n],
    expected,
    get tolerance() {
      return gemmTolerance(dtype, k, maxAbs(expected()));
    },
    ...(sampled && { sampledRows: sampled }),
  };
  return { dtype, batch, m, n, k, aCopies, bCopies, a, b, asOutputBuffer: (dense) => Float32Array.from(dense), check };
}

function repeat(values: Float32Array, times: number): Float32Array {
  const out = new Float32Array(values.length * times);
  for (let i = 0; i < times; i++) out.set(values, i * values.length);
  return out;
}
