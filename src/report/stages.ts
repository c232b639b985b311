import type { Ceilings } from '../measure/rates.js';
import type { OkMeasurement, StageTiming } from '../results/schema.js';

export interface StageRow {
  stage: StageTiming;
  /** Share of the summed stage medians. */
  share: number;
}

/** A multi-stage case's stage times beside its end-to-end time, and what the gap should be at most. */
export interface StageBreakdown {
  rows: StageRow[];
  sumMs: number;
  endToEndMs: number;
  /** End to end minus the sum of the stages: negative when the stages overlap in one pass. */
  gapMs: number;
  /** 95% uncertainty of the gap: the CI half-widths of the end-to-end and stage medians, added in quadrature. */
  gapUncertaintyMs: number;
  /** One calibrated dispatch overhead per dispatch of a repeat: the gap expected from timing stages apart. */
  overheadAllowanceMs: number | null;
  /** |gap| within the allowance, up to the gap's own uncertainty (null where the run calibrated no dispatch overhead, or end to end is wall time). */
  withinOverhead: boolean | null;
  /**
   * 'wall' where end to end is submit-to-done host time (cases timed by wall clock, e.g. MoE's host loop, whose
   * step spans a readback): then it includes host work the GPU-timed stages do not, and the gap is not overhead.
   */
  endToEndTimer: 'timestamp' | 'wall';
}

export function stageBreakdown(measurement: OkMeasurement, ceilings: Ceilings): StageBreakdown | null {
  const stages = measurement.stages;
  if (!stages?.length) return null;
  const sumMs = stages.reduce((sum, s) => sum + s.gpu.median, 0);
  const endToEndMs = measurement.timing.gpu.median;
  const gapMs = endToEndMs - sumMs;
  const endToEndTimer = measurement.timing.timer;
  const overheadAllowanceMs = ceilings.dispatchUs === null || endToEndTimer === 'wall' ? null : (ceilings.dispatchUs * measurement.timing.dispatches) / 1e3;
  const halfWidth = (ci: { lo: number; hi: number }): number => (ci.hi - ci.lo) / 2;
  const gapUncertaintyMs = Math.sqrt([measurement.timing.gpu.ci95, ...stages.map((s) => s.gpu.ci95)].reduce((sum, ci) => sum + halfWidth(ci) ** 2, 0));
  return {
    rows: stages.map((stage) => ({ stage, share: sumMs > 0 ? stage.gpu.median / sumMs : 0 })),
    sumMs,
    endToEndMs,
    gapMs,
    gapUncertaintyMs,
    overheadAllowanceMs,
    withinOverhead: overheadAllowanceMs === null ? null : Math.abs(gapMs) - gapUncertaintyMs <= overheadAllowanceMs,
    endToEndTimer,
  };
}
