import { UserError } from '../errors.js';
import { ceilingField, type Ceilings } from '../measure/rates.js';
import type { KernelConfig, OkMeasurement } from '../results/schema.js';
import { isSoftwareAdapter } from '../util/adapter-kind.js';
import { exactRankP, geomean, mannWhitneyU, ratioOfMedians, verdict, type Verdict, type VisitEvidence } from './compare-stats.js';
import { okCases, passedCases, type LoadedResults } from './data.js';
import { CEILING_LABELS } from './format.js';

export interface CaseComparison {
  key: string;
  suite: string;
  params: Record<string, string | number>;
  /** Base and candidate median GPU time per repeat (ms). */
  baseMs: number;
  candidateMs: number;
  /** candidate / base as measured: above 1 is slower. */
  rawRatio: number;
  /**
   * What the verdict judges: candidate / base with the machine's shift divided out (rawRatio /
   * CandidateComparison.machine), or rawRatio where there is none. CI95, p and visits are of the same corrected samples.
   */
  ratio: number;
  ci95: { lo: number; hi: number };
  /** Two-sided Mann-Whitney U p-value. */
  p: number;
  /** Where both runs sampled the case in visits: the visit-level rank test (exactRankP) each way. */
  visits: VisitEvidence | null;
  /**
   * This case's noise band (a fraction): the comparison's, widened to the spread of either run's own visit medians
   * (max / min - 1), since a run that does not reproduce its own figure from visit to visit cannot call a smaller
   * difference the build's.
   */
  band: number;
  verdict: Verdict;
}

export interface SuiteSummary {
  suite: string;
  cases: number;
  geomeanRatio: number;
  faster: number;
  slower: number;
  same: number;
  inconclusive: number;
}

/**
 * One calibrated ceiling of both runs as a time ratio (candidate / base, above 1: the machine itself ran
 * slower), so it reads like the case ratios beside it.
 */
export interface CeilingShift {
  ceiling: keyof Ceilings;
  label: string;
  base: number;
  candidate: number;
  timeRatio: number;
  /** Outside the noise band: the machine moved between the runs, whatever the build did. */
  moved: boolean;
}

export interface CandidateComparison {
  base: string;
  candidate: string;
  cases: CaseComparison[];
  suites: SuiteSummary[];
  /** The ceilings both runs calibrated. */
  ceilings: CeilingShift[];
  /**
   * The machine's time ratio (candidate / base, above 1: it ran slower) divided out of every case's ratio: the median
   * over the ceilings of calibrationShifts. Null where not corrected (CompareOptions.machineCorrection) or where the
   * runs share no calibration kernel.
   */
  machine: number | null;
  /** Keys only one side measured (ok), or measured but failed on the other. */
  onlyInBase: string[];
  onlyInCandidate: string[];
  /** Keys timed (ok) on one side and checked without timing on the other (a suite that stopped or started timing). */
  timedOnOneSide: string[];
  /**
   * Keys a time budget left out on one side and measured (timed or checked) on the other: no verdict either way,
   * and never counted as missing.
   */
  leftOutOnOneSide: LeftOutOnOneSide[];
}

export interface LeftOutOnOneSide {
  key: string;
  suite: string;
  /** The side whose budget left it out. */
  leftOutIn: 'base' | 'candidate';
}

export interface CompareOptions {
  /** Noise band as a fraction (0.02 = +-2 %). */
  noise: number;
  /** Divide each case's ratio by the time ratio of the ceiling that bounds it (default true). */
  machineCorrection?: boolean;
  alpha?: number;
  resamples?: number;
  seed?: number;
}

function byKey(results: LoadedResults): Map<string, OkMeasurement> {
  return new Map(okCases(results.results.cases).map((c) => [c.key, c]));
}

