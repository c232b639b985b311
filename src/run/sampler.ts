import { Bench } from 'tinybench';
import type { PreparedCase } from '../gpu/executor.js';
import { MAX_STAGE_REPEATS, WHOLE_CASE, type GpuTimer, type TimedSeries, type TimingMode } from '../gpu/timing.js';
import { shouldStop, StopRule, type StopReason, type StoppingRule } from '../measure/stopping.js';

export interface SamplerOptions {
  mode: TimingMode;
  rule: StoppingRule;
  /** Batch mode sizes N so that one sample lasts about this long: far above the timer's resolution. */
  targetSampleMs: number;
  warmupSamples: number;
  /**
   * At most this long warming up (a budgeted visit): fewer warm-up samples where one sample is long, none where
   * one would not fit (the probes that sized N ran the case already).
   */
  warmupBudgetMs?: number;
}

/** Warm-up samples that fit `budgetMs` at `sampleMs` each, at most `wanted`; all of them without a budget. */
export function warmupWithin(wanted: number, sampleMs: number, budgetMs: number | undefined): number {
  if (budgetMs === undefined || !(sampleMs > 0)) return wanted;
  return Math.min(wanted, Math.floor(budgetMs / sampleMs));
}

export interface SamplingResult {
  /** Per-repeat GPU time of each sample (timestamp queries), or per-repeat wall time where there are none. */
  samplesMs: number[];
  /** Submit-to-done host time of each sample's whole submission. */
  wallSamplesMs: number[];
  timer: 'timestamp' | 'wall';
  /** Dispatch repeats per sample (1 in cold mode). */
  repeats: number;
  stopReason: StopReason;
  elapsedMs: number;
}

const MAX_REPEATS = 100_000;

/** Repeats that make one batch sample last about `targetMs`, from a measured per-repeat time. */
export function repeatsFor(perRepeatMs: number, targetMs: number): number {
  if (!(perRepeatMs > 0)) return MAX_REPEATS;
  return Math.min(MAX_REPEATS, Math.max(1, Math.ceil(targetMs / perRepeatMs)));
}

export async function chooseRepeats(
  timer: GpuTimer,
  prepared: PreparedCase,
  targetMs: number,
  series: TimedSeries = WHOLE_CASE,
): Promise<{ repeats: number; sampleMs: number }> {
  // A stage timed in its pipeline runs the whole pipeline each repeat, one pass per repeat: size N from the
  // submission's wall time, within what the query set holds. The pass probe likewise.
  const passPerRepeat = series.kind === 'pass-probe' || (series.kind === 'stage' && timer.stagePlacement === 'in-pipeline');
  let repeats = 1;
  let perRepeat = 0;
  // Two probes: the first run of a pipeline pays one-time costs that would undersize N. A first probe far past
  // the target already says N = 1, whatever those costs were.
  for (let probe = 0; probe < 2; probe++) {
    const sample = await timer.sample(prepared, 'batch', repeats, series);
    perRepeat = passPerRepeat ? sample.wallMs / repeats : (sample.gpuMs ?? sample.wallMs / repeats);
    repeats = repeatsFor(perRepeat, targetMs);
    if (probe === 0 && perRepeat >= SURELY_ONE_REPEAT * targetMs) break;
  }
  return { repeats: passPerRepeat ? Math.min(repeats, MAX_STAGE_REPEATS) : repeats, sampleMs: perRepeat * repeats };
}

/** A first probe this many targets long needs no second one: N is 1 either way. */
const SURELY_ONE_REPEAT = 4;

/**
 * Samples one prepared case with tinybench driving warm-up and the loop; each task iteration reports
 * the GPU time (overriddenDuration), and our stopping rule ends the loop through its abort signal.
 */
export async function sampleCase(timer: GpuTimer, prepared: PreparedCase, options: SamplerOptions): Promise<SamplingResult> {
  // End to end, a case with a host tail or step timing is sampled one step per submission, by its wall time.
  const stepWall = prepared.spec.hostTail !== undefined || prepared.spec.stepTiming === 'wall';
  const sized =
    options.mode === 'batch' && !stepWall ? await chooseRepeats(timer, prepared, options.targetSampleMs) : { repeats: 1, sampleMs: 0 };
  const repeats = sized.repeats;
  const samplesMs: number[] = [];
  const wallSamplesMs: number[] = [];
  const rule = new StopRule(options.rule);
  const warmup = warmupWithin(options.warmupSamples, sized.sampleMs, options.warmupBudgetMs);
  const { stopReason, elapsedMs } = await driveSampling(options.rule, warmup, async (recording) => {
    const sample = await timer.sample(prepared, options.mode, repeats);
    const perRepeatMs = stepWall ? sample.wallMs : (sample.gpuMs ?? sample.wallMs / repeats);
    let stop: StopReason | null = null;
    if (recording.active()) {
      samplesMs.push(perRepeatMs);
      wallSamplesMs.push(sample.wallMs);
      stop = rule.check({ samples: samplesMs, elapsedMs: recording.elapsedMs() });
    }
    return { durationMs: perRepeatMs, stop };
  });
  return { samplesMs, wallSamplesMs, timer: timer.hasTimestamps && !stepWall ? 'timestamp' : 'wall', repeats, stopReason, elapsedMs };
}

