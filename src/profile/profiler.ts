import { writeFileSync } from 'node:fs';
import { UserError } from '../errors.js';
import { describeErrors, hasErrors, openGpu, adapterBuildFacts, type GpuContext, type GpuOptions } from '../gpu/device.js';
import type { PreparedCase } from '../gpu/executor.js';
import { TrackedAllocator } from '../gpu/memory.js';
import { GpuTimer, type TimingMode } from '../gpu/timing.js';
import { paramsProblem } from '../kernels/params.js';
import { caseMisfit } from '../kernels/fit.js';
import { kernelFamily } from '../kernels/registry.js';
import { caseWork, type KernelCase } from '../kernels/spec.js';
import { NO_CEILINGS, type Ceilings } from '../measure/rates.js';
import type { StoppingRule } from '../measure/stopping.js';
import { stageBreakdown, type StageBreakdown } from '../report/stages.js';
import { environmentOf } from '../results/fingerprint.js';
import type { Environment, Measurement } from '../results/schema.js';
import { ceilingsOf } from '../results/assemble.js';
import { resolveProfile, type RequestedProfile } from '../run/runner.js';
import { caseSeed, prepareAndCheck, runCase, type GpuSession } from '../run/run-case.js';
import { caseKey, expandSuite, parseAxisOverride, parseAxisToken, skipReason, type PlannedCase } from '../suites/expand.js';
import { CALIBRATION_SUITE, loadSuite, planSuite } from '../suites/registry.js';
import { hasOwnKey, type SuiteFile } from '../suites/schema.js';
import { recordTimeline, type Timeline } from '../gpu/timeline.js';
import { buildTrace, type HostPhase, type MemorySample } from './trace.js';

export interface ProfileOptions {
  suite: string;
  overrides: string[];
  filter?: string;
  dtypes?: ('f32' | 'f16')[];
  /** A case key, `suite/axis=value,...` (the suite prefix may be left out). */
  caseKey?: string;
  profile: RequestedProfile;
  gpu: GpuOptions;
  mode: TimingMode;
  rule: StoppingRule;
  targetSampleMs: number;
  warmupSamples: number;
  seed: number;
  /** Measure the device's ceilings first (the % of ceiling and the dispatch-overhead allowance need them). */
  calibrate: boolean;
  /** Iterations of the per-stage timeline (each stage in its own timestamped pass). */
  timelineIterations: number;
  trace?: string;
}

export interface ProfiledCase {
  kind: 'profile';
  environment: Environment;
  ceilings: Ceilings;
  measurement: Measurement;
  breakdown: StageBreakdown | null;
  timeline: Timeline | null;
  tracePath: string | null;
}

export interface CapturedCase {
  key: string;
  status: 'ok' | 'skipped' | 'numerics-failed' | 'error';
  detail: string;
  dispatches: number;
  flops: number;
  bytes: number;
  compileMs: Record<string, number>;
  uploadBytes: number;
  readbackBytes: number;
}

export interface CaptureOutcome {
  kind: 'capture';
  environment: Environment;
  cases: CapturedCase[];
}

/** A `--case` key back into params: the suite must match and the axes must be exactly the suite's. */
export function paramsOfKey(suite: SuiteFile, key: string): PlannedCase {
  const slash = key.indexOf('/');
  const suiteName = slash >= 0 ? key.slice(0, slash) : suite.name;
  if (suiteName !== suite.name) throw new UserError(`--case ${key}: the key is of suite "${suiteName}", not "${suite.name}"`);
  const body = slash >= 0 ? key.slice(slash + 1) : key;
  const params: Record<string, string | number> = {};
  for (const pair of body.split(',').filter(Boolean)) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UserError(`--case ${key}: "${pair}" is not axis=value`);
    const axis = pair.slice(0, equals);
    if (!hasOwnKey(suite.axes, axis))
      throw new UserError(`--case ${key}: suite ${suite.name} has no axis "${axis}"; its axes: ${Object.keys(suite.axes).join(', ')}`);
    params[axis] = parseAxisToken(pair.slice(equals + 1));
  }
  const missing = Object.keys(suite.axes).filter((axis) => !hasOwnKey(params, axis));
  if (missing.length) throw new UserError(`--case ${key}: missing axes ${missing.join(', ')} (a key names every axis of the suite)`);
  const ordered = Object.fromEntries(Object.keys(suite.axes).map((axis) => [axis, params[axis]!]));
  const planned: PlannedCase = { suite: suite.name, params: ordered, key: caseKey(suite.name, ordered) };
  const skip = skipReason(suite, ordered);
  if (skip !== undefined) planned.skip = skip;
  return planned;
}

