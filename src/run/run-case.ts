import { describeErrors, hasErrors, adapterBuildFacts, withErrorScopes, type GpuContext, type ScopedErrors } from '../gpu/device.js';
import { PreparedCase } from '../gpu/executor.js';
import type { TrackedAllocator } from '../gpu/memory.js';
import { PASS_PROBE, WHOLE_CASE, type GpuTimer, type TimedSeries, type TimingMode } from '../gpu/timing.js';
import { seedKey, type KernelFamily } from '../kernels/family.js';
import { caseMisfit } from '../kernels/fit.js';
import { caseWork, casePhases, takeRows, type KernelCase } from '../kernels/spec.js';
import { arithmeticOf, computeRates, type Ceilings } from '../measure/rates.js';
import { sampleCase, sampleRounds } from './sampler.js';
import { summarize } from '../measure/statistics.js';
import { ruleWithin, type StoppingRule } from '../measure/stopping.js';
import { allclose, jsonNumber } from '../reference/allclose.js';
import type { CheckResult, KernelConfig, Measurement, OkMeasurement, PairedEndToEnd, PassProbe, StageTiming } from '../results/schema.js';
import type { CaseTensors, Outputs } from '../results/tensors.js';
import { poolVisits } from '../results/visits.js';
import type { PlannedCase } from '../suites/expand.js';
import type { PlanOverrides } from '../kernels/tunable.js';
import { describePlans, plansProblem } from '../tune/admit.js';

export interface CaseRunOptions {
  mode: TimingMode;
  rule: StoppingRule;
  targetSampleMs: number;
  warmupSamples: number;
  seed: number;
  /** Time each stage of a multi-stage case on its own too (default true). */
  stageTiming?: boolean;
  /** false: stop after the numerics check, recording the case as "checked" (its suite is not timed). */
  timed?: boolean;
  /**
   * A budgeted run's sampling time for this visit: end to end and the stage rounds share it (half each for a
   * multi-stage case, the rounds taking what end to end left), within the rule's own timeouts.
   */
  samplingBudgetMs?: number;
  /**
   * A later visit: the case's measurement so far. The case is prepared and run once again (same inputs, not
   * checked again), sampled under `rule`, and its samples pooled into this measurement (poolVisits).
   */
  previous?: OkMeasurement;
  /** Plans from a tuning file for this case: used where admitted (plansProblem), else the defaults run. */
  tuned?: PlanOverrides;
  /** Why the tuned plans were not used. */
  onTuningRejected?(reason: string): void;
}

export interface GpuSession {
  context: GpuContext;
  allocator: TrackedAllocator;
  timer: GpuTimer;
}

export type { CaseTensors, Outputs };

export interface CheckedCase {
  /** Present once upload succeeded; the caller disposes it. */
  prepared: PreparedCase | undefined;
  outputs: Outputs | undefined;
  checks: CheckResult[];
  errors: ScopedErrors;
  thrown: unknown;
}

/** Uploads and runs a case once inside error scopes, reads every checked output and compares it with its reference. */
export async function prepareAndCheck(context: GpuContext, allocator: TrackedAllocator, kernelCase: KernelCase): Promise<CheckedCase> {
  let prepared: PreparedCase | undefined;
  const scoped = await withErrorScopes(context.device, async () => {
    prepared = await PreparedCase.prepare(context, allocator, kernelCase);
    await prepared.run();
    const outputs: Outputs = new Map();
    for (const check of kernelCase.checks) outputs.set(check.buffer, await prepared.read(check.buffer));
    return outputs;
  });
  const outputs = hasErrors(scoped.errors) ? undefined : scoped.value;
  const checks = outputs
    ? kernelCase.checks.map((check) => {
        const sample = check.sampledRows;
        const exact = allclose(takeRows(outputs.get(check.buffer) ?? [], sample), check.expected(), check.tolerance);
        // Infinity (a NaN that leaked out) would turn into null in the results JSON.
        const report = {
          ...exact,
          maxAbsError: jsonNumber(exact.maxAbsError),
          maxRelError: jsonNumber(exact.maxRelError),
          normRelError: jsonNumber(exact.normRelError),
        };
        if (!sample) return { buffer: check.buffer, ...report };
        // The worst element as an index into the whole output, like an unsampled check's.
        const i = report.worstIndex;
        const worstIndex =
          i < 0 ? i : (sample.rows[Math.floor(i / sample.rowLength)] as number) * sample.rowLength + (i % sample.rowLength);
        return { buffer: check.buffer, ...report, worstIndex, sampledRows: { checked: sample.rows.length, total: sample.total } };
      })
    : [];
  return { prepared, outputs, checks, errors: scoped.errors, thrown: scoped.thrown };
}

