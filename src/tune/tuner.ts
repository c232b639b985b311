import type { GpuContext } from '../gpu/device.js';
import type { KernelFamily } from '../kernels/family.js';
import { describeSlotPlan, type SlotPlan } from '../kernels/tunable.js';
import { gitSha, toolVersion } from '../results/fingerprint.js';
import type { GpuSession } from '../run/run-case.js';
import type { PlannedCase } from '../suites/expand.js';
import { CALIBRATION_SUITE } from '../suites/registry.js';
import type { SuiteFile } from '../suites/schema.js';
import { tuneShape, type ShapeResult } from './tune-case.js';
import {
  mergeEntries,
  tuningDir,
  tuningFileToUpdate,
  tuningKey,
  tuningPath,
  writeTuningFile,
  type TuningEntry,
  type TuningKey,
} from './tuning-file.js';

/**
 * Tuning planned cases (calibration has nothing to tune; untimed suites are not timed), each in turn (tune-case.ts)
 * within an equal share of what is left of the time, and merging the results into the adapter's tuning file.
 */

export interface TuneRow {
  planned: PlannedCase;
  family: string;
  result: ShapeResult;
}

export interface TuneHooks {
  onCaseStart?(index: number, total: number, planned: PlannedCase): void;
  onCaseEnd?(index: number, total: number, row: TuneRow): void;
}

/** Each case's time where the tune has no budget. */
export const PER_CASE_UNBOUNDED_MS = 60_000;
/** Kept back from a bounded budget for writing the file and closing the device. */
const RESERVE_MS = 2_000;

/** The clock time by which a case must be tuned: an equal share of what is left for the `remaining` cases (this one included). */
export function caseDeadline(nowMs: number, endMs: number | null, remaining: number): number {
  if (endMs === null) return nowMs + PER_CASE_UNBOUNDED_MS;
  return nowMs + Math.max(0, endMs - nowMs) / Math.max(1, remaining);
}

/** The suites' cases that can be tuned: not calibration, not an untimed suite's, not skipped by a suite's rule. */
export function tunableCases(suites: readonly SuiteFile[], planned: readonly PlannedCase[]): PlannedCase[] {
  const timed = new Set(suites.filter((suite) => suite.name !== CALIBRATION_SUITE && suite.timed !== false).map((suite) => suite.name));
  return planned.filter((p) => timed.has(p.suite) && !p.skip);
}

export interface TuneCasesOptions {
  seed: number;
  targetSampleMs: number;
  /** Clock time (performance.now()) by which all cases are tuned; null: PER_CASE_UNBOUNDED_MS each. */
  endMs: number | null;
  trace?(line: string): void;
}

/** Tunes each case in turn on an open session. */
export async function tuneCases(
  session: GpuSession,
  planned: readonly PlannedCase[],
  familyOf: (suite: string) => KernelFamily,
  options: TuneCasesOptions,
  hooks: TuneHooks = {},
): Promise<TuneRow[]> {
  const rows: TuneRow[] = [];
  const now = (): number => performance.now();
  for (const [index, p] of planned.entries()) {
    hooks.onCaseStart?.(index, planned.length, p);
    const family = familyOf(p.suite);
    const end = options.endMs === null ? null : options.endMs - RESERVE_MS;
    const deadline = caseDeadline(now(), end, planned.length - index);
    const trace = options.trace && ((line: string) => options.trace!(`${p.key}: ${line}`));
    const result = await tuneShape(session, family, p, {
      seed: options.seed,
      targetSampleMs: options.targetSampleMs,
      deadline,
      now,
      ...(trace && { trace }),
    });
    const row = { planned: p, family: family.name, result };
    rows.push(row);
    hooks.onCaseEnd?.(index, planned.length, row);
  }
  return rows;
}

const describeAll = (plans: Record<string, SlotPlan>): Record<string, string> =>
  Object.fromEntries(Object.entries(plans).map(([slot, plan]) => [slot, describeSlotPlan(plan)]));

/** The tuning file's entry for a tuned (or defaults-kept) case; none for a case that was not tuned. */
export function entryOf(row: TuneRow, tunedAt: string): TuningEntry | null {
  const { result, planned } = row;
  if (result.status !== 'tuned' && result.status !== 'default-kept') return null;
  return {
    family: row.family,
    params: planned.params,
    case: planned.key,
    status: result.status,
    plans: result.tuned as unknown as TuningEntry['plans'],
    defaults: describeAll(result.defaults),
    tuned: describeAll(result.tuned),
    speedup: result.speedup,
    evaluated: result.evaluated,
    failing: result.failing,
    tunedAt,
  };
}

/** Merges the rows' entries into the tuning file at `path`; warnings where an unusable old file was replaced. */
export function saveTuning(path: string, key: TuningKey, rows: readonly TuneRow[]): string[] {
  const now = new Date().toISOString();
  const sha = gitSha();
  const { file, warning } = tuningFileToUpdate(path, key, sha, now);
  const entries = rows.flatMap((row) => entryOf(row, now) ?? []);
  writeTuningFile(path, mergeEntries(file, entries, sha, now));
  return warning ? [warning] : [];
}

/** The tuning file of an adapter: `out`, else its file in the tuning cache. */
export function tuningFileFor(context: Pick<GpuContext, 'adapter'>, out?: string): { path: string; key: TuningKey } {
  const key = tuningKey(context.adapter, toolVersion());
  return { path: out ?? tuningPath(tuningDir(), key), key };
}