/** What a sampling iteration sees: whether its sample counts (past warm-up, not stopped) and the time since. */
interface Recording {
  active(): boolean;
  elapsedMs(): number;
}

/**
 * tinybench drives warm-up and the loop: each iteration takes a sample and reports its duration
 * (overriddenDuration); when it returns a stop reason, our stopping rule ends the loop through the abort
 * signal (tinybench's own limits only bound it from above).
 */
async function driveSampling(
  rule: StoppingRule,
  warmupSamples: number,
  iteration: (recording: Recording) => Promise<{ durationMs: number; stop: StopReason | null }>,
): Promise<{ stopReason: StopReason; elapsedMs: number }> {
  const controller = new AbortController();
  let running = false;
  let started = 0;
  let stopReason: StopReason = 'max-samples';
  const recording: Recording = { active: () => running && !controller.signal.aborted, elapsedMs: () => performance.now() - started };
  const bench = new Bench({
    time: rule.timeoutMs * 2,
    iterations: rule.maxSamples + 1,
    warmup: warmupSamples > 0,
    warmupIterations: warmupSamples,
    warmupTime: 0,
    signal: controller.signal,
    throws: true,
    setup: (_task, mode) => {
      running = mode !== 'warmup';
      if (running) started = performance.now();
    },
  });
  bench.add('sample', async () => {
    const { durationMs, stop } = await iteration(recording);
    if (stop) {
      stopReason = stop;
      controller.abort();
    }
    return { overriddenDuration: durationMs };
  });
  await bench.run();
  return { stopReason, elapsedMs: performance.now() - started };
}

export interface RoundsOptions {
  mode: TimingMode;
  rule: StoppingRule;
  targetSampleMs: number;
  warmupSamples: number;
  /** At most this long warming up (SamplerOptions.warmupBudgetMs), in whole rounds. */
  warmupBudgetMs?: number;
  /** What each series times: the whole case in one pass, one stage in its pipeline, or the pass probe. */
  series: readonly TimedSeries[];
}

export interface RoundsResult {
  /** Per series, one per-repeat GPU time per round (index i of every series: the same round). */
  samplesMs: number[][];
  repeats: number[];
  stopReason: StopReason;
  elapsedMs: number;
}

/**
 * Samples several series of one prepared case in rounds, one sample of each per round, starting each round
 * at the next series: the whole case and each of its stages see the same moments of a machine whose speed
 * drifts (a shared CPU swings by 2x within seconds), so their differences are paired, not confounded by when
 * each was timed. tinybench drives the rounds; sampling stops when every series meets the rule.
 */
export async function sampleRounds(timer: GpuTimer, prepared: PreparedCase, options: RoundsOptions): Promise<RoundsResult> {
  const repeats: number[] = [];
  let roundMs = 0;
  for (const series of options.series) {
    const sized =
      options.mode === 'batch' || series.kind === 'pass-probe'
        ? await chooseRepeats(timer, prepared, options.targetSampleMs, series)
        : { repeats: 1, sampleMs: 0 };
    repeats.push(sized.repeats);
    roundMs += sized.sampleMs;
  }
  const samplesMs: number[][] = options.series.map(() => []);
  const rules = options.series.map(() => new StopRule(options.rule));
  let round = 0;
  const warmup = warmupWithin(options.warmupSamples, roundMs, options.warmupBudgetMs);
  const { stopReason, elapsedMs } = await driveSampling(options.rule, warmup, async (recording) => {
    const n = options.series.length;
    const taken: number[] = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const s = (round + k) % n;
      const sample = await timer.sample(prepared, options.mode, repeats[s] as number, options.series[s]);
      taken[s] = sample.gpuMs ?? sample.wallMs / (repeats[s] as number);
    }
    round++;
    let stop: StopReason | null = null;
    if (recording.active()) {
      taken.forEach((ms, s) => samplesMs[s]!.push(ms));
      const elapsedMs = recording.elapsedMs();
      // The full-bootstrap confirmations only once every series passes the cheap check.
      const cheap = samplesMs.map((samples) => shouldStop(options.rule, { samples, elapsedMs }));
      const reasons = cheap.every((r) => r !== null)
        ? samplesMs.map((samples, s) => (rules[s] as StopRule).check({ samples, elapsedMs }))
        : cheap;
      if (reasons.every((r) => r !== null)) stop = reasons.find((r) => r !== 'converged') ?? 'converged';
    }
    return { durationMs: taken.reduce((a, b) => a + b, 0), stop };
  });
  return { samplesMs, repeats, stopReason, elapsedMs };
}