/** Rates (GB/s, GFLOP/s) turn into time ratios inverted; the dispatch overhead is a time already. */
export function ceilingShifts(base: Ceilings, candidate: Ceilings, noise: number): CeilingShift[] {
  return (Object.keys(CEILING_LABELS) as (keyof Ceilings)[]).flatMap((ceiling) => {
    const b = base[ceiling];
    const c = candidate[ceiling];
    if (b === null || c === null || !(b > 0) || !(c > 0)) return [];
    const timeRatio = ceiling === 'dispatchUs' ? c / b : b / c;
    return [{ ceiling, label: CEILING_LABELS[ceiling], base: b, candidate: c, timeRatio, moved: Math.abs(timeRatio - 1) > noise }];
  });
}

/** One line on the ceilings that moved past the noise band, or null when the machine held still. */
export function machineDriftNote(shifts: readonly CeilingShift[], noisePct: number, corrected: boolean): string | null {
  const moved = shifts.filter((s) => s.moved);
  if (moved.length === 0) return null;
  const list = moved.map((s) => `${s.label} ${s.timeRatio.toFixed(2)}x`).join(', ');
  const consequence = corrected
    ? "each case's ratio has the machine's shift divided out, but a machine that moved this much may have moved during the runs too: rerun both on a quiet machine before trusting a verdict"
    : "verdicts of cases bound by them may be the machine's, not the build's";
  return `the machine itself moved between these runs: its calibrated ceilings (time ratio, above 1 slower) ${list}, past the ±${noisePct}% band; ${consequence}`;
}

/** Compares one candidate with the base, case by case (matched by key). */
export function compareResults(base: LoadedResults, candidate: LoadedResults, opts: CompareOptions): CandidateComparison {
  const baseCases = byKey(base);
  const candidateCases = byKey(candidate);
  const checkedKeys = (r: LoadedResults): Set<string> => new Set(r.results.cases.filter((c) => c.status === 'checked').map((c) => c.key));
  const baseChecked = checkedKeys(base);
  const candidateChecked = checkedKeys(candidate);
  const shifts = ceilingShifts(base.results.ceilings, candidate.results.ceilings, opts.noise);
  const machine = opts.machineCorrection === false ? null : machineFactor(calibrationShifts(baseCases, candidateCases));
  const cases: CaseComparison[] = [];
  for (const [key, b] of baseCases) {
    const c = candidateCases.get(key);
    if (c) cases.push(compareCase(b, c, machine ?? 1, opts));
  }
  const suites = [...new Set(cases.map((c) => c.suite))].map((suite): SuiteSummary => {
    const own = cases.filter((c) => c.suite === suite);
    const count = (v: Verdict): number => own.filter((c) => c.verdict === v).length;
    return {
      suite,
      cases: own.length,
      geomeanRatio: geomean(own.map((c) => c.ratio)),
      faster: count('faster'),
      slower: count('slower'),
      same: count('same'),
      inconclusive: count('inconclusive'),
    };
  });
  const leftOutOnOneSide = [...leftOutAgainst(base, candidate, 'base'), ...leftOutAgainst(candidate, base, 'candidate')];
  const leftOut = new Set(leftOutOnOneSide.map((x) => x.key));
  return {
    base: base.path,
    candidate: candidate.path,
    cases,
    suites,
    ceilings: shifts,
    machine,
    onlyInBase: [...baseCases.keys()].filter((k) => !candidateCases.has(k) && !candidateChecked.has(k) && !leftOut.has(k)),
    onlyInCandidate: [...candidateCases.keys()].filter((k) => !baseCases.has(k) && !baseChecked.has(k) && !leftOut.has(k)),
    leftOutOnOneSide,
    timedOnOneSide: [
      ...[...baseCases.keys()].filter((k) => candidateChecked.has(k)),
      ...[...candidateCases.keys()].filter((k) => baseChecked.has(k)),
    ],
  };
}

