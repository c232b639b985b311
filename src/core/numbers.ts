/** Floating-point storage type of a kernel's tensors. Accumulation is always f32. */
export type Dtype = 'f32' | 'f16';
export const DTYPES: readonly Dtype[] = ['f32', 'f16'];

export type ElementType = Dtype | 'u32' | 'i32';

export function elementBytes(type: ElementType): number {
  return type === 'f16' ? 2 : 4;
}

/** Analytic work of a stage or case, from its shapes (never measured). */
export interface Work {
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

export function addWork(a: Work, b: Work): Work {
  return { flops: a.flops + b.flops, bytesRead: a.bytesRead + b.bytesRead, bytesWritten: a.bytesWritten + b.bytesWritten };
}

export const NO_WORK: Work = { flops: 0, bytesRead: 0, bytesWritten: 0 };

/** How far an output may be from its float64 reference: |gpu - ref| <= atol + rtol |ref|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Which calibrated ceiling a case is measured against. */
export type CeilingKind = 'copy' | 'read' | 'fma-f32' | 'fma-f16' | 'dispatch';

/** A value of a suite's axis: a number, or a name (a variant, a form, a dtype). */
export type AxisValue = number | string;
