import type { CeilingKind, Work } from '../core/numbers.js';

/** The device's ceilings, measured by the calibration suite in the same run. */
export interface Ceilings {
  copyGBs: number | null;
  readGBs: number | null;
  fmaF32Gflops: number | null;
  fmaF16Gflops: number | null;
  dispatchUs: number | null;
}

export const NO_CEILINGS: Ceilings = { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null };

export type Bound = 'memory' | 'compute' | 'overhead' | 'unknown';

export interface Rates {
  gflops: number;
  gbps: number;
  /** FLOP per byte moved. */
  intensity: number;
  /** Achieved bandwidth as a fraction of the calibrated copy bandwidth. */
  memoryFraction: number | null;
  /** Achieved FLOP/s as a fraction of the calibrated FMA throughput of the case's arithmetic. */
  computeFraction: number | null;
  bound: Bound;
}

/**
 * Precision of a kernel's arithmetic, which sets its compute roof. It is not the storage dtype: every kernel
 * here loads f16 tensors into f32 and accumulates in f32, so an f16 case is held against the f32 FMA ceiling.
 * Only the f16 FMA calibration does its arithmetic in f16.
 */
export type Arithmetic = 'f32' | 'f16';

export function arithmeticOf(ceiling: CeilingKind | undefined): Arithmetic {
  return ceiling === 'fma-f16' ? 'f16' : 'f32';
}

export function computeCeiling(ceilings: Ceilings, arithmetic: Arithmetic): number | null {
  return arithmetic === 'f16' ? ceilings.fmaF16Gflops : ceilings.fmaF32Gflops;
}

/**
 * Throughput from the analytic work and the median time of one repeat, and the roofline verdict:
 * below the ridge point (peak FLOP/s / peak B/s) a kernel is memory-bound, above it compute-bound;
 * a kernel that takes less than twice the per-dispatch overhead is bound by the overhead itself.
 */
export function computeRates(work: Work, medianMs: number, arithmetic: Arithmetic, ceilings: Ceilings, dispatches = 1): Rates {
  const seconds = medianMs / 1e3;
  const bytes = work.bytesRead + work.bytesWritten;
  const gflops = seconds > 0 ? work.flops / seconds / 1e9 : 0;
  const gbps = seconds > 0 ? bytes / seconds / 1e9 : 0;
  const intensity = bytes > 0 ? work.flops / bytes : Infinity;
  const peakGflops = computeCeiling(ceilings, arithmetic);
  const peakGBs = ceilings.copyGBs;
  const memoryFraction = peakGBs ? gbps / peakGBs : null;
  const computeFraction = peakGflops && work.flops > 0 ? gflops / peakGflops : null;
  let bound: Bound = 'unknown';
  if (ceilings.dispatchUs !== null && medianMs * 1e3 < 2 * ceilings.dispatchUs * dispatches) bound = 'overhead';
  else if (peakGflops && peakGBs) bound = intensity < peakGflops / peakGBs ? 'memory' : 'compute';
  return { gflops, gbps, intensity: Number.isFinite(intensity) ? intensity : 0, memoryFraction, computeFraction, bound };
}

/** A calibration case's figure for its ceiling: GB/s for copy/read, GFLOP/s for FMA, us for dispatch. */
export function ceilingValue(kind: CeilingKind, work: Work, medianMs: number): number {
  const seconds = medianMs / 1e3;
  switch (kind) {
    case 'copy':
    case 'read':
      return (work.bytesRead + work.bytesWritten) / seconds / 1e9;
    case 'fma-f32':
    case 'fma-f16':
      return work.flops / seconds / 1e9;
    case 'dispatch':
      return medianMs * 1e3;
  }
}

const CEILING_FIELD: Record<CeilingKind, keyof Ceilings> = {
  copy: 'copyGBs',
  read: 'readGBs',
  'fma-f32': 'fmaF32Gflops',
  'fma-f16': 'fmaF16Gflops',
  dispatch: 'dispatchUs',
};

/** The ceiling a calibration kernel of this kind measures. */
export function ceilingField(kind: CeilingKind): keyof Ceilings {
  return CEILING_FIELD[kind];
}

/** Folds one calibration figure in: the best of several sizes is the ceiling (lowest for overhead). */
export function withCeiling(ceilings: Ceilings, kind: CeilingKind, value: number): Ceilings {
  const field = CEILING_FIELD[kind];
  const previous = ceilings[field];
  const best = previous === null ? value : kind === 'dispatch' ? Math.min(previous, value) : Math.max(previous, value);
  return { ...ceilings, [field]: best };
}