/** A stable 32-bit seed per case key, so the same case always sees the same inputs. */
export function caseSeed(baseSeed: number, key: string): number {
  let hash = baseSeed >>> 0 || 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}

type BuildFailure = { status: 'skipped'; reason: string } | { status: 'error'; message: string };

/**
 * The case's declaration, or why it is not run: a skip (by rule, by its family, past the device's limits) or an
 * error. `plans`: plans for some of its tunable slots, taken as given (BuildContext.plans).
 */
export function buildCase(
  context: GpuContext,
  family: KernelFamily,
  planned: PlannedCase,
  seed: number,
  plans?: PlanOverrides,
): { kernelCase: KernelCase } | BuildFailure {
  if (planned.skip) return { status: 'skipped', reason: planned.skip };
  if (context.lostReason) return { status: 'error', message: `device lost: ${context.lostReason}` };
  let built;
  try {
    built = family.build(planned.params, {
      limits: context.limits,
      features: context.features,
      ...adapterBuildFacts(context),
      seed: caseSeed(seed, seedKey(family, planned.suite, planned.key, planned.params)),
      ...(plans && { plans }),
    });
  } catch (error) {
    return { status: 'error', message: `cannot build case: ${errorMessage(error)}` };
  }
  if (built.kind === 'skip') return { status: 'skipped', reason: built.reason };
  const misfit = caseMisfit(built.kernelCase, context);
  if (misfit) return { status: 'skipped', reason: misfit };
  return { kernelCase: built.kernelCase };
}

/** The plans a case runs with, where it has tunable slots. */
function kernelConfigOf(kernelCase: KernelCase, source: KernelConfig['source']): KernelConfig | undefined {
  return kernelCase.tunables?.length ? { source, plans: describePlans(kernelCase) } : undefined;
}

/** The case built with its tuned plans where they are admitted (plansProblem), else with its defaults. */
function buildWithTuning(
  context: GpuContext,
  family: KernelFamily,
  planned: PlannedCase,
  options: Pick<CaseRunOptions, 'seed' | 'tuned' | 'onTuningRejected'>,
): { kernelCase: KernelCase; kernelConfig: KernelConfig | undefined } | BuildFailure {
  if (options.tuned) {
    const tuned = buildCase(context, family, planned, options.seed, options.tuned);
    const problem =
      'kernelCase' in tuned ? plansProblem(tuned.kernelCase, options.tuned) : 'reason' in tuned ? tuned.reason : tuned.message;
    if (problem === null && 'kernelCase' in tuned)
      return { kernelCase: tuned.kernelCase, kernelConfig: kernelConfigOf(tuned.kernelCase, 'tuned') };
    options.onTuningRejected?.(problem ?? 'not built');
  }
  const built = buildCase(context, family, planned, options.seed);
  return 'kernelCase' in built ? { kernelCase: built.kernelCase, kernelConfig: kernelConfigOf(built.kernelCase, 'default') } : built;
}

/**
 * One case end to end: build its declaration, check it fits, prepare it inside error scopes, run it once
 * and check every output against the float64 reference, then sample it until the stopping rule holds.
 */
export async function runCase(
  session: GpuSession,
  family: KernelFamily,
  planned: PlannedCase,
  options: CaseRunOptions,
  ceilings: Ceilings,
  onTensors?: (tensors: CaseTensors) => void,
  /** Runs after timing, with the case still on the device (profile's timeline). */
  afterTiming?: (prepared: PreparedCase, kernelCase: KernelCase) => Promise<void>,
): Promise<Measurement> {
  const base = { key: planned.key, suite: planned.suite, family: family.name, params: planned.params };
  const { context, allocator } = session;
  const built = buildWithTuning(context, family, planned, options);
  if (!('kernelCase' in built)) return { ...base, ...built };
  const { kernelCase, kernelConfig } = built;
  const config = kernelConfig && { kernelConfig };

  if (options.previous) return revisit(session, kernelCase, options, ceilings, options.previous, afterTiming);

  const dtype = kernelCase.stages[0]?.dtype ?? 'f32';
  const work = caseWork(kernelCase);
  allocator.resetPeak();
  let prepared: PreparedCase | undefined;
  try {
    const checked = await prepareAndCheck(context, allocator, kernelCase);
    prepared = checked.prepared;
    if (checked.errors.outOfMemory.length) {
      return { ...base, status: 'skipped', reason: `does not fit in device memory: ${describeErrors(checked.errors)}` };
    }
    if (hasErrors(checked.errors) || checked.thrown || !checked.outputs || !prepared) {
      const message = hasErrors(checked.errors) ? describeErrors(checked.errors) : errorMessage(checked.thrown);
      return { ...base, status: 'error', message };
    }
    onTensors?.({ kernelCase, outputs: checked.outputs });
    const checks = checked.checks;
    const numerics = { passed: checks.every((c) => c.passed), checks };
    if (!numerics.passed) {
      return { ...base, status: 'numerics-failed', dtype, work, memory: allocator.report(), numerics, ...config };
    }
    if (options.timed === false) {
      return {
        ...base,
        status: 'checked',
        dtype,
        work,
        memory: allocator.report(),
        numerics,
        transfers: prepared.transfers,
        compileMs: prepared.compileMs(),
        ...(kernelCase.facts && { facts: kernelCase.facts }),
        ...config,
      };
    }

    const timed = await timeCase(session, prepared, kernelCase, options, ceilings);
    if ('error' in timed) return { ...base, status: 'error', message: timed.error };
    if (afterTiming) await afterTiming(prepared, kernelCase);
    return {
      ...base,
      status: 'ok',
      dtype,
      work,
      ...timed,
      memory: allocator.report(),
      numerics,
      transfers: prepared.transfers,
      compileMs: prepared.compileMs(),
      ...(kernelCase.ceiling && { ceiling: kernelCase.ceiling }),
      ...(kernelCase.facts && { facts: kernelCase.facts }),
      ...config,
    };
  } catch (error) {
    return { ...base, status: 'error', message: errorMessage(error) };
  } finally {
    prepared?.dispose();
  }
}