/** The cases `-a`/`--filter`/`--dtype`/`--case` select from one suite; an empty selection is an error. */
export function selectCases(
  suite: SuiteFile,
  options: Pick<ProfileOptions, 'overrides' | 'filter' | 'dtypes' | 'caseKey'>,
  profile: 'quick' | 'standard' | 'full',
): PlannedCase[] {
  if (options.caseKey) {
    const planned = paramsOfKey(suite, options.caseKey);
    const problem = paramsProblem(suite.family, planned.params);
    if (problem) throw new UserError(`--case ${options.caseKey}: ${problem}`);
    return [planned];
  }
  const overrides = options.overrides.map(parseAxisOverride);
  for (const override of overrides) {
    if (!hasOwnKey(suite.axes, override.axis))
      throw new UserError(`unknown axis "${override.axis}"; axes of suite ${suite.name}: ${Object.keys(suite.axes).join(', ')}`);
  }
  const cases = planSuite(suite, {
    profile,
    overrides,
    ...(options.filter && { filter: options.filter }),
    ...(options.dtypes && { dtypes: options.dtypes }),
  });
  if (cases.length === 0) {
    const asked = [
      ...options.overrides.map((o) => `-a ${o}`),
      ...(options.filter ? [`--filter ${options.filter}`] : []),
      ...(options.dtypes ?? []).map((d) => `--dtype ${d}`),
    ].join(' ');
    throw new UserError(`no case of suite ${suite.name} matches ${asked || 'the selection'}`);
  }
  return cases;
}

function oneCase(cases: PlannedCase[], suite: string): PlannedCase {
  if (cases.length === 1) return cases[0]!;
  const shown = cases
    .slice(0, 4)
    .map((c) => c.key)
    .join(', ');
  throw new UserError(
    `${cases.length} cases of ${suite} match; profile runs one: narrow with -a/--filter or pass --case KEY (e.g. ${shown}${cases.length > 4 ? ', ...' : ''})`,
  );
}

