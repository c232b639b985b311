import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { openGpu, type GpuContext, type GpuOptions } from '../gpu/device.js';
import { isSoftwareAdapter } from '../gpu/host-priority.js';
import { TrackedAllocator } from '../gpu/memory.js';
import { GpuTimer, type TimingMode } from '../gpu/timing.js';
import type { KernelFamily } from '../kernels/family.js';
import { kernelFamily } from '../kernels/registry.js';
import type { Ceilings } from '../measure/rates.js';
import { assembleResults, ceilingsOf } from '../results/assemble.js';
import { DEFAULT_STOPPING_RULE, ruleWithin, validateStoppingRule, type StoppingRule } from '../measure/stopping.js';
import { deviceSlug, environmentOf, gitSha, toolVersion } from '../results/fingerprint.js';
import {
  RESULTS_SCHEMA_ID,
  RESULTS_SCHEMA_VERSION,
  type Measurement,
  type ResultFile,
  type ResultHeader,
  type RunConfig,
} from '../results/schema.js';
import { ResultsLock } from '../results/lock.js';
import { Journal, journalPath, readJournal, resultsPathOfJournal, writeResultFile } from '../results/store.js';
import { TensorDump } from '../results/tensors.js';
import { visitRule } from '../results/visits.js';
import { parseAxisOverride, type PlannedCase } from '../suites/expand.js';
import { CALIBRATION_SUITE, builtInSuiteNames, loadSuite, planSuite } from '../suites/registry.js';
import { hasOwnKey, type Profile, type SuiteFile } from '../suites/schema.js';
import { DEFAULT_BUDGET_MS, DEFAULT_COSTS, NO_BUDGET, prioritize, type Budget } from './budget.js';
import type { KernelCase } from '../kernels/spec.js';
import { openPeers, parsePeerNames } from '../peer/registry.js';
import type { Peer, PeerName } from '../peer/types.js';
import { visitPeers } from '../peer/visit.js';
import { runCase, type CaseRunOptions, type CaseTensors, type GpuSession } from './run-case.js';
import type { TuningTable } from '../tune/tuning-file.js';
import { checkTuningRequest, openTuning, reopenTuning, tuneForRun, type TuningRequest } from './tuning.js';
import { budgetedScheduler, unboundedScheduler, type VisitScheduler } from './schedule.js';

export type RequestedProfile = Profile | 'auto';

export interface RunOptions {
  /** Suite names or paths; empty means every built-in suite. */
  suites: string[];
  profile: RequestedProfile;
  /** `-a name=values` texts. */
  overrides: string[];
  filter?: string;
  dtypes?: ('f32' | 'f16')[];
  mode: TimingMode;
  rule: StoppingRule;
  targetSampleMs: number;
  warmupSamples: number;
  seed: number;
  /** Visits per case, spread over the run (visits.ts). */
  visits: number;
  gpu: GpuOptions;
  /** Results file; default results/<date>-<device>.json. */
  out?: string;
  resultsDir: string;
  saveTensors?: string;
  /** Discard an unfinished run's journal at `out`, or replace a finished results file there. */
  force?: boolean;
  /** Wall time for the whole run: cases in priority order, each sampling a share, the rest left out. */
  budget: Budget;
  /** Peer runtimes run beside every case (`--peer`). */
  peers?: PeerName[];
  /** `--tuning`: the tuning file to build the cases with (default auto: the adapter's file in the tuning cache). */
  tuning?: TuningRequest;
  /** `--tune`: tune the cases first, within the budget, into the tuning file. */
  tune?: boolean;
}

/** What `--resume` may change about the interrupted run: where its results go, and tensor dumps. */
export interface ResumeOptions {
  saveTensors?: string;
  /** The resumed session's own budget (default: the interrupted run's budget again, for what is left). */
  budget?: Budget;
  /** Results file; default: the journal's own results path. */
  out?: string;
  /** Replace a finished results file at `out`. */
  force?: boolean;
}