/** A budgeted visit spends at most this fraction of a sampling loop's share warming up. */
const WARMUP_SHARE = 0.1;

type TimedParts = Pick<OkMeasurement, 'timing' | 'rates' | 'stages' | 'stagePlacement' | 'stagesEndToEnd' | 'stagePassProbe'>;

/** Samples a prepared, checked case end to end, then its stages (timeStages). */
async function timeCase(
  session: GpuSession,
  prepared: PreparedCase,
  kernelCase: KernelCase,
  options: CaseRunOptions,
  ceilings: Ceilings,
): Promise<TimedParts | { error: string }> {
  const { context, timer } = session;
  const staged = options.stageTiming !== false && casePhases(kernelCase).length >= 2;
  const budget = options.samplingBudgetMs;
  const endToEndRule = budget === undefined ? options.rule : ruleWithin(options.rule, staged ? budget / 2 : budget);
  const sampled = await withErrorScopes(context.device, () =>
    sampleCase(timer, prepared, {
      mode: options.mode,
      rule: endToEndRule,
      targetSampleMs: options.targetSampleMs,
      warmupSamples: options.warmupSamples,
      ...(budget !== undefined && { warmupBudgetMs: WARMUP_SHARE * endToEndRule.timeoutMs }),
    }),
  );
  if (hasErrors(sampled.errors) || sampled.thrown || !sampled.value) {
    const message = hasErrors(sampled.errors) ? describeErrors(sampled.errors) : errorMessage(sampled.thrown);
    return { error: `while timing: ${message}` };
  }
  if (context.lostReason) return { error: `device lost: ${context.lostReason}` };
  const sampling = sampled.value;
  const roundsOptions = budget === undefined ? options : { ...options, rule: ruleWithin(options.rule, budget - sampling.elapsedMs) };
  const stages = options.stageTiming === false ? undefined : await timeStages(session, prepared, kernelCase, roundsOptions, ceilings);
  if (stages && 'error' in stages) return { error: stages.error };
  if (context.lostReason) return { error: `device lost: ${context.lostReason}` };
  const gpu = summarize(sampling.samplesMs);
  const wall = summarize(sampling.wallSamplesMs);
  return {
    timing: {
      mode: options.mode,
      timer: sampling.timer,
      repeats: sampling.repeats,
      dispatches: kernelCase.stages.length,
      stopReason: sampling.stopReason,
      elapsedMs: sampling.elapsedMs,
      gpu,
      wall,
      samplesMs: sampling.samplesMs,
      wallSamplesMs: sampling.wallSamplesMs,
    },
    rates: computeRates(caseWork(kernelCase), gpu.median, arithmeticOf(kernelCase.ceiling), ceilings, kernelCase.stages.length),
    ...(stages && { stages: stages.stages, stagePlacement: stages.placement }),
    ...(stages?.endToEnd && { stagesEndToEnd: stages.endToEnd }),
    ...(stages?.passProbe && { stagePassProbe: stages.passProbe }),
  };
}

