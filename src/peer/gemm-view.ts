import { rowStart, type RowAddressing } from '../kernels/gemm/problem.js';
import type { Dtype, KernelCase, OutputCheck } from '../kernels/spec.js';

/**
 * A GEMM case as a peer sees it: C[z] = A[z] B[z], the operands gathered dense from the buffers the GPU read
 * (already rounded to the storage type), and the case's own float64 check of the C buffer. Read from the built
 * KernelCase's `gemm` problem (src/kernels/gemm/problem.ts), so a peer multiplies exactly the case's data.
 */
export interface GemmView {
  dtype: Dtype;
  batch: number;
  m: number;
  n: number;
  k: number;
  /** Matrices each operand holds: 1 where the batch shares it (batchStride 0), else batch. */
  aCopies: number;
  bCopies: number;
  /** [aCopies][m][k] */
  a: Float32Array;
  /** [bCopies][k][n] */
  b: Float32Array;
  /** A dense [batch][m][n] result written into the C buffer's layout, as the case's kernel leaves it. */
  asOutputBuffer(dense: ArrayLike<number>): Float32Array;
  check: OutputCheck;
}

export type GemmViewResult = { kind: 'view'; view: GemmView } | { kind: 'unsupported'; reason: string };

export const copiesOf = (rows: RowAddressing, batch: number): number => ((rows.batchStride ?? 0) === 0 ? 1 : batch);

/** [copies][rows][width] out of a buffer addressed by `rows`. */
export function gather(data: ArrayLike<number>, rows: RowAddressing, copies: number, count: number, width: number): Float32Array {
  const out = new Float32Array(copies * count * width);
  for (let z = 0; z < copies; z++) {
    for (let r = 0; r < count; r++) {
      const from = rowStart(rows, z, r);
      const to = (z * count + r) * width;
      for (let i = 0; i < width; i++) out[to + i] = data[from + i] as number;
    }
  }
  return out;
}

export function gemmView(kernelCase: KernelCase): GemmViewResult {
  const problem = kernelCase.gemm;
  if (!problem) return { kind: 'unsupported', reason: 'not a GEMM case' };
  const { m, n, k, batch } = problem;
  const buffer = (name: string) => kernelCase.buffers.find((b) => b.name === name);
  const [a, b, c] = [problem.a, problem.b, problem.c].map((operand) => buffer(operand.buffer));
  const check = kernelCase.checks.find((x) => x.buffer === problem.c.buffer);
  if (!a?.data || !b?.data || !c || !check) return { kind: 'unsupported', reason: 'GEMM case without A / B inputs or a check of C' };
  const aCopies = copiesOf(problem.a.rows, batch);
  const bCopies = copiesOf(problem.b.rows, batch);
  const gaps = c.data;
  return {
    kind: 'view',
    view: {
      dtype: problem.dtype,
      batch,
      m,
      n,
      k,
      aCopies,
      bCopies,
      a: gather(a.data, problem.a.rows, aCopies, m, k),
      b: gather(b.data, problem.b.rows, bCopies, k, n),
      asOutputBuffer(dense) {
        const out = gaps ? Float32Array.from(gaps) : new Float32Array(c.length);
        for (let z = 0; z < batch; z++) {
          for (let r = 0; r < m; r++) {
            const to = rowStart(problem.c.rows, z, r);
            for (let i = 0; i < n; i++) out[to + i] = dense[(z * m + r) * n + i] as number;
          }
        }
        return out;
      },
      check,
    },
  };
}