/** The most visits a run may ask for: each is a full pass over the plan. */
export const MAX_VISITS = 100;

export const DEFAULT_RUN_OPTIONS: Omit<RunOptions, 'suites' | 'gpu'> = {
  profile: 'auto',
  overrides: [],
  mode: 'batch',
  rule: DEFAULT_STOPPING_RULE,
  targetSampleMs: 2,
  warmupSamples: 3,
  seed: 1,
  visits: 3,
  resultsDir: 'results',
  budget: { kind: 'bounded', ms: DEFAULT_BUDGET_MS },
};

export interface RunHooks {
  onStart?(info: {
    total: number;
    resultsPath: string;
    journalPath: string;
    environment: ResultHeader['environment'];
    profile: Profile;
    visits: number;
    budgetMs?: number;
  }): void;
  /** `step` counts case visits (0-based, of onStart's total). */
  onCaseStart?(step: number, planned: PlannedCase, visit: Visit): void;
  onCaseEnd?(step: number, measurement: Measurement, visit: Visit): void;
  /** A one-line warning (a tuning file not used, a tuned plan not admitted). */
  onWarning?(line: string): void;
}

export interface Visit {
  /** 1-based. */
  visit: number;
  of: number;
  /** Visits in the whole run, as known now (a case that fails its first visit drops its later ones). */
  total?: number;
}

export interface RunOutcome {
  results: ResultFile;
  resultsPath: string;
}

function budgetOf(config: RunConfig): Budget {
  return config.budget ? { kind: 'bounded', ms: config.budget.ms } : NO_BUDGET;
}

function isCalibrationCase(planned: PlannedCase): boolean {
  return planned.suite === CALIBRATION_SUITE;
}

/** A case the budget had no room for: recorded, so tables and compare can say what was not measured. */
function leftOutMeasurement(planned: PlannedCase, family: string): Measurement {
  return { key: planned.key, suite: planned.suite, family, params: planned.params, status: 'left-out', reason: 'budget' };
}

/** The profiles `auto` chooses between. */
const AUTO_PROFILES: readonly Profile[] = ['quick', 'standard'];

/** quick on a software or fallback adapter, standard on a real GPU. */
export function resolveProfile(requested: RequestedProfile, context: Pick<GpuContext, 'adapter'>): Profile {
  if (requested !== 'auto') return requested;
  return isSoftwareAdapter(context.adapter) ? 'quick' : 'standard';
}

function timestampForFile(date: Date): string {
  return date.toISOString().slice(0, 19).replace(/:/g, '-');
}

/** Calibration always runs first: every other case is reported against its ceilings. */
export function suitesToRun(requested: string[]): SuiteFile[] {
  const names = requested.length ? requested : builtInSuiteNames();
  const suites = names.map((name) => loadSuite(name));
  const seen = new Set<string>();
  const unique = suites.filter((suite) => !seen.has(suite.name) && seen.add(suite.name));
  const calibration = unique.find((suite) => suite.name === CALIBRATION_SUITE) ?? loadSuite(CALIBRATION_SUITE);
  return [calibration, ...unique.filter((suite) => suite.name !== CALIBRATION_SUITE)];
}