/** Fails now, before any GPU work, if the trace file cannot be written. */
function checkWritable(path: string): void {
  try {
    writeFileSync(path, '');
  } catch (error) {
    throw new UserError(`cannot write trace file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

const CALIBRATION_TIMEOUT_MS = 5000;

async function calibrate(session: GpuSession, options: ProfileOptions, profile: 'quick' | 'standard' | 'full'): Promise<Ceilings> {
  const suite = loadSuite(CALIBRATION_SUITE);
  const family = kernelFamily(suite.family)!;
  const measured: Measurement[] = [];
  for (const planned of expandSuite(suite, { profile })) {
    // Ceilings for one profile, not a baseline: a shorter budget per calibration case.
    const rule = { ...options.rule, timeoutMs: Math.min(options.rule.timeoutMs, CALIBRATION_TIMEOUT_MS) };
    measured.push(await runCase(session, family, planned, { ...options, rule, stageTiming: false }, NO_CEILINGS));
  }
  return ceilingsOf(measured);
}

/**
 * `profile`: one case of a suite with every stage timed on its own beside the end-to-end time, a per-stage
 * timeline (each stage in its own timestamped pass) and, with `trace`, a Chrome trace-event file.
 */
export async function profileCase(options: ProfileOptions): Promise<ProfiledCase> {
  const suite = loadSuite(options.suite);
  const family = kernelFamily(suite.family)!;
  if (options.trace) checkWritable(options.trace);
  const context = await openGpu(options.gpu);
  const allocator = new TrackedAllocator(context.device);
  const originMs = performance.now();
  const memory: MemorySample[] = [{ ms: originMs, bytes: { weights: 0, 'kv-cache': 0, activations: 0, scratch: 0 } }];
  allocator.onChange = (bytes) => memory.push({ ms: performance.now(), bytes: { ...bytes } });
  const phases: HostPhase[] = [];
  const span = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const startMs = performance.now();
    try {
      return await work();
    } finally {
      phases.push({ name, startMs, endMs: performance.now() });
    }
  };
  const session: GpuSession = { context, allocator, timer: GpuTimer.create(context, allocator) };
  try {
    const profile = resolveProfile(options.profile, context);
    const planned = oneCase(selectCases(suite, options, profile), suite.name);
    const ceilings = options.calibrate ? await span('calibration', () => calibrate(session, options, profile)) : NO_CEILINGS;
    let timeline: Timeline | null = null;
    let timelineError: unknown;
    const measurement = await span(planned.key, () =>
      runCase(session, family, planned, options, ceilings, undefined, async (prepared: PreparedCase) => {
        try {
          timeline = await span('timeline', () => recordTimeline(context, allocator, prepared, options.timelineIterations));
        } catch (error) {
          timelineError = error;
        }
      }),
    );
    if (timelineError) throw timelineError;
    const breakdown = measurement.status === 'ok' ? stageBreakdown(measurement, ceilings) : null;
    const environment = environmentOf(context);
    let tracePath: string | null = null;
    if (options.trace) {
      const adapter = environment.adapter.description || environment.adapter.device;
      const trace = buildTrace({
        caseKey: planned.key,
        adapter,
        originMs,
        timeline,
        memory,
        phases,
        otherData: { status: measurement.status },
      });
      writeFileSync(options.trace, JSON.stringify(trace) + '\n');
      tracePath = options.trace;
    }
    return { kind: 'profile', environment, ceilings, measurement, breakdown, timeline, tracePath };
  } finally {
    allocator.onChange = undefined;
    session.timer.dispose();
    allocator.destroyAll();
    context.close();
  }
}

async function captureOne(
  context: GpuContext,
  allocator: TrackedAllocator,
  family: NonNullable<ReturnType<typeof kernelFamily>>,
  planned: PlannedCase,
  seed: number,
): Promise<CapturedCase> {
  const none = { dispatches: 0, flops: 0, bytes: 0, compileMs: {}, uploadBytes: 0, readbackBytes: 0 };
  if (planned.skip) return { key: planned.key, status: 'skipped', detail: planned.skip, ...none };
  const built = family.build(planned.params, {
    limits: context.limits,
    features: context.features,
    ...adapterBuildFacts(context),
    seed: caseSeed(seed, planned.key),
  });
  if (built.kind === 'skip') return { key: planned.key, status: 'skipped', detail: built.reason, ...none };
  const kernelCase: KernelCase = built.kernelCase;
  const misfit = caseMisfit(kernelCase, context);
  if (misfit) return { key: planned.key, status: 'skipped', detail: misfit, ...none };
  const work = caseWork(kernelCase);
  const checked = await prepareAndCheck(context, allocator, kernelCase);
  const prepared = checked.prepared;
  const facts = {
    dispatches: kernelCase.stages.length,
    flops: work.flops,
    bytes: work.bytesRead + work.bytesWritten,
    compileMs: prepared?.compileMs() ?? {},
    uploadBytes: prepared?.transfers.uploadBytes ?? 0,
    readbackBytes: prepared?.transfers.readbackBytes ?? 0,
  };
  prepared?.dispose();
  if (hasErrors(checked.errors) || checked.thrown) {
    const detail = hasErrors(checked.errors) ? describeErrors(checked.errors) : String(checked.thrown);
    return { key: planned.key, status: 'error', detail, ...facts };
  }
  const passed = checked.checks.every((c) => c.passed);
  const worst = Math.max(0, ...checked.checks.map((c) => (typeof c.maxRelError === 'number' ? c.maxRelError : Infinity)));
  return { key: planned.key, status: passed ? 'ok' : 'numerics-failed', detail: `max rel err ${worst.toExponential(1)}`, ...facts };
}

/** `profile --capture`: every selected case once, one submission each, no timestamp queries: for external GPU profilers. */
export async function captureCases(options: ProfileOptions): Promise<CaptureOutcome> {
  const suite = loadSuite(options.suite);
  const family = kernelFamily(suite.family)!;
  const context = await openGpu(options.gpu);
  const allocator = new TrackedAllocator(context.device);
  try {
    const cases = selectCases(suite, options, resolveProfile(options.profile, context));
    const captured: CapturedCase[] = [];
    for (const planned of cases) captured.push(await captureOne(context, allocator, family, planned, options.seed));
    return { kind: 'capture', environment: environmentOf(context), cases: captured };
  } finally {
    allocator.destroyAll();
    context.close();
  }
}