/** A later visit of a case (CaseRunOptions.previous): prepared and run once, sampled, pooled with the visits before. */
async function revisit(
  session: GpuSession,
  kernelCase: KernelCase,
  options: CaseRunOptions,
  ceilings: Ceilings,
  previous: OkMeasurement,
  afterTiming?: (prepared: PreparedCase, kernelCase: KernelCase) => Promise<void>,
): Promise<Measurement> {
  const { context, allocator } = session;
  const base = { key: previous.key, suite: previous.suite, family: previous.family, params: previous.params };
  allocator.resetPeak();
  let prepared: PreparedCase | undefined;
  try {
    const scoped = await withErrorScopes(context.device, async () => {
      prepared = await PreparedCase.prepare(context, allocator, kernelCase);
      await prepared.run();
    });
    if (hasErrors(scoped.errors) || scoped.thrown || !prepared) {
      return { ...base, status: 'error', message: hasErrors(scoped.errors) ? describeErrors(scoped.errors) : errorMessage(scoped.thrown) };
    }
    const timed = await timeCase(session, prepared, kernelCase, options, ceilings);
    if ('error' in timed) return { ...base, status: 'error', message: timed.error };
    if (afterTiming) await afterTiming(prepared, kernelCase);
    // This visit's own figures only: none of the earlier visits' stage series may ride along into the pool.
    const { stages: _s, stagePlacement: _p, stagesEndToEnd: _e, stagePassProbe: _q, ...earlier } = previous;
    return poolVisits(previous, { ...earlier, ...timed, memory: allocator.report() }, ceilings);
  } catch (error) {
    return { ...base, status: 'error', message: errorMessage(error) };
  } finally {
    prepared?.dispose();
  }
}

/**
 * Each stage of a multi-stage case timed in its own pass inside its pipeline (GpuTimer.sample), in rounds
 * with the whole case in one pass: one sample of each per round, under the case's stopping rule and timeout,
 * so that end to end and the stages see the same moments of the machine. A case with a host tail has no
 * GPU-timed end to end, so its rounds hold the stages only. Single-stage cases have none.
 */
export async function timeStages(
  session: GpuSession,
  prepared: PreparedCase,
  kernelCase: KernelCase,
  options: CaseRunOptions,
  ceilings: Ceilings,
): Promise<StagesTimed | undefined | { error: string }> {
  const phases = casePhases(kernelCase);
  if (phases.length < 2) return undefined;
  // A wall-timed step (MoE's) still gets a GPU-timed end to end beside its stages; a host tail cannot.
  const paired = kernelCase.hostTail === undefined;
  const placement = session.timer.stagePlacement;
  const series: TimedSeries[] = [
    ...(paired ? [WHOLE_CASE] : []),
    ...phases.map((p): TimedSeries => ({ kind: 'stage', dispatches: p.dispatches })),
    // The floor of a stage's time in its own pass, in the same rounds: a stage near it is mostly pass overhead.
    ...(placement === 'in-pipeline' ? [PASS_PROBE] : []),
  ];
  const sampled = await withErrorScopes(session.context.device, () =>
    sampleRounds(session.timer, prepared, {
      mode: options.mode,
      rule: options.rule,
      targetSampleMs: options.targetSampleMs,
      warmupSamples: options.warmupSamples,
      ...(options.samplingBudgetMs !== undefined && { warmupBudgetMs: WARMUP_SHARE * options.rule.timeoutMs }),
      series,
    }),
  );
  if (hasErrors(sampled.errors) || sampled.thrown || !sampled.value) {
    const message = hasErrors(sampled.errors) ? describeErrors(sampled.errors) : errorMessage(sampled.thrown);
    return { error: `while timing the stages: ${message}` };
  }
  const rounds = sampled.value;
  const offset = paired ? 1 : 0;
  const stages = phases.map((phase, i): StageTiming => {
    const samplesMs = rounds.samplesMs[i + offset] as number[];
    const gpu = summarize(samplesMs);
    return {
      name: phase.name,
      dispatches: phase.dispatches.length,
      work: phase.work,
      repeats: rounds.repeats[i + offset] as number,
      stopReason: rounds.stopReason,
      gpu,
      rates: computeRates(phase.work, gpu.median, arithmeticOf(kernelCase.ceiling), ceilings, phase.dispatches.length),
      samplesMs,
    };
  });
  const seriesOf = (index: number): PassProbe => {
    const samplesMs = rounds.samplesMs[index] as number[];
    return { repeats: rounds.repeats[index] as number, gpu: summarize(samplesMs), samplesMs };
  };
  const timed: StagesTimed = { stages, placement };
  if (placement === 'in-pipeline') timed.passProbe = seriesOf(series.length - 1);
  if (paired) timed.endToEnd = { timer: session.timer.hasTimestamps ? 'timestamp' : 'wall', ...seriesOf(0) };
  return timed;
}

interface StagesTimed {
  stages: StageTiming[];
  placement: 'in-pipeline' | 'alone';
  endToEnd?: PairedEndToEnd;
  passProbe?: PassProbe;
}