/** One case both runs timed: the candidate's samples divided by the machine's shift, then ratio, tests and verdict. */
function compareCase(b: OkMeasurement, c: OkMeasurement, machine: number, opts: CompareOptions): CaseComparison {
  const scale = (xs: readonly number[]): number[] => xs.map((x) => x / machine);
  const candidateSamples = scale(c.timing.samplesMs);
  const estimate = ratioOfMedians(b.timing.samplesMs, candidateSamples, {
    ...(opts.resamples !== undefined && { resamples: opts.resamples }),
    ...(opts.seed !== undefined && { seed: opts.seed }),
  });
  const { p } = mannWhitneyU(b.timing.samplesMs, candidateSamples);
  const candidateVisits = c.timing.visitMediansMs && scale(c.timing.visitMediansMs);
  const visits = visitEvidence(b.timing.visitMediansMs, candidateVisits, opts.alpha ?? 0.05);
  const band = caseBand(opts.noise, b.timing.visitMediansMs, c.timing.visitMediansMs);
  return {
    key: b.key,
    suite: b.suite,
    params: b.params,
    baseMs: b.timing.gpu.median,
    candidateMs: c.timing.gpu.median,
    rawRatio: estimate.ratio * machine,
    ratio: estimate.ratio,
    ci95: estimate.ci95,
    p,
    visits,
    band,
    verdict: verdict(estimate, p, opts.noise, opts.alpha ?? 0.05, visits, band),
  };
}

/** The machine's time ratio (candidate / base) per ceiling. */
export type MachineShifts = ReadonlyMap<keyof Ceilings, number>;

/**
 * The machine's shift per ceiling between two runs, from the calibration cases that measure it: the geometric mean
 * of their candidate / base medians, pooled over every visit (spread over the run). Not the recorded ceilings: those
 * come from the first calibration visit alone, and one slow moment there (a run's copy ceiling read 11.0 instead of
 * 18.0 GB/s while its copy kernels' pooled medians moved 5%) would move every case the ceiling bounds.
 */
export function calibrationShifts(base: ReadonlyMap<string, OkMeasurement>, candidate: ReadonlyMap<string, OkMeasurement>): MachineShifts {
  const logs = new Map<keyof Ceilings, number[]>();
  for (const [key, b] of base) {
    const c = candidate.get(key);
    const field = b.family === 'calibration' && b.ceiling && ceilingField(b.ceiling);
    if (!c || !field || !(b.timing.gpu.median > 0) || !(c.timing.gpu.median > 0)) continue;
    logs.set(field, [...(logs.get(field) ?? []), Math.log(c.timing.gpu.median / b.timing.gpu.median)]);
  }
  return new Map([...logs].map(([field, values]) => [field, Math.exp(values.reduce((sum, v) => sum + v, 0) / values.length)]));
}

/**
 * One factor for the whole machine: the median of the ceilings' shifts. Per ceiling, the calibration kernels of one
 * kind can swing by themselves (on lavapipe a copy kernel's visits ran 3.9 and 8.1 ms in one run, its pooled median
 * 17% off while every memory-bound kernel moved under 8%), so dividing a case by the shift of its own roof alone
 * moved verdicts the other way; a shared machine that slows down slows every kernel kind, which the median keeps.
 */
export function machineFactor(shifts: MachineShifts): number | null {
  const values = [...shifts.values()].sort((x, y) => x - y);
  if (values.length === 0) return null;
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : Math.sqrt(values[mid - 1]! * values[mid]!);
}

/** The comparison's band, widened to the larger spread (max / min - 1) of either run's visit medians. */
export function caseBand(noise: number, ...visitMedians: ReadonlyArray<readonly number[] | undefined>): number {
  const spreads = visitMedians.map((v) => (v && v.length > 1 ? Math.max(...v) / Math.min(...v) - 1 : 0));
  return Math.max(noise, ...spreads);
}

/** Keys `side`'s budget left out that `other` measured (timed or checked). */
function leftOutAgainst(side: LoadedResults, other: LoadedResults, name: LeftOutOnOneSide['leftOutIn']): LeftOutOnOneSide[] {
  const measured = new Set(passedCases(other.results.cases).map((c) => c.key));
  return side.results.cases
    .filter((c) => c.status === 'left-out' && measured.has(c.key))
    .map((c) => ({ key: c.key, suite: c.suite, leftOutIn: name }));
}