/** Expands every suite; an override must name an axis of at least one requested suite. */
export function planCases(
  suites: SuiteFile[],
  config: Pick<RunConfig, 'profile' | 'overrides' | 'filter' | 'dtypes'>,
  requested: string[],
): PlannedCase[] {
  const overrides = config.overrides.map(parseAxisOverride);
  for (const override of overrides) {
    if (!suites.some((suite) => hasOwnKey(suite.axes, override.axis))) {
      const axes = [...new Set(suites.flatMap((suite) => Object.keys(suite.axes)))].join(', ');
      throw new UserError(`unknown axis "${override.axis}"; axes of the selected suites: ${axes}`);
    }
  }
  const requestedNames = new Set(requested.map((name) => name.replace(/^.*\//, '').replace(/\.json$/, '')));
  return suites.flatMap((suite) => {
    // Calibration added implicitly keeps its own axes and runs unfiltered: its ceilings must exist.
    const implicit = suite.name === CALIBRATION_SUITE && requested.length > 0 && !requestedNames.has(CALIBRATION_SUITE);
    const own = overrides.filter((override) => hasOwnKey(suite.axes, override.axis));
    return planSuite(suite, {
      profile: config.profile,
      ...(!implicit && { overrides: own }),
      ...(!implicit && config.filter && { filter: config.filter }),
      ...(!implicit && config.dtypes && { dtypes: config.dtypes }),
    });
  });
}

function configOf(options: RunOptions, profile: Profile, suites: SuiteFile[]): RunConfig {
  const problem = validateStoppingRule(options.rule);
  if (problem) throw new UserError(problem);
  return {
    suites: options.suites.length ? options.suites : suites.map((suite) => suite.name),
    profile,
    requestedProfile: options.profile,
    overrides: options.overrides,
    filter: options.filter ?? null,
    dtypes: options.dtypes ?? null,
    mode: options.mode,
    rule: options.rule,
    targetSampleMs: options.targetSampleMs,
    warmupSamples: options.warmupSamples,
    seed: options.seed,
    visits: options.visits,
    budget: options.budget.kind === 'bounded' ? { ms: options.budget.ms } : null,
    plan: null,
    peers: options.peers ?? [],
    tuning: null,
    gpu: options.gpu,
  };
}

interface Execution {
  context: GpuContext;
  suites: SuiteFile[];
  header: ResultHeader;
  planned: PlannedCase[];
  done: Measurement[];
  journal: Journal;
  resultsPath: string;
  budget: Budget;
  peers: readonly Peer[];
  /** The tuning file's entries the cases are built with (null: every case its defaults). */
  tuning: TuningTable | null;
}

/** The order of the run's visits: every visit at the full rule, or the budget's. */
function schedulerOf(execution: Execution, measured: ReadonlyMap<string, Measurement>, untimed: ReadonlySet<string>): VisitScheduler {
  const { config } = execution.header;
  const visits = config.visits;
  const rule = visitRule(config.rule, visits);
  const budget = execution.budget;
  if (budget.kind === 'none') return unboundedScheduler(execution.planned, measured, visits, rule);
  return budgetedScheduler(execution.planned, measured, {
    budgetMs: budget.ms,
    // The budget counts from the process's start (performance's time origin): start-up and opening the
    // adapter are part of what the user waits for.
    startMs: 0,
    visits,
    rule,
    costs: DEFAULT_COSTS[isSoftwareAdapter(execution.context.adapter) ? 'software' : 'gpu'],
    isCalibration: isCalibrationCase,
    isTimed: (p) => !untimed.has(p.suite),
  });
}

/** A run's state while it measures: what each case measured so far, and the ceilings from calibration. */
interface Progress {
  measured: Map<string, Measurement>;
  ceilings: Ceilings;
}

/** A case's tuned plans from the run's tuning file, if it has any; `hooks` hears why they are not used. */
function tuningOf(
  table: TuningTable | null,
  family: KernelFamily,
  planned: PlannedCase,
  hooks: Pick<RunHooks, 'onWarning'>,
): Partial<CaseRunOptions> {
  const tuned = table?.plans(family.name, planned.params);
  if (!tuned) return {};
  const onTuningRejected = (reason: string): void =>
    hooks.onWarning?.(`${planned.key}: tuned plans not used (${reason}): running the defaults`);
  return { tuned, onTuningRejected };
}

/** Every visit the scheduler hands out, each measured into the journal; then the cases it left out. */
async function visitAll(
  execution: Execution,
  session: GpuSession,
  progress: Progress,
  options: Pick<RunOptions, 'saveTensors'>,
  hooks: RunHooks,
): Promise<void> {
  const { header, journal } = execution;
  const config = header.config;
  const familyOf = new Map(execution.suites.map((suite) => [suite.name, kernelFamily(suite.family)]));
  const untimed = new Set(execution.suites.filter((suite) => suite.timed === false).map((suite) => suite.name));
  const { measured } = progress;
  const dump = options.saveTensors ? new TensorDump(options.saveTensors) : undefined;
  const scheduler = schedulerOf(execution, measured, untimed);
  const visits = config.visits;
  const budget = execution.budget;
  let started = 0;
  hooks.onStart?.({
    total: scheduler.remaining(),
    resultsPath: execution.resultsPath,
    journalPath: journal.path,
    environment: header.environment,
    profile: config.profile,
    visits,
    ...(budget.kind === 'bounded' && { budgetMs: budget.ms }),
  });
  for (let next = scheduler.next(performance.now()); next; next = scheduler.next(performance.now())) {
    const { plannedCase, visit } = next;
    const step = started++;
    const previous = measured.get(plannedCase.key);
    hooks.onCaseStart?.(step, plannedCase, { visit, of: visits });
    const family = familyOf.get(plannedCase.suite);
    if (!family) throw new Error(`no kernel family for suite ${plannedCase.suite}`);
    const began = performance.now();
    const caseOptions = {
      mode: config.mode,
      rule: next.rule,
      targetSampleMs: config.targetSampleMs,
      warmupSamples: config.warmupSamples,
      seed: config.seed,
      timed: !untimed.has(plannedCase.suite),
      ...(next.samplingBudgetMs !== undefined && { samplingBudgetMs: next.samplingBudgetMs }),
      ...(visit > 1 && previous?.status === 'ok' && { previous }),
      ...tuningOf(execution.tuning, family, plannedCase, visit === 1 ? hooks : {}),
    };
    const onTensors = visit === 1 && dump ? (tensors: CaseTensors) => dump.save(plannedCase, tensors) : undefined;
    let built: KernelCase | undefined;
    const keepCase = execution.peers.length ? async (_prepared: unknown, kernelCase: KernelCase) => void (built = kernelCase) : undefined;
    const timedCase = await runCase(session, family, plannedCase, caseOptions, progress.ceilings, onTensors, keepCase);
    // The case's buffers are freed by now: the peers have the device's memory to themselves.
    const peerRule = next.samplingBudgetMs === undefined ? next.rule : ruleWithin(next.rule, next.samplingBudgetMs);
    const measurement = built ? await visitPeers(execution.peers, timedCase, built, peerRule, visit, execution.context.adapter) : timedCase;
    scheduler.finished(next, measurement, performance.now() - began);
    // A later visit that fails keeps what the earlier visits measured; the progress output says why.
    if (visit === 1 || measurement.status === 'ok') {
      journal.append(measurement);
      measured.set(plannedCase.key, measurement);
      if (measurement.status === 'ok' && measurement.ceiling) progress.ceilings = ceilingsOf([...measured.values()]);
    }
    hooks.onCaseEnd?.(step, measurement, { visit, of: visits, total: started + scheduler.remaining() });
  }
  for (const plannedCase of scheduler.leftOut()) {
    const measurement = leftOutMeasurement(plannedCase, familyOf.get(plannedCase.suite)?.name ?? '');
    journal.append(measurement);
    measured.set(plannedCase.key, measurement);
  }
}

async function execute(execution: Execution, options: Pick<RunOptions, 'saveTensors'>, hooks: RunHooks): Promise<RunOutcome> {
  const { context, header, planned, journal, resultsPath } = execution;
  const allocator = new TrackedAllocator(context.device);
  const session: GpuSession = { context, allocator, timer: GpuTimer.create(context, allocator) };
  // Journal lines of one case: each later visit's pooled measurement supersedes the one before.
  const measured = new Map(execution.done.map((measurement) => [measurement.key, measurement]));
  const progress: Progress = { measured, ceilings: ceilingsOf([...measured.values()]) };
  try {
    await visitAll(execution, session, progress, options, hooks);
  } finally {
    session.timer.dispose();
    allocator.destroyAll();
    journal.close();
  }
  const cases = planned.flatMap((plannedCase) => measured.get(plannedCase.key) ?? []);
  const results = assembleResults(header, cases, new Date().toISOString());
  writeResultFile(resultsPath, results);
  // The results file now holds every case: the journal has done its job.
  rmSync(journal.path, { force: true });
  return { results, resultsPath };
}

/** `run --tune`: the run's cases tuned on their own session before the run measures them. */
async function tuneFirst(
  context: GpuContext,
  suites: SuiteFile[],
  planned: PlannedCase[],
  options: RunOptions & { tuning: TuningRequest },
  warn: (line: string) => void,
): Promise<void> {
  const allocator = new TrackedAllocator(context.device);
  const session: GpuSession = { context, allocator, timer: GpuTimer.create(context, allocator) };
  const families = new Map(suites.map((suite) => [suite.name, kernelFamily(suite.family)]));
  const familyOf = (suite: string): KernelFamily => {
    const family = families.get(suite);
    if (!family) throw new Error(`no kernel family for suite ${suite}`);
    return family;
  };
  const budgetEndMs = options.budget.kind === 'bounded' ? options.budget.ms : null;
  try {
    await tuneForRun(
      session,
      { suites, planned, familyOf },
      { request: options.tuning, seed: options.seed, targetSampleMs: options.targetSampleMs, budgetEndMs },
      warn,
    );
  } finally {
    session.timer.dispose();
    allocator.destroyAll();
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function unfinishedRun(journal: string): string {
  try {
    const { cases } = readJournal(journal);
    return `an unfinished run (${cases.length} case(s) measured)`;
  } catch {
    return 'an unfinished run';
  }
}

/**
 * Nothing measured is lost to a run: an unfinished run's journal at the path is finished with --resume or
 * discarded with --force (`allow.journal`), and a finished results file is replaced only with --force
 * (`allow.results`; by the final atomic write, so until then it stays). A folder is refused.
 */
export function checkResultsPath(resultsPath: string, allow: { journal: boolean; results: boolean }): void {
  if (isFolder(resultsPath))
    throw new UserError(`--out ${resultsPath} is a folder: give a file path, such as ${join(resultsPath, 'run.json')}`);
  ResultsLock.assertFree(resultsPath);
  const journal = journalPath(resultsPath);
  if (existsSync(journal) && !allow.journal) {
    throw new UserError(
      `${journal} holds ${unfinishedRun(journal)}: finish it with \`mla-bench run --resume --journal ${journal}\`, or pass --force to discard it`,
    );
  }
  if (existsSync(resultsPath) && !allow.results) {
    throw new UserError(`${resultsPath} holds a finished run's results: choose another --out, or pass --force to replace them`);
  }
}

/** Holds the lock on a results path (and on a second one, a resume's --out) while `work` runs. */
async function whileLocked<T>(paths: readonly string[], work: () => Promise<T>): Promise<T> {
  const locks: ResultsLock[] = [];
  try {
    for (const path of new Set(paths)) locks.push(ResultsLock.acquire(path));
    return await work();
  } finally {
    for (const lock of locks) lock.release();
  }
}

/** `mla-bench run`: plan, measure every case into the journal, then write the results file atomically. */
export async function runBenchmarks(options: RunOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  if (!(Number.isInteger(options.visits) && options.visits >= 1 && options.visits <= MAX_VISITS)) {
    throw new UserError(`--visits must be an integer from 1 to ${MAX_VISITS}, got ${options.visits}`);
  }
  const suites = suitesToRun(options.suites);
  // Every profile the run may take is planned before the GPU is opened, so bad input fails fast; `auto`
  // picks one of them once the adapter is known. Each profile is planned once.
  const plans = new Map<Profile, PlannedCase[]>();
  const planFor = (profile: Profile): PlannedCase[] => {
    let planned = plans.get(profile);
    if (!planned) plans.set(profile, (planned = planCases(suites, configOf(options, profile, suites), options.suites)));
    return planned;
  };
  for (const profile of options.profile === 'auto' ? AUTO_PROFILES : [options.profile]) planFor(profile);
  const tuningRequest = options.tuning ?? { kind: 'auto' };
  checkTuningRequest(tuningRequest, options.tune === true);
  const force = options.force === true;
  if (options.out !== undefined) checkResultsPath(options.out, { journal: force, results: force });
  const peers = await openPeers(options.peers ?? []);
  const context = await openGpu(options.gpu);
  try {
    const profile = resolveProfile(options.profile, context);
    const config = configOf(options, profile, suites);
    const planned = planFor(profile);
    const warn = (line: string): void => hooks.onWarning?.(line);
    if (options.tune) await tuneFirst(context, suites, planned, { ...options, tuning: tuningRequest }, warn);
    const tuning = openTuning(tuningRequest, context, options.tune === true, warn);
    config.tuning = tuning.record;
    if (options.budget.kind === 'bounded') {
      config.plan = prioritize(planned, isCalibrationCase, (p) => p.headline === true).map(({ planned: p, priority }) => ({
        key: p.key,
        priority,
      }));
    }
    const createdAt = new Date();
    const resultsPath = options.out ?? join(options.resultsDir, `${timestampForFile(createdAt)}-${deviceSlug(context)}.json`);
    const header: ResultHeader = {
      schema: RESULTS_SCHEMA_ID,
      schemaVersion: RESULTS_SCHEMA_VERSION,
      tool: { name: 'mla-bench', version: toolVersion(), gitSha: gitSha() },
      createdAt: createdAt.toISOString(),
      environment: environmentOf(context),
      config,
    };
    return await whileLocked([resultsPath], async () => {
      checkResultsPath(resultsPath, { journal: force, results: force });
      rmSync(journalPath(resultsPath), { force: true });
      const journal = Journal.create(journalPath(resultsPath), header);
      return await execute(
        { context, suites, header, planned, done: [], journal, resultsPath, budget: options.budget, peers, tuning: tuning.table },
        options,
        hooks,
      );
    });
  } finally {
    context.close();
  }
}

/**
 * `mla-bench run --resume JOURNAL`: the same plan as the interrupted run, without the cases it finished; its
 * results go beside the journal or to `out`.
 */
export async function resumeBenchmarks(journalFile: string, options: ResumeOptions, hooks: RunHooks = {}): Promise<RunOutcome> {
  const ownPath = resultsPathOfJournal(journalFile);
  const resultsPath = options.out ?? ownPath;
  const checkOut = (): void => {
    if (resultsPath !== ownPath) checkResultsPath(resultsPath, { journal: false, results: options.force === true });
  };
  checkOut();
  readJournal(journalFile);
  return whileLocked([ownPath, resultsPath], async () => {
    // Read under the lock: a run still writing this journal holds it.
    checkOut();
    const { header, cases } = readJournal(journalFile);
    const config = header.config;
    const suites = suitesToRun(config.suites);
    const planned = planCases(suites, config, config.suites);
    const peers = await openPeers(parsePeerNames(config.peers));
    const context = await openGpu(config.gpu);
    try {
      const journal = Journal.reopen(journalFile);
      const tuning = reopenTuning(config.tuning, context, (line) => hooks.onWarning?.(line));
      const budget = options.budget ?? budgetOf(config);
      return await execute({ context, suites, header, planned, done: cases, journal, resultsPath, budget, peers, tuning }, options, hooks);
    } finally {
      context.close();
    }
  });
}
