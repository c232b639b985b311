import { arithmeticOf, computeRates, type Ceilings } from '../measure/rates.js';
import { summarize } from '../measure/statistics.js';
import type { StopReason, StoppingRule } from '../measure/stopping.js';
import type { OkMeasurement, PassProbe, StageTiming } from './schema.js';

/**
 * Each case is sampled in `visits` short visits spread over the run (every case's first visit, then every
 * case's second, ...), as Google Benchmark's random interleaving does: a machine whose speed drifts over
 * minutes (a shared VM: 10-30 %) then shows in every case's samples instead of deciding, by when a case
 * happened to run, whether it reads fast or slow. One visit gets a `visits`-th of the case's budget.
 */
export function visitRule(rule: StoppingRule, visits: number): StoppingRule {
  if (visits <= 1) return rule;
  return {
    minSamples: Math.ceil(rule.minSamples / visits),
    maxSamples: Math.ceil(rule.maxSamples / visits),
    maxRelNoise: rule.maxRelNoise,
    minTimeMs: rule.minTimeMs / visits,
    timeoutMs: rule.timeoutMs / visits,
  };
}

/** How many visits a measurement pools (files from before visits: one). */
export function visitsOf(measurement: OkMeasurement): number {
  return measurement.timing.visits ?? 1;
}

/** The least settled of two stop reasons: a visit that ran out of time makes the pool's reason timeout. */
function worseStop(a: StopReason, b: StopReason): StopReason {
  const order: StopReason[] = ['converged', 'max-samples', 'timeout'];
  return order[Math.max(order.indexOf(a), order.indexOf(b))] as StopReason;
}

/**
 * A case's earlier visits pooled with one more: samples concatenated (per-repeat times, so visits with
 * different repeat counts pool), statistics and rates recomputed. Stage rounds stay paired: every visit adds
 * the same number of rounds to each series. The first visit's numerics, transfers, compile times and
 * memory stand for the case (later visits run the same inputs without checking them again).
 */
export function poolVisits(pooled: OkMeasurement, visit: OkMeasurement, ceilings: Ceilings): OkMeasurement {
  const samplesMs = [...pooled.timing.samplesMs, ...visit.timing.samplesMs];
  const wallSamplesMs = [...pooled.timing.wallSamplesMs, ...visit.timing.wallSamplesMs];
  const gpu = summarize(samplesMs);
  const arithmetic = arithmeticOf(pooled.ceiling);
  const stages = poolStages(pooled.stages, visit.stages, (stage, samples) => ({
    ...stage,
    stopReason: worseStop(stage.stopReason, visit.stages?.find((s) => s.name === stage.name)?.stopReason ?? stage.stopReason),
    gpu: summarize(samples),
    rates: computeRates(stage.work, summarize(samples).median, arithmetic, ceilings, stage.dispatches),
    samplesMs: samples,
  }));
  const pooledSeries = <T extends PassProbe>(a: T | undefined, b: T | undefined): T | undefined => {
    if (!a || !b) return undefined;
    const samples = [...a.samplesMs, ...b.samplesMs];
    return { ...a, gpu: summarize(samples), samplesMs: samples };
  };
  const stagesEndToEnd = pooledSeries(pooled.stagesEndToEnd, visit.stagesEndToEnd);
  const stagePassProbe = pooledSeries(pooled.stagePassProbe, visit.stagePassProbe);
  const { stages: _s, stagesEndToEnd: _e, stagePassProbe: _p, ...rest } = pooled;
  return {
    ...rest,
    timing: {
      ...pooled.timing,
      stopReason: worseStop(pooled.timing.stopReason, visit.timing.stopReason),
      elapsedMs: pooled.timing.elapsedMs + visit.timing.elapsedMs,
      gpu,
      wall: summarize(wallSamplesMs),
      samplesMs,
      wallSamplesMs,
      visits: visitsOf(pooled) + 1,
      visitMediansMs: [...(pooled.timing.visitMediansMs ?? [pooled.timing.gpu.median]), visit.timing.gpu.median],
    },
    rates: computeRates(pooled.work, gpu.median, arithmetic, ceilings, pooled.timing.dispatches),
    memory: pooled.memory.peakBytes >= visit.memory.peakBytes ? pooled.memory : visit.memory,
    ...(stages && { stages }),
    ...(stagesEndToEnd && { stagesEndToEnd }),
    ...(stagePassProbe && { stagePassProbe }),
  };
}

/** Stage series pooled by name; where the two visits do not time the same stages, the first visit's stand. */
function poolStages(
  a: StageTiming[] | undefined,
  b: StageTiming[] | undefined,
  pool: (stage: StageTiming, samples: number[]) => StageTiming,
): StageTiming[] | undefined {
  if (!a) return undefined;
  if (!b || b.length !== a.length || b.some((stage, i) => stage.name !== a[i]?.name)) return a;
  return a.map((stage, i) => pool(stage, [...stage.samplesMs, ...(b[i] as StageTiming).samplesMs]));
}
