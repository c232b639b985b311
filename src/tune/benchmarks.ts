import { openGpu, type GpuOptions } from '../gpu/device.js';
import { TrackedAllocator } from '../gpu/memory.js';
import { GpuTimer } from '../gpu/timing.js';
import { kernelFamily } from '../kernels/registry.js';
import type { Budget } from '../run/budget.js';
import type { GpuSession } from '../run/run-case.js';
import { planCases, resolveProfile, suitesToRun, type RequestedProfile } from '../run/runner.js';
import { saveTuning, tunableCases, tuneCases, tuningFileFor, type TuneHooks, type TuneRow } from './tuner.js';
import type { TuningKey } from './tuning-file.js';

/** `mla-bench tune`: the cases `run` would run for the suites and flags, tuned, and the adapter's tuning file updated. */

export interface TuneOptions {
  suites: string[];
  profile: RequestedProfile;
  overrides: string[];
  filter?: string;
  dtypes?: ('f32' | 'f16')[];
  seed: number;
  targetSampleMs: number;
  /** Wall time for all of it, counted from the process's start; none: PER_CASE_UNBOUNDED_MS per case. */
  budget: Budget;
  gpu: GpuOptions;
  /** The tuning file to update (default: the adapter's file in the tuning cache). */
  out?: string;
  trace?(line: string): void;
}

export interface TuneOutcome {
  path: string;
  key: TuningKey;
  rows: TuneRow[];
  warnings: string[];
}

export async function tuneBenchmarks(options: TuneOptions, hooks: TuneHooks = {}): Promise<TuneOutcome> {
  const suites = suitesToRun(options.suites);
  const config = { overrides: options.overrides, filter: options.filter ?? null, dtypes: options.dtypes ?? null };
  // Bad axes and filters fail before the adapter opens (every profile `auto` may take).
  for (const profile of options.profile === 'auto' ? (['quick', 'standard'] as const) : [options.profile])
    planCases(suites, { ...config, profile }, options.suites);
  const context = await openGpu(options.gpu);
  const allocator = new TrackedAllocator(context.device);
  const session: GpuSession = { context, allocator, timer: GpuTimer.create(context, allocator) };
  try {
    const profile = resolveProfile(options.profile, context);
    const planned = tunableCases(suites, planCases(suites, { ...config, profile }, options.suites));
    const families = new Map(suites.map((suite) => [suite.name, kernelFamily(suite.family)!]));
    const endMs = options.budget.kind === 'bounded' ? options.budget.ms : null;
    const rows = await tuneCases(
      session,
      planned,
      (suite) => families.get(suite)!,
      { seed: options.seed, targetSampleMs: options.targetSampleMs, endMs, ...(options.trace && { trace: options.trace }) },
      hooks,
    );
    const { path, key } = tuningFileFor(context, options.out);
    const warnings = saveTuning(path, key, rows);
    return { path, key, rows, warnings };
  } finally {
    session.timer.dispose();
    allocator.destroyAll();
    context.close();
  }
}
