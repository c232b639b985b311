import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { UserError } from '../errors.js';
import type { Ceilings } from '../measure/rates.js';
import type { Measurement, OkMeasurement, PassedMeasurement, ResultFile } from '../results/schema.js';
import { resultsOfJournal } from '../results/assemble.js';
import { JOURNAL_SUFFIX, readResultFile } from '../results/store.js';
import { runSummary, type RunSummary } from './run-summary.js';

/** One results file as read for reporting: where it came from and which device produced it. */
export interface LoadedResults {
  path: string;
  /** Short name: the file name without .json (or .json.gz). */
  name: string;
  device: string;
  results: ResultFile;
  /** Read from the journal of a run that has not finished: its finished cases only. */
  unfinished?: { finishedCases: number };
}

/** A device's cases from one or more results files (later files win on a repeated key). */
export interface DeviceResults {
  device: string;
  files: string[];
  /** Each file's run: profile, budget, cases left out. */
  runs: RunSummary[];
  ceilings: Ceilings;
  cases: Measurement[];
}

/** Identity of the hardware a results file came from: the adapter's description, else its device name. */
export function deviceId(results: ResultFile): string {
  const { adapter } = results.environment;
  return (adapter.description || adapter.device || `${adapter.vendor} ${adapter.architecture}`).trim() || 'unknown device';
}

/** A short label for charts and table headers. */
export function deviceLabel(results: ResultFile): string {
  const id = deviceId(results);
  return id.length > 40 ? `${id.slice(0, 38)}…` : id;
}

function lastWrite(path: string): Date {
  try {
    return statSync(path).mtime;
  } catch {
    return new Date();
  }
}

/** Results files, or journals (*.journal.jsonl) of runs that have not finished, as read for report and compare. */
export function loadResults(paths: readonly string[]): LoadedResults[] {
  if (paths.length === 0) throw new UserError('no results files given');
  return paths.map((path): LoadedResults => {
    if (path.endsWith(JOURNAL_SUFFIX)) {
      const { results, finishedCases } = resultsOfJournal(path, lastWrite(path));
      return {
        path,
        name: basename(path)
          .slice(0, -JOURNAL_SUFFIX.length)
          .replace(/\.json$/i, ''),
        device: deviceId(results),
        results,
        unfinished: { finishedCases },
      };
    }
    const results = readResultFile(path);
    return { path, name: basename(path).replace(/\.json(\.gz)?$/i, ''), device: deviceId(results), results };
  });
}

/** Merges files by device, keeping their order; the first non-null ceiling of a device wins. */
export function groupByDevice(loaded: readonly LoadedResults[]): DeviceResults[] {
  const groups = new Map<string, DeviceResults & { byKey: Map<string, number> }>();
  for (const file of loaded) {
    let group = groups.get(file.device);
    if (!group) {
      group = {
        device: file.device,
        files: [],
        runs: [],
        ceilings: { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null },
        cases: [],
        byKey: new Map(),
      };
      groups.set(file.device, group);
    }
    group.files.push(file.path);
    group.runs.push(runSummary(file.path, file.results));
    for (const name of Object.keys(group.ceilings) as (keyof Ceilings)[]) group.ceilings[name] ??= file.results.ceilings[name];
    for (const measurement of file.results.cases) {
      const at = group.byKey.get(measurement.key);
      if (at === undefined) {
        group.byKey.set(measurement.key, group.cases.length);
        group.cases.push(measurement);
      } else group.cases[at] = measurement;
    }
  }
  return [...groups.values()].map(({ byKey: _byKey, ...group }) => group);
}

export function okCases(cases: readonly Measurement[]): OkMeasurement[] {
  return cases.filter((c): c is OkMeasurement => c.status === 'ok');
}

/** A case that ran and passed its check, timed ('ok') or not ('checked'). */
export function isPassed(measurement: Measurement): measurement is PassedMeasurement {
  return measurement.status === 'ok' || measurement.status === 'checked';
}

export function passedCases(cases: readonly Measurement[]): PassedMeasurement[] {
  return cases.filter(isPassed);
}

export function suitesOf(cases: readonly Measurement[]): string[] {
  return [...new Set(cases.map((c) => c.suite))];
}

/**
 * Worst relative error over a case's checks ('NaN'/'Infinity' kept as text): element-wise max |a - e| / |e|,
 * or with `norm` the norm-wise max |a - e| / max |e| (null where a check did not record it: files from before it).
 */
export function worstRelError(measurement: Measurement, norm = false): number | string | null {
  if (!('numerics' in measurement)) return null;
  let worst: number | string = 0;
  for (const check of measurement.numerics.checks) {
    if (typeof worst === 'string') break;
    const value = norm ? check.normRelError : check.maxRelError;
    if (value === null) return null;
    worst = typeof value === 'string' ? value : Math.max(worst, value);
  }
  return worst;
}

/** The error the tables show: norm-wise where recorded (element-wise ratios blow up at near-zero outputs). */
export function shownRelError(measurement: Measurement): number | string | null {
  return worstRelError(measurement, true) ?? worstRelError(measurement);
}

/** KV-cache bytes per cached token, where the kernel recorded it. */
export function kvBytesPerToken(measurement: Measurement): number | null {
  if (!isPassed(measurement)) return null;
  const value = measurement.facts?.['kvBytesPerToken'] ?? measurement.params['kv_bytes_per_token'];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** New tokens one repeat of a case produces: batch x q_len for decode, batch x seq for prefill, or `tokens`. */
export function tokensPerRepeat(measurement: Measurement): number | null {
  const num = (name: string): number | null => {
    const v = measurement.params[name];
    return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : null;
  };
  const tokens = num('tokens');
  if (tokens !== null) return tokens;
  const batch = num('batch') ?? 1;
  const seq = num('seq');
  if (seq !== null) return batch * seq;
  return batch * (num('q_len') ?? 1);
}
