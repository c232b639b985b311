import { RESULTS_SCHEMA_VERSION } from './schema.js';

/**
 * Results files and journals written by older versions of mla-bench, brought to the current shape as they are
 * read (readResultFile, readJournal), before the schema checks them: the rest of the code sees only the
 * current shape.
 *
 * One step per schema version: step n reads version n and writes version n + 1, the header fields and each
 * case apart (a journal holds them on separate lines). A step fills in what a version lacks and nothing else,
 * so it leaves a case already in the next shape as it is: a journal whose header is older than some of its
 * lines (a run resumed by a newer mla-bench appends current lines to it) reads back whole.
 *
 * Adding a field to the results: bump RESULTS_SCHEMA_VERSION, add the step from the old version here (what an
 * old file means by the field's absence), and a test that reads an old-shape file back in the new shape.
 */

type JsonObject = { readonly [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface MigrationStep {
  /** The version this step reads; it writes from + 1. */
  readonly from: number;
  /** The header's fields (a results file's top level, a journal's header line). */
  header(header: JsonObject): JsonObject;
  measurement(measurement: JsonObject): JsonObject;
}

/**
 * Version 1 grew fields without a version bump; files written before each was added lack it:
 * - config.visits: visits per case (before visits: one).
 * - environment.hostThreadNice: the host thread's nice value while kernels ran (before: left alone, null).
 * - numerics.checks[].normRelError: max |a - e| / max |e| (before: not recorded, null; it cannot be
 *   recomputed from what the file holds).
 * - stagePlacement of a case with stages: where they were timed (before: each stage alone).
 * - stagesEndToEnd.timer: how the paired end to end was timed (before: as the case's own timing.timer).
 */
const V1_TO_V2: MigrationStep = {
  from: 1,
  header(header) {
    const { config, environment } = header;
    return {
      ...header,
      ...(isObject(config) && !('visits' in config) && { config: { ...config, visits: 1 } }),
      ...(isObject(environment) && !('hostThreadNice' in environment) && { environment: { ...environment, hostThreadNice: null } }),
    };
  },
  measurement(measurement) {
    const { numerics, stages, stagesEndToEnd, timing } = measurement;
    const checks = isObject(numerics) && Array.isArray(numerics['checks']) ? numerics['checks'] : null;
    return {
      ...measurement,
      ...(isObject(numerics) &&
        checks && { numerics: { ...numerics, checks: checks.map((check: unknown) => (isObject(check) && !('normRelError' in check) ? { ...check, normRelError: null } : check)) } }),
      ...(Array.isArray(stages) && !('stagePlacement' in measurement) && { stagePlacement: 'alone' }),
      ...(isObject(stagesEndToEnd) && !('timer' in stagesEndToEnd) && isObject(timing) && { stagesEndToEnd: { ...stagesEndToEnd, timer: timing['timer'] } }),
    };
  },
};

/**
 * Version 3 adds time budgets:
 * - config.budget: the run's wall-time budget (before budgets: none, null).
 * - config.plan: a budgeted run's priority order (before: none, null).
 * Cases: the status 'left-out' is new; no earlier case has it.
 */
const V2_TO_V3: MigrationStep = {
  from: 2,
  header(header) {
    const { config } = header;
    if (!isObject(config)) return header;
    return { ...header, config: { ...config, ...(!('budget' in config) && { budget: null }), ...(!('plan' in config) && { plan: null }) } };
  },
  measurement: (measurement) => measurement,
};

/**
 * Version 4 adds peers (`run --peer`):
 * - config.peers: the peer runtimes run beside every case (before peers: none, []).
 * Cases: `peers` on a timed case is new and optional (absent: the run had no peers); nothing to fill in.
 */
const V3_TO_V4: MigrationStep = {
  from: 3,
  header(header) {
    const { config } = header;
    if (!isObject(config) || 'peers' in config) return header;
    return { ...header, config: { ...config, peers: [] } };
  },
  measurement: (measurement) => measurement,
};

/** Families whose cases have tunable slots: their cases in older files ran the strategies' defaults. */
const TUNABLE_FAMILIES = new Set(['attention', 'mla', 'moe', 'gemm']);
const RAN = new Set(['ok', 'checked', 'numerics-failed']);

/**
 * Version 5 adds tuning (`mla-bench tune`, `run --tuning`):
 * - config.tuning: the tuning file a run used (before tuning: none, null).
 * - kernelConfig of a case that ran (ok, checked, numerics-failed) in a family with tunable slots: before tuning
 *   every such case ran its strategies' defaults, not recorded: { source: 'default', plans: null }.
 */
const V4_TO_V5: MigrationStep = {
  from: 4,
  header(header) {
    const { config } = header;
    if (!isObject(config) || 'tuning' in config) return header;
    return { ...header, config: { ...config, tuning: null } };
  },
  measurement(measurement) {
    const { status, family } = measurement;
    if ('kernelConfig' in measurement || !RAN.has(String(status)) || !TUNABLE_FAMILIES.has(String(family))) return measurement;
    return { ...measurement, kernelConfig: { source: 'default', plans: null } };
  },
};

/**
 * Version 6 named a peer's own kernels for any operator (MatMul joined the attention operators):
 * - peers[].kernels.attention became kernels.operator, and a program's role 'attention' became 'operator'.
 */
const V5_TO_V6: MigrationStep = {
  from: 5,
  header: (header) => header,
  measurement(measurement) {
    const { peers } = measurement;
    if (!Array.isArray(peers)) return measurement;
    return { ...measurement, peers: peers.map(peerWithOperatorKernels) };
  },
};

function peerWithOperatorKernels(peer: unknown): unknown {
  if (!isObject(peer) || !isObject(peer['kernels']) || !('attention' in peer['kernels'])) return peer;
  const { attention, programs, ...rest } = peer['kernels'];
  const renamed = Array.isArray(programs)
    ? programs.map((p: unknown) => (isObject(p) && p['role'] === 'attention' ? { ...p, role: 'operator' } : p))
    : programs;
  return { ...peer, kernels: { operator: attention, ...rest, programs: renamed } };
}

/**
 * Version 7 adds peers[].stage (an entry for one stage of a case: a MatMul per MLA GEMM stage) and a failing peer's
 * failingKernels (its kernels' times, kept apart). A version-6 entry is for the whole case, which is what an entry
 * without `stage` means, and its failing peers were not timed, which is what an absent failingKernels means:
 * nothing to fill in.
 */
const V6_TO_V7: MigrationStep = {
  from: 6,
  header: (header) => header,
  measurement: (measurement) => measurement,
};

/**
 * Version 8 adds environment.hostWait: how the host thread waited for the adapter. Every earlier mla-bench spun
 * through Dawn's event loop ('spin'); from version 8 a CPU adapter's host thread sleeps between ticks ('sleep').
 */
const V7_TO_V8: MigrationStep = {
  from: 7,
  header(header) {
    const { environment } = header;
    return isObject(environment) && !('hostWait' in environment) ? { ...header, environment: { ...environment, hostWait: 'spin' } } : header;
  },
  measurement: (measurement) => measurement,
};

/** Every step, in version order: STEPS[i] reads version i + 1 (a test reads a version-1 file back as the current one). */
const STEPS: readonly MigrationStep[] = [V1_TO_V2, V2_TO_V3, V3_TO_V4, V4_TO_V5, V5_TO_V6, V6_TO_V7, V7_TO_V8];

/** Why a file cannot be read, or null when its version is one this mla-bench reads (or for the schema check to judge). */
export function unreadableVersion(header: unknown): string | null {
  const version = isObject(header) ? header['schemaVersion'] : undefined;
  if (typeof version === 'number' && Number.isInteger(version) && version > RESULTS_SCHEMA_VERSION) {
    return `schemaVersion ${version}: written by a newer mla-bench (this one reads versions 1 to ${RESULTS_SCHEMA_VERSION}); update mla-bench to read it`;
  }
  return null;
}

/** The steps from a header's version to the current one; none where the version is current or not one we know. */
function stepsFrom(header: unknown): readonly MigrationStep[] {
  const version = isObject(header) ? header['schemaVersion'] : undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) return [];
  return STEPS.slice(version - 1);
}

function migrated(header: unknown, steps: readonly MigrationStep[]): unknown {
  if (!isObject(header)) return header;
  return steps.reduce((h, step) => ({ ...step.header(h), schemaVersion: step.from + 1 }), header);
}

/** A journal's header (or a results file's top level without its cases) in the current shape. */
export function migrateHeader(header: unknown): unknown {
  return migrated(header, stepsFrom(header));
}

/** One case written under `header` (as read, before its own migration), in the current shape. */
export function migrateMeasurement(measurement: unknown, header: unknown): unknown {
  if (!isObject(measurement)) return measurement;
  return stepsFrom(header).reduce((m, step) => step.measurement(m), measurement);
}

/** A whole results file in the current shape. */
export function migrateResultFile(file: unknown): unknown {
  if (!isObject(file)) return file;
  const { cases } = file;
  return { ...(migrated(file, stepsFrom(file)) as JsonObject), ...(Array.isArray(cases) && { cases: cases.map((c: unknown) => migrateMeasurement(c, file)) }) };
}