/** The visit-level rank test where both runs sampled the case in two or more visits (else null). */
export function visitEvidence(b: readonly number[] | undefined, c: readonly number[] | undefined, alpha = 0.05): VisitEvidence | null {
  if (!b || !c || b.length + c.length > 24) return null;
  // Too few visits for the test ever to reach alpha (2 against 2: at best 1/6): then it cannot judge.
  if (1 / binomial(b.length + c.length, c.length) > alpha) return null;
  return { slowerP: exactRankP(b, c), fasterP: exactRankP(c, b) };
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/** Cases significantly slower by more than `pct` percent. */
export function regressions(comparison: CandidateComparison, pct: number): CaseComparison[] {
  return comparison.cases.filter((c) => c.verdict === 'slower' && c.ratio > 1 + pct / 100);
}

/** Noise band for GPUs: within-run CIs of a few percent, and run-to-run drift about as small. */
export const GPU_NOISE_PCT = 2;
/**
 * Software adapters (lavapipe, SwiftShader, WARP) run on a shared CPU: two runs of the same build drift by
 * 5-10 % from one process to the next (frequency, caches, neighbours), far beyond their within-run CIs.
 */
export const SOFTWARE_NOISE_PCT = 10;

/** The default noise band for comparisons with this base: wider where the device is a CPU. */
export function defaultNoisePct(base: LoadedResults): number {
  const { adapter } = base.results.environment;
  return isSoftwareAdapter(adapter) ? SOFTWARE_NOISE_PCT : GPU_NOISE_PCT;
}

/** Throws unless every file comes from the base's device. */
export function assertSameDevice(files: readonly LoadedResults[]): void {
  const [base, ...rest] = files;
  if (!base) return;
  const other = rest.find((f) => f.device !== base.device);
  if (other) {
    throw new UserError(
      `${other.path} comes from another device (${other.device}) than ${base.path} (${base.device}); use --cross-hardware for a side-by-side table`,
    );
  }
}

export interface CrossHardwareTable {
  devices: Array<{ device: string; files: string[] }>;
  /** Median GPU time per repeat (ms) per case key, one entry per device (null: not measured there). */
  rows: Array<{
    key: string;
    suite: string;
    params: Record<string, string | number>;
    medians: Array<number | null>;
    /** The plans each device ran the case with (null: not measured there, or a file from before v5 tuning). */
    configs: Array<KernelConfig | null>;
  }>;
}

/** One column per device: the median per case (the last file of a device wins on a repeated key). */
export function crossHardwareTable(files: readonly LoadedResults[]): CrossHardwareTable {
  const devices: CrossHardwareTable['devices'] = [];
  const medians = new Map<string, Map<string, number>>();
  const configs = new Map<string, Map<string, KernelConfig>>();
  const named = new Map<string, { suite: string; params: Record<string, string | number> }>();
  for (const file of files) {
    let device = devices.find((d) => d.device === file.device);
    if (!device) devices.push((device = { device: file.device, files: [] }));
    device.files.push(file.path);
    for (const c of okCases(file.results.cases)) {
      named.set(c.key, { suite: c.suite, params: c.params });
      let perDevice = medians.get(c.key);
      if (!perDevice) medians.set(c.key, (perDevice = new Map()));
      perDevice.set(file.device, c.timing.gpu.median);
      if (c.kernelConfig) configs.set(c.key, (configs.get(c.key) ?? new Map()).set(file.device, c.kernelConfig));
    }
  }
  return {
    devices,
    rows: [...medians].map(([key, perDevice]) => ({
      key,
      suite: named.get(key)?.suite ?? '',
      params: named.get(key)?.params ?? {},
      medians: devices.map((d) => perDevice.get(d.device) ?? null),
      configs: devices.map((d) => configs.get(key)?.get(d.device) ?? null),
    })),
  };
}
