import type { Ceilings } from '../measure/rates.js';
import { summarize } from '../measure/statistics.js';
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
  /** The paired end to end (sampled in the same rounds as the stages) where the file has it, else the case's. */
  endToEndMs: number;
  /** Relative 95% CI half-width of endToEndMs. */
  endToEndRelCi95: number;
  /**
   * End to end minus the sum of the stages: negative when the stages overlap in one pass. Paired: the median
   * of the per-round differences; else the difference of the medians.
   */
  gapMs: number;
  /**
   * 95% uncertainty of the gap. Paired: the half-width of the bootstrap CI of the median per-round difference;
   * else the CI half-widths of the end-to-end and stage medians, added in quadrature.
   */
  gapUncertaintyMs: number;
  /** Whether end to end and the stages were sampled in the same rounds (files from before: no). */
  paired: boolean;
  /** One calibrated dispatch overhead per dispatch of a repeat: the gap expected from timing stages apart. */
  overheadAllowanceMs: number | null;
  /**
   * The pass probe's median (a minimal dispatch in its own timestamped pass, same rounds): the floor of any
   * stage's time here, so a stage near it is mostly pass overhead. Null without a probe (older files, stages
   * timed alone).
   */
  passFloorMs: number | null;
  /** |gap| within the allowance, up to the gap's own uncertainty (null where the run calibrated no dispatch overhead, or end to end is wall time). */
  withinOverhead: boolean | null;
  /**
   * 'wall' where end to end is submit-to-done host time (cases timed by wall clock, e.g. MoE's host loop, whose
   * step spans a readback): then it includes host work the GPU-timed stages do not, and the gap is not overhead.
   */
  endToEndTimer: 'timestamp' | 'wall';
  /** Where the stages were timed: inside the pipeline, or alone (files from before, adapters without timestamps). */
  placement: 'in-pipeline' | 'alone';
}

export function stageBreakdown(measurement: OkMeasurement, ceilings: Ceilings): StageBreakdown | null {
  const stages = measurement.stages;
  if (!stages?.length) return null;
  const sumMs = stages.reduce((sum, s) => sum + s.gpu.median, 0);
  const paired = measurement.stagesEndToEnd;
  // The paired end to end is GPU-timed even where the case's own step is wall time (MoE); older files lack its timer.
  const endToEndTimer = paired ? (paired.timer ?? measurement.timing.timer) : measurement.timing.timer;
  const overheadAllowanceMs = ceilings.dispatchUs === null || endToEndTimer === 'wall' ? null : (ceilings.dispatchUs * measurement.timing.dispatches) / 1e3;
  const halfWidth = (ci: { lo: number; hi: number }): number => (ci.hi - ci.lo) / 2;
  const gaps = pairedGaps(measurement);
  let endToEndMs: number, endToEndRelCi95: number, gapMs: number, gapUncertaintyMs: number;
  if (gaps && measurement.stagesEndToEnd) {
    const gap = summarize(gaps);
    ({ median: endToEndMs, relCi95: endToEndRelCi95 } = measurement.stagesEndToEnd.gpu);
    gapMs = gap.median;
    gapUncertaintyMs = halfWidth(gap.ci95);
  } else {
    ({ median: endToEndMs, relCi95: endToEndRelCi95 } = measurement.timing.gpu);
    gapMs = endToEndMs - sumMs;
    gapUncertaintyMs = Math.sqrt([measurement.timing.gpu.ci95, ...stages.map((s) => s.gpu.ci95)].reduce((sum, ci) => sum + halfWidth(ci) ** 2, 0));
  }
  return {
    rows: stages.map((stage) => ({ stage, share: sumMs > 0 ? stage.gpu.median / sumMs : 0 })),
    sumMs,
    endToEndMs,
    endToEndRelCi95,
    gapMs,
    gapUncertaintyMs,
    paired: gaps !== null,
    overheadAllowanceMs,
    passFloorMs: measurement.stagePassProbe?.gpu.median ?? null,
    withinOverhead: overheadAllowanceMs === null ? null : Math.abs(gapMs) - gapUncertaintyMs <= overheadAllowanceMs,
    endToEndTimer,
    placement: measurement.stagePlacement ?? 'alone',
  };
}

/** Per round, end to end minus the sum of the stages; null unless every series has one sample per round. */
export function pairedGaps(measurement: OkMeasurement): number[] | null {
  const e2e = measurement.stagesEndToEnd?.samplesMs;
  const stages = measurement.stages ?? [];
  if (!e2e?.length || !stages.length || stages.some((s) => s.samplesMs.length !== e2e.length)) return null;
  return e2e.map((ms, i) => stages.reduce((rest, s) => rest - (s.samplesMs[i] as number), ms));
}
