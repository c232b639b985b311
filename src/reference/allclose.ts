import type { Tolerance } from '../core/numbers.js';

export interface NumericsReport {
  passed: boolean;
  checked: number;
  mismatches: number;
  maxAbsError: number;
  /** Element-wise max |a - e| / |e|: large wherever an expected value is near zero. */
  maxRelError: number;
  /** Norm-wise: max |a - e| / max |e| over the output, the error on the output's own scale. */
  normRelError: number;
  /** Element with the largest error relative to its allowance (|a - e| / (atol + rtol |e|)). */
  worstIndex: number;
  worstActual: number | string;
  worstExpected: number | string;
  tolerance: Tolerance;
}

/** JSON has no NaN or Infinity: keep them as text. */
export function jsonNumber(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

/**
 * Element-wise |a - e| <= atol + rtol * |e|. Infinities must match exactly (sign included);
 * NaN never passes, so a canary that leaked into the output is always a mismatch.
 */
export function allclose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance): NumericsReport {
  if (actual.length !== expected.length) {
    throw new Error(`allclose: ${actual.length} actual values against ${expected.length} expected`);
  }
  let mismatches = 0;
  let maxAbsError = 0;
  let maxRelError = 0;
  let maxExpected = 0;
  let worstIndex = -1;
  let worstScore = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    let abs: number;
    let ok: boolean;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      abs = Infinity;
      ok = false;
    } else if (!Number.isFinite(a) || !Number.isFinite(e)) {
      ok = a === e;
      abs = ok ? 0 : Infinity;
    } else {
      abs = Math.abs(a - e);
      ok = abs <= tolerance.atol + tolerance.rtol * Math.abs(e);
    }
    if (Number.isFinite(e)) maxExpected = Math.max(maxExpected, Math.abs(e));
    const rel = abs === 0 ? 0 : e === 0 ? Infinity : abs / Math.abs(e);
    if (!ok) mismatches++;
    maxAbsError = Math.max(maxAbsError, abs);
    if (Number.isFinite(abs)) maxRelError = Math.max(maxRelError, rel);
    else maxRelError = Infinity;
    const score = Number.isFinite(abs) ? abs / (tolerance.atol + tolerance.rtol * Math.abs(e) || Number.MIN_VALUE) : Infinity;
    if (score > worstScore) {
      worstScore = score;
      worstIndex = i;
    }
  }
  return {
    passed: mismatches === 0,
    checked: actual.length,
    mismatches,
    maxAbsError: maxAbsError,
    maxRelError: maxRelError,
    normRelError: maxAbsError === 0 ? 0 : maxExpected === 0 ? Infinity : maxAbsError / maxExpected,
    worstIndex,
    worstActual: worstIndex >= 0 ? jsonNumber(actual[worstIndex] as number) : 0,
    worstExpected: worstIndex >= 0 ? jsonNumber(expected[worstIndex] as number) : 0,
    tolerance,
  };
}

/** Unit roundoff of a storage type. */
export const EPSILON = { f32: 2 ** -24, f16: 2 ** -11 } as const;

/**
 * Tolerance for a result of `length`-term f32 accumulation stored as `dtype`, with terms of magnitude
 * up to `scale`: one rounding of the stored output plus an accumulation error bounded by n terms.
 */
export function reductionTolerance(dtype: 'f32' | 'f16', length: number, scale = 1): Tolerance {
  const n = Math.max(1, length);
  return { atol: 4 * EPSILON.f32 * n * scale + EPSILON[dtype] * scale, rtol: 2 * EPSILON[dtype] + 8 * EPSILON.f32 * Math.sqrt(n) };
}
