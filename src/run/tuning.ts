import { existsSync } from 'node:fs';
import { UserError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import type { KernelFamily } from '../kernels/family.js';
import type { RunConfig } from '../results/schema.js';
import type { PlannedCase } from '../suites/expand.js';
import type { SuiteFile } from '../suites/schema.js';
import { saveTuning, tunableCases, tuneCases, tuningFileFor } from '../tune/tuner.js';
import { readTuningFile, type TuningTable } from '../tune/tuning-file.js';
import type { GpuSession } from './run-case.js';

/**
 * `run --tuning auto|none|FILE` and `run --tune`: which tuning file a run builds its cases with. auto: the adapter's
 * file in the tuning cache where there is one; none: every case its strategies' defaults; FILE: that file. A file
 * that cannot be used (corrupt, another adapter's, another mla-bench version's) is a one-line warning and the
 * defaults. `--tune` tunes the run's cases first (into the file `--tuning` names, or the cache's) and then uses it.
 */
export type TuningRequest = { kind: 'auto' } | { kind: 'none' } | { kind: 'file'; path: string };

export function parseTuningRequest(text: string): TuningRequest {
  if (text === 'auto') return { kind: 'auto' };
  if (text === 'none') return { kind: 'none' };
  if (!text.trim()) throw new UserError('--tuning takes auto, none or a tuning file');
  return { kind: 'file', path: text };
}

export function describeTuningRequest(request: TuningRequest): string {
  return request.kind === 'file' ? request.path : request.kind;
}

/** Bad input before the adapter opens: a named file that does not exist (unless --tune writes it), --tune with none. */
export function checkTuningRequest(request: TuningRequest, tune: boolean): void {
  if (tune && request.kind === 'none') throw new UserError('--tune writes a tuning file and runs with it: it cannot go with --tuning none');
  if (!tune && request.kind === 'file' && !existsSync(request.path)) {
    throw new UserError(`--tuning ${request.path}: no such file (tune one with \`mla-bench tune -o ${request.path}\`)`);
  }
}

export interface RunTuning {
  table: TuningTable | null;
  /** What the results header records (RunConfig.tuning). */
  record: NonNullable<RunConfig['tuning']>;
}

/** The tuning table a run uses for `request` on this adapter; `warn` hears why a file is not used. */
export function openTuning(
  request: TuningRequest,
  context: Pick<GpuContext, 'adapter'>,
  tuned: boolean,
  warn: (line: string) => void,
): RunTuning {
  const none: RunTuning = { table: null, record: { requested: describeTuningRequest(request), file: null, entries: 0, tuned } };
  if (request.kind === 'none') return none;
  const { path, key } = tuningFileFor(context, request.kind === 'file' ? request.path : undefined);
  if (request.kind === 'auto' && !existsSync(path)) return none;
  const read = readTuningFile(path, key);
  if ('warning' in read) {
    warn(read.warning);
    return none;
  }
  return { table: read.table, record: { ...none.record, file: path, entries: read.table.size } };
}

/** The tuning file a resumed run used: read again, or the defaults with a warning where it is gone or changed. */
export function reopenTuning(
  record: RunConfig['tuning'],
  context: Pick<GpuContext, 'adapter'>,
  warn: (line: string) => void,
): TuningTable | null {
  if (!record?.file) return null;
  return openTuning({ kind: 'file', path: record.file }, context, record.tuned, warn).table;
}

/** Share of a bounded budget `run --tune` gives the tuning; the run's cases get what is left. */
export const RUN_TUNE_SHARE = 0.5;

/** `run --tune`: the run's tunable cases tuned within RUN_TUNE_SHARE of what is left of the budget, into the file. */
export async function tuneForRun(
  session: GpuSession,
  run: { suites: readonly SuiteFile[]; planned: readonly PlannedCase[]; familyOf: (suite: string) => KernelFamily },
  options: { request: TuningRequest; seed: number; targetSampleMs: number; budgetEndMs: number | null },
  warn: (line: string) => void,
): Promise<void> {
  const now = performance.now();
  const endMs = options.budgetEndMs === null ? null : now + RUN_TUNE_SHARE * Math.max(0, options.budgetEndMs - now);
  const cases = tunableCases(run.suites, run.planned);
  const rows = await tuneCases(session, cases, run.familyOf, { seed: options.seed, targetSampleMs: options.targetSampleMs, endMs });
  const { path, key } = tuningFileFor(session.context, options.request.kind === 'file' ? options.request.path : undefined);
  for (const warning of saveTuning(path, key, rows)) warn(warning);
}
