import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { UserError } from '../errors.js';
import { DEFAULT_COSTS, formatBudget, parseBudget } from '../run/budget.js';
import { loadDeviceFile } from '../run/device-file.js';
import { planOnDevice, type DevicePlan } from '../run/device-plan.js';
import { formatBytes } from '../report/format.js';
import { DEFAULT_RUN_OPTIONS, MAX_VISITS, planCases, suitesToRun } from '../run/runner.js';
import { simulateBudget, type PlannedShare } from '../run/schedule.js';
import { visitRule } from '../results/visits.js';
import { parseAxisOverride, resolveAxes, type PlannedCase } from '../suites/expand.js';
import { CALIBRATION_SUITE, builtInSuiteNames, loadSuite, planSuite } from '../suites/registry.js';
import { PROFILES, hasOwnKey, type AxisValue, type Profile } from '../suites/schema.js';

export interface ListedSuite {
  name: string;
  description: string;
  family: string;
  axes: Record<string, AxisValue[]>;
  cases: number;
  skipped: number;
}

export interface ListResult {
  profile: Profile;
  suites: ListedSuite[];
  cases?: PlannedCase[];
  plan?: BudgetPlan;
  /** With --limits: each case as it would go on that device. */
  device?: { name: string; source?: string; memoryBytes: number; cases: DevicePlan[] };
}

export interface BudgetPlan {
  budgetMs: number;
  shares: PlannedShare[];
  leftOut: string[];
  /** When the simulated schedule ends, from the process's start. */
  endMs: number;
}

export default class List extends BaseCommand {
  static override summary = 'List the built-in suites and their axes, or the cases one suite expands to.';
  static override description =
    'Without a GPU: `auto` resolves to quick on software adapters and standard on GPUs at run time; here it shows standard unless --profile says otherwise.';
  static override examples = [
    '<%= config.bin %> list',
    '<%= config.bin %> list calibration --profile quick',
    '<%= config.bin %> list calibration -a mib=8,16',
    '<%= config.bin %> list mla-decode --profile standard --limits nvidia-h100-vulkan',
  ];
  static override args = { suite: Args.string({ description: 'suite name or path to a suite .json: list its cases' }) };
  static override flags = {
    profile: Flags.string({ description: 'size profile', options: [...PROFILES], default: 'standard' }),
    axis: Flags.string({
      char: 'a',
      description: 'override an axis: name=v1,v2 | name=start:stop[:step] | name=pow2:from:to',
      multiple: true,
    }),
    filter: Flags.string({ description: 'keep cases whose key contains this text, or that match every axis=value in it' }),
    dtype: Flags.string({ description: 'storage types to run', options: ['f32', 'f16'], multiple: true }),
    budget: Flags.string({
      char: 'b',
      description:
        "print what `run --budget` would run, in order, with each case's share (from starting cost estimates: a run re-plans from what it measures), and what it would leave out",
    }),
    limits: Flags.string({
      description:
        'plan against another device: which cases would run or skip there, and the memory each needs. A JSON of its GPUSupportedLimits, features and memoryBytes, or the name of a shipped one (limits/*.json)',
      exclusive: ['budget'],
    }),
    visits: Flags.integer({
      description: 'visits per case, as run --visits (with --budget)',
      default: DEFAULT_RUN_OPTIONS.visits,
      min: 1,
      max: MAX_VISITS,
    }),
  };

  async run(): Promise<ListResult> {
    const { args, flags } = await this.parse(List);
    const profile = flags.profile as Profile;
    const overrides = (flags.axis ?? []).map(parseAxisOverride);
    const names = args.suite ? [args.suite] : builtInSuiteNames();
    const suites = names.map((name) => loadSuite(name));
    const listed: ListedSuite[] = [];
    let cases: PlannedCase[] | undefined;
    for (const suite of suites) {
      const own = overrides.filter((o) => hasOwnKey(suite.axes, o.axis));
      const planned = planSuite(suite, {
        profile,
        overrides: args.suite ? overrides : own,
        ...(flags.filter && { filter: flags.filter }),
        ...(flags.dtype && { dtypes: flags.dtype }),
      });
      const axes: Record<string, AxisValue[]> = Object.fromEntries(
        resolveAxes(suite, { profile, overrides: own, ...(flags.dtype && { dtypes: flags.dtype }) }),
      );
      listed.push({
        name: suite.name,
        description: suite.description,
        family: suite.family,
        axes,
        cases: planned.length,
        skipped: planned.filter((c) => c.skip).length,
      });
      if (args.suite) cases = planned;
    }
    if (flags.limits !== undefined) {
      const device = loadDeviceFile(flags.limits);
      const families = new Map(suites.map((suite) => [suite.name, suite.family]));
      const planned = suites.flatMap((suite) =>
        planSuite(suite, {
          profile,
          overrides: args.suite ? overrides : overrides.filter((o) => hasOwnKey(suite.axes, o.axis)),
          ...(flags.filter && { filter: flags.filter }),
          ...(flags.dtype && { dtypes: flags.dtype }),
        }),
      );
      const cases = planOnDevice(planned, (suite) => families.get(suite) ?? '', device);
      const result = { name: device.name, ...(device.source && { source: device.source }), memoryBytes: device.memoryBytes, cases };
      if (!this.jsonEnabled()) this.log(renderDevicePlan(result, profile));
      return { profile, suites: listed, device: result };
    }
    const plan = flags.budget === undefined ? undefined : budgetPlan(names, flags, profile);
    if (plan && !this.jsonEnabled()) {
      this.log(renderPlan(plan, profile));
      return { profile, suites: listed, plan };
    }
    if (!this.jsonEnabled()) {
      for (const suite of listed) {
        this.log(`${suite.name} (${suite.cases} cases${suite.skipped ? `, ${suite.skipped} skipped by rule` : ''}, profile ${profile})`);
        this.log(`  ${suite.description}`);
        for (const [name, values] of Object.entries(suite.axes)) this.log(`  ${name}: ${values.join(', ')}`);
      }
      if (cases) {
        this.log('');
        for (const planned of cases) this.log(`  ${planned.key}${planned.skip ? `  (skipped: ${planned.skip})` : ''}`);
      }
    }
    return { profile, suites: listed, ...(cases && { cases }), ...(plan && { plan }) };
  }
}

