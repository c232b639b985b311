import type { Ceilings } from '../measure/rates.js';
import { summarize } from '../measure/statistics.js';
import { isStaged, type OkMeasurement, type StageTiming } from '../results/schema.js';

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
  /** Whether end to end and the stages were sampled in the same rounds (not with a host tail, nor in files from before). */
  paired: boolean;
  /**
   * How far the gap may go each way from timing the stages apart (null where the run calibrated no dispatch
   * overhead, or end to end is wall time). Either way one calibrated dispatch overhead per dispatch of a repeat;
   * the stages may also sum above end to end by what a pass adds to its dispatch (pass probe - dispatch
   * overhead) once per stage, since each stage is timed in its own pass where end to end is one.
   */
  allowance: GapAllowance | null;
  /**
   * The pass probe's median (a minimal dispatch in its own timestamped pass, same rounds): the floor of any
   * stage's time here, so a stage near it is mostly pass overhead. Null without a probe (stages timed alone).
   */
  passFloorMs: number | null;
  /** The gap within the allowance, up to the gap's own uncertainty (null without an allowance). */
  withinOverhead: boolean | null;
  /**
   * 'wall' where end to end is submit-to-done host time (cases timed by wall clock, e.g. MoE's host loop, whose
   * step spans a readback): then it includes host work the GPU-timed stages do not, and the gap is not overhead.
   */
  endToEndTimer: 'timestamp' | 'wall';
  /** Where the stages were timed: inside the pipeline, or alone (adapters without timestamps, files from before). */
  placement: 'in-pipeline' | 'alone';
}

export interface GapAllowance {
  /** End to end may exceed the sum of the stages by this much: dispatch overhead x dispatches. */
  endToEndAboveMs: number;
  /** The stages may sum above end to end by this much: the above plus (pass probe - dispatch overhead) x stages. */
  stagesAboveMs: number;
  /** The per-stage pass term in stagesAboveMs: (pass probe - dispatch overhead), at least 0; null without a probe. */
  passExtraPerStageMs: number | null;
}

/**
 * The gap timing stages apart may open. Inside one pass a dispatch costs the calibrated dispatch overhead;
 * a stage timed in its own pass pays its pass's fixed cost too, measured by the pass probe, which end to end
 * pays once. How much of it a stage shows depends on the stage (the two-stage decodes show none of it on
 * lavapipe, the five-stage absorbed MLA most of it), so it widens one side of the allowance and is not
 * subtracted.
 */
export function gapAllowance(dispatchUs: number, dispatches: number, stages: number, passFloorMs: number | null): GapAllowance {
  const endToEndAboveMs = (dispatchUs * dispatches) / 1e3;
  const passExtraPerStageMs = passFloorMs === null ? null : Math.max(0, passFloorMs - dispatchUs / 1e3);
  return { endToEndAboveMs, stagesAboveMs: endToEndAboveMs + (passExtraPerStageMs ?? 0) * stages, passExtraPerStageMs };
}

export function stageBreakdown(measurement: OkMeasurement, ceilings: Ceilings): StageBreakdown | null {
  if (!isStaged(measurement)) return null;
  const { stages } = measurement;
  const sumMs = stages.reduce((sum, s) => sum + s.gpu.median, 0);
  const paired = measurement.stagesEndToEnd;
  // The paired end to end is GPU-timed even where the case's own step is wall time (MoE).
  const endToEndTimer = paired ? paired.timer : measurement.timing.timer;
  const passFloorMs = measurement.stagePassProbe?.gpu.median ?? null;
  const allowance =
    ceilings.dispatchUs === null || endToEndTimer === 'wall'
      ? null
      : gapAllowance(ceilings.dispatchUs, measurement.timing.dispatches, stages.length, passFloorMs);
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
    gapUncertaintyMs = Math.sqrt(
      [measurement.timing.gpu.ci95, ...stages.map((s) => s.gpu.ci95)].reduce((sum, ci) => sum + halfWidth(ci) ** 2, 0),
    );
  }
  return {
    rows: stages.map((stage) => ({ stage, share: sumMs > 0 ? stage.gpu.median / sumMs : 0 })),
    sumMs,
    endToEndMs,
    endToEndRelCi95,
    gapMs,
    gapUncertaintyMs,
    paired: gaps !== null,
    allowance,
    passFloorMs,
    withinOverhead:
      allowance === null
        ? null
        : gapMs + gapUncertaintyMs >= -allowance.stagesAboveMs && gapMs - gapUncertaintyMs <= allowance.endToEndAboveMs,
    endToEndTimer,
    placement: measurement.stagePlacement,
  };
}

/** Per round, end to end minus the sum of the stages; null unless every series has one sample per round. */
export function pairedGaps(measurement: OkMeasurement): number[] | null {
  const e2e = measurement.stagesEndToEnd?.samplesMs;
  const stages = measurement.stages ?? [];
  if (!e2e?.length || !stages.length || stages.some((s) => s.samplesMs.length !== e2e.length)) return null;
  return e2e.map((ms, i) => stages.reduce((rest, s) => rest - (s.samplesMs[i] as number), ms));
}

/** One stage's time in one case minus its time in another. */
export interface StageDelta {
  stage: string;
  deltaMs: number;
}

/**
 * Where the time goes between two cases of the same work (absorbed MLA against MHA, say): per stage name,
 * a's stage median minus b's, a stage only one of them has counting in full; a's stages first, in order.
 * Null unless both were timed stage by stage.
 */
export function stageDeltas(a: OkMeasurement, b: OkMeasurement): StageDelta[] | null {
  if (!isStaged(a) || !isStaged(b)) return null;
  const median = (m: OkMeasurement, name: string): number => m.stages?.find((s) => s.name === name)?.gpu.median ?? 0;
  const names = [...new Set([...a.stages.map((s) => s.name), ...b.stages.map((s) => s.name)])];
  return names.map((stage) => ({ stage, deltaMs: median(a, stage) - median(b, stage) }));
}

/**
 * The stages that decide why a takes longer than b: the largest increases first, until they make up `share` of
 * all the stages' increases, at most `limit` of them.
 */
export function decidingStages(deltas: readonly StageDelta[], share = 0.75, limit = 2): StageDelta[] {
  const increases = deltas.filter((d) => d.deltaMs > 0).sort((x, y) => y.deltaMs - x.deltaMs);
  const total = increases.reduce((sum, d) => sum + d.deltaMs, 0);
  const out: StageDelta[] = [];
  let covered = 0;
  for (const d of increases) {
    if (out.length >= limit || covered >= share * total) break;
    out.push(d);
    covered += d.deltaMs;
  }
  return out;
}
