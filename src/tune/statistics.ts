import { bootstrapMedianCI } from '../measure/statistics.js';

/**
 * Paired comparisons of two configurations: samples taken in rounds, one of each per round in alternating order,
 * so each round's ratio sees one moment of a machine whose speed drifts (a shared VM moves 10-30% over minutes).
 * The estimate is the median per-round log ratio, its CI the percentile bootstrap of that median.
 */

/** Speed-up of a challenger over a reference: reference time / challenger time (above 1: the challenger is faster). */
export interface Speedup {
  speedup: number;
  /** 95% bootstrap CI of the speed-up. */
  lo: number;
  hi: number;
  /** Paired rounds behind it. */
  rounds: number;
}

/** Per round: ln(reference / challenger). */
export function pairedLogRatios(referenceMs: readonly number[], challengerMs: readonly number[]): number[] {
  if (referenceMs.length !== challengerMs.length)
    throw new Error(`paired samples differ in count: ${referenceMs.length} and ${challengerMs.length}`);
  return referenceMs.map((reference, i) => Math.log(reference / (challengerMs[i] as number)));
}

export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The speed-up of the median paired round and its 95% CI (deterministic: a fixed bootstrap seed). */
export function pairedSpeedup(referenceMs: readonly number[], challengerMs: readonly number[]): Speedup {
  const logs = pairedLogRatios(referenceMs, challengerMs);
  if (logs.length === 0) throw new Error('no paired rounds');
  const ci = bootstrapMedianCI(logs, { resamples: 1000 });
  return { speedup: Math.exp(medianOf(logs)), lo: Math.exp(ci.lo), hi: Math.exp(ci.hi), rounds: logs.length };
}

/** A challenger is faster when its whole CI is above 1; slower when below; else not distinguishable. */
export type PairedVerdict = 'faster' | 'slower' | 'same';

export function verdictOf(estimate: Pick<Speedup, 'lo' | 'hi'>): PairedVerdict {
  if (estimate.lo > 1) return 'faster';
  if (estimate.hi < 1) return 'slower';
  return 'same';
}

/** The CI is narrow enough to decide: it excludes 1, or its half-width is within `tolerance` (relative). */
export function decided(estimate: Pick<Speedup, 'speedup' | 'lo' | 'hi'>, tolerance: number): boolean {
  return verdictOf(estimate) !== 'same' || (estimate.hi - estimate.lo) / 2 <= tolerance * estimate.speedup;
}