/** The budgeted schedule of a run with these suites and flags, simulated with the starting cost estimates. */
function budgetPlan(
  names: string[],
  flags: { budget?: string; axis?: string[]; filter?: string; dtype?: string[]; visits: number },
  profile: Profile,
): BudgetPlan {
  const budget = parseBudget(flags.budget ?? 'none');
  if (budget.kind === 'none') throw new UserError('--budget none plans nothing to leave out: use list without --budget');
  const suites = suitesToRun(names);
  const config = {
    profile,
    overrides: flags.axis ?? [],
    filter: flags.filter ?? null,
    dtypes: (flags.dtype as ('f32' | 'f16')[] | undefined) ?? null,
  };
  const planned = planCases(suites, config, names);
  const untimed = new Set(suites.filter((suite) => suite.timed === false).map((suite) => suite.name));
  const simulated = simulateBudget(planned, {
    budgetMs: budget.ms,
    startMs: 0,
    visits: flags.visits,
    rule: visitRule(DEFAULT_RUN_OPTIONS.rule, flags.visits),
    costs: DEFAULT_COSTS[profile === 'quick' ? 'software' : 'gpu'],
    isCalibration: (p) => p.suite === CALIBRATION_SUITE,
    isTimed: (p) => !untimed.has(p.suite),
  });
  return { budgetMs: budget.ms, shares: simulated.shares, leftOut: simulated.leftOut.map((p) => p.key), endMs: simulated.endMs };
}

function renderPlan(plan: BudgetPlan, profile: Profile): string {
  const seconds = (ms: number): string => `${(ms / 1e3).toFixed(1)} s`;
  const lines = [
    `Plan for a budget of ${formatBudget({ kind: 'bounded', ms: plan.budgetMs })}, profile ${profile} (starting estimates; a run re-plans from what it measures): ${plan.shares.length} cases, ending at about ${seconds(plan.endMs)}`,
  ];
  plan.shares.forEach((share, i) => {
    const sampling =
      share.visits === 0
        ? 'recorded, not run'
        : share.samplingMs > 0
          ? `${share.visits} visit(s), ${seconds(share.samplingMs)} sampling each`
          : 'run once, checked';
    lines.push(`${String(i + 1).padStart(4)}. ${share.priority.padEnd(11)} ${share.key}  (${sampling})`);
  });
  if (plan.leftOut.length) {
    lines.push(`left out (budget): ${plan.leftOut.length} cases`);
    for (const key of plan.leftOut) lines.push(`      ${key}`);
  }
  return lines.join('\n');
}

function renderDevicePlan(device: NonNullable<ListResult['device']>, profile: Profile): string {
  const fitting = device.cases.filter((c) => c.fits).length;
  const lines = [
    `Plan on ${device.name} (${formatBytes(device.memoryBytes)} of device memory), profile ${profile}: ${fitting} of ${device.cases.length} cases would run`,
    ...(device.source ? [`  limits from: ${device.source}`] : []),
  ];
  for (const c of device.cases) {
    if (c.fits === null) lines.push(`  ${c.key}  (not planned: ${c.reason})`);
    else if (!c.fits) lines.push(`  ${c.key}  (skipped: ${c.reason})`);
    else lines.push(`  ${c.key}  needs ${formatBytes(c.bytes)}${c.kvCacheBytes ? ` (KV cache ${formatBytes(c.kvCacheBytes)})` : ''}`);
  }
  return lines.join('\n');
}
