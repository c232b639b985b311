import { UserError } from '../errors.js';
import { compactDuration } from '../util/duration.js';
import { ruleWithin, type StoppingRule } from '../measure/stopping.js';
import type { PlannedCase } from '../suites/expand.js';

/** A run's time budget: milliseconds of wall time, or none (every case, at its full stopping rule). */
export type Budget = { kind: 'none' } | { kind: 'bounded'; ms: number };

export const NO_BUDGET: Budget = { kind: 'none' };

/** What `mla-bench run` spends without --budget, on any adapter: the quick profile on lavapipe fits in it. */
export const DEFAULT_BUDGET_MS = 10 * 60_000;

/** Below this, calibration alone would not fit on a software adapter; the budget is refused. */
export const MIN_BUDGET_MS = 30_000;
/** The most a budget may ask for: a week. */
export const MAX_BUDGET_MS = 7 * 24 * 3600_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3 };

/** `tune` has no calibration to fit: a budget down to a few seconds tunes a tiny case. */
export const MIN_TUNE_BUDGET_MS = 5_000;

/** `45s`, `10m`, `1h`, `1h30m`, `90s`, `none`; at least `minMs` (MIN_BUDGET_MS: a run's calibration). */
export function parseBudget(text: string, minMs = MIN_BUDGET_MS): Budget {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'none') return NO_BUDGET;
  const parts = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(trimmed) ? trimmed.match(/\d+(?:\.\d+)?(?:ms|s|m|h)/g) : null;
  if (!parts) throw new UserError(`--budget "${text}" is not a duration: use e.g. 45s, 10m, 1h30m, or none`);
  const ms = parts.reduce((sum, part) => {
    const [, value, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(part)!;
    return sum + Number(value) * UNIT_MS[unit!]!;
  }, 0);
  if (ms < minMs) {
    const why = minMs === MIN_BUDGET_MS ? ' (calibration alone needs about that)' : '';
    throw new UserError(`--budget ${text} is below the minimum of ${minMs / 1e3}s${why}`);
  }
  if (ms > MAX_BUDGET_MS) throw new UserError(`--budget ${text} is above the maximum of ${MAX_BUDGET_MS / 3600e3}h; use none for no bound`);
  return { kind: 'bounded', ms };
}

export function formatBudget(budget: Budget): string {
  return budget.kind === 'none' ? 'none' : compactDuration(budget.ms);
}

/** Why a case runs when it does: calibration first, then the headline set, then the rest breadth-first. */
export type Priority = 'calibration' | 'headline' | 'breadth';
export const PRIORITIES: readonly Priority[] = ['calibration', 'headline', 'breadth'];

export interface PrioritizedCase {
  planned: PlannedCase;
  priority: Priority;
}

/**
 * A suite's cases ordered so that every prefix covers as many axis values as it can: each next case is the one
 * that brings the most (axis, value) pairs not yet seen, ties in plan order. Wherever a budget cuts the list,
 * what ran spans the sweep instead of its first corner.
 */
export function breadthFirst(cases: readonly PlannedCase[]): PlannedCase[] {
  const seen = new Set<string>();
  const left = [...cases];
  const ordered: PlannedCase[] = [];
  while (left.length) {
    let best = 0;
    let bestNew = -1;
    left.forEach((planned, index) => {
      const fresh = Object.entries(planned.params).filter(([axis, value]) => !seen.has(`${axis}=${value}`)).length;
      if (fresh > bestNew) {
        best = index;
        bestNew = fresh;
      }
    });
    const [next] = left.splice(best, 1);
    for (const [axis, value] of Object.entries(next!.params)) seen.add(`${axis}=${value}`);
    ordered.push(next!);
  }
  return ordered;
}

/** Round-robin over lists: the first of each, then the second of each, ... */
export function interleave<T>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  const longest = Math.max(0, ...lists.map((list) => list.length));
  for (let i = 0; i < longest; i++) for (const list of lists) if (i < list.length) out.push(list[i]!);
  return out;
}

/**
 * The order a budgeted run takes its cases in: calibration (as planned), then every suite's headline cases
 * (suites round-robin, each suite's own breadth-first), then the rest of every suite likewise, so the widest
 * spread of questions is answered wherever the budget ends.
 */
export function prioritize(
  cases: readonly PlannedCase[],
  isCalibration: (planned: PlannedCase) => boolean,
  isHeadline: (planned: PlannedCase) => boolean,
): PrioritizedCase[] {
  const suites = [...new Set(cases.map((planned) => planned.suite))];
  const tier = (keep: (planned: PlannedCase) => boolean): PlannedCase[] =>
    interleave(suites.map((suite) => breadthFirst(cases.filter((planned) => planned.suite === suite && keep(planned)))));
  const calibration = cases.filter(isCalibration);
  const headline = tier((planned) => !isCalibration(planned) && isHeadline(planned));
  const breadth = tier((planned) => !isCalibration(planned) && !isHeadline(planned));
  return [
    ...calibration.map((planned) => ({ planned, priority: 'calibration' as const })),
    ...headline.map((planned) => ({ planned, priority: 'headline' as const })),
    ...breadth.map((planned) => ({ planned, priority: 'breadth' as const })),
  ];
}

/** What a visit of a case may cost beyond its sampling, and the least sampling worth having. */
export interface CostModel {
  /** Build, upload, one run and the float64 check (first visit), per suite once measured. */
  firstVisitMs: number;
  /** Build, upload and one run (later visits). */
  laterVisitMs: number;
  /** A visit that cannot sample this long is not worth starting. */
  minSamplingMs: number;
}

/** Starting estimates per adapter class; a run replaces them with what it measures. */
export const DEFAULT_COSTS: Record<'software' | 'gpu', CostModel> = {
  software: { firstVisitMs: 3000, laterVisitMs: 800, minSamplingMs: 300 },
  gpu: { firstVisitMs: 1500, laterVisitMs: 300, minSamplingMs: 200 },
};

/** Calibration's share of a budget at most: the ceilings every other case is reported against. */
export const CALIBRATION_SHARE = 0.2;
/** Kept back for writing the results file and closing the device. */
export const RESERVE_SHARE = 0.02;

export interface Candidate {
  key: string;
  suite: string;
  priority: Priority;
  /** Timed cases get later visits; checked-only and skipped ones end after the first. */
  timed: boolean;
}

/** A visit's sampling time and the stopping rule scaled to it. */
export interface VisitShare {
  samplingMs: number;
  rule: StoppingRule;
}

/** An estimate that moves a third of the way towards each new measurement. */
function blend(previous: number | undefined, measured: number): number {
  return previous === undefined ? measured : previous + (measured - previous) / 3;
}

/**
 * Decides, as a run goes, which cases fit its budget and how long each visit samples. Cases come in priority
 * order; each first visit is admitted only if it, the later visits of every admitted case and as many of the
 * cases after it as can still fit leave the budget whole, and all of them share what is left equally. Costs
 * beyond sampling are learned per suite from the visits measured so far. Pure: the clock is passed in.
 */
export class BudgetController {
  private readonly firstMs = new Map<string, number>();
  private readonly laterMs = new Map<string, number>();
  /** Planned sampling per visit of each admitted timed case, and its visits still to come. */
  private readonly admitted = new Map<string, { suite: string; calibration: boolean; samplingMs: number; visitsLeft: number }>();
  private readonly calibrationMs: number;
  /** Calibration's costs are a microbenchmark's: they say nothing of what a suite not seen yet will cost. */
  private readonly calibrationSuites = new Set<string>();
  private readonly reserveMs: number;

  constructor(
    readonly budgetMs: number,
    private readonly visits: number,
    /** The per-visit stopping rule (the run's rule divided by its visits). */
    private readonly visitRule: StoppingRule,
    private readonly costs: CostModel,
    private readonly startMs: number,
  ) {
    this.calibrationMs = budgetMs * CALIBRATION_SHARE;
    this.reserveMs = budgetMs * RESERVE_SHARE;
  }

  /**
   * A suite's first-visit cost: learned, or for a suite not seen yet, the mean of what the suites seen so far
   * cost (the machine's own scale: a software adapter compiles a pipeline for seconds), at least the default.
   */
  private first(suite: string, cautious = false): number {
    const learned = this.firstMs.get(suite);
    if (learned !== undefined) return learned;
    const seen = [...this.firstMs.entries()].filter(([name]) => !this.calibrationSuites.has(name)).map(([, ms]) => ms);
    const guess = cautious ? Math.max(0, ...seen) : seen.length ? seen.reduce((a, b) => a + b, 0) / seen.length : 0;
    return Math.max(this.costs.firstVisitMs, guess);
  }

  private later(suite: string): number {
    return this.laterMs.get(suite) ?? this.costs.laterVisitMs;
  }

  /** Time the admitted cases' later visits will take, at their planned shares (calibration's alone, or all). */
  private committedMs(calibrationOnly = false): number {
    let sum = 0;
    for (const c of this.admitted.values())
      if (c.calibration || !calibrationOnly) sum += c.visitsLeft * (this.later(c.suite) + c.samplingMs);
    return sum;
  }

  /** What is left of the budget at `now`, less the reserve. */
  remainingMs(now: number): number {
    return this.budgetMs - this.reserveMs - (now - this.startMs);
  }

  /**
   * The first visit of `next` (with `after`, the candidates behind it in priority order; `visits` each, the
   * run's by default): its share, or null when it does not fit. `cautious` prices a suite not seen yet as the
   * dearest seen so far (the last minutes of a budget have no slack for a surprise). Calibration runs within its own share of the budget and is never left out: the run needs
   * its ceilings, and the minimum budget is sized for it.
   */
  admit(next: Candidate, after: readonly Candidate[], now: number, visits = this.visits, cautious = false): VisitShare | null {
    const isCalibration = next.priority === 'calibration';
    if (isCalibration) this.calibrationSuites.add(next.suite);
    const pool = isCalibration
      ? Math.min(this.remainingMs(now) - this.committedMs(), this.calibrationMs - (now - this.startMs) - this.committedMs(true))
      : this.remainingMs(now) - this.committedMs();
    const group = isCalibration ? [next, ...after.filter((c) => c.priority === 'calibration')] : [next, ...after];
    const laterVisits = (c: Candidate): number => (c.timed ? visits - 1 : 0);
    const sampledVisits = (c: Candidate): number => (c.timed ? visits : 0);
    // The longest prefix of the group that fits with every visit at the minimum sampling.
    let fixed = 0;
    let sampled = 0;
    let fitting = 0;
    for (const c of group) {
      const f = fixed + this.first(c.suite, cautious) + laterVisits(c) * this.later(c.suite);
      const s = sampled + sampledVisits(c);
      if (f + s * this.costs.minSamplingMs > pool) break;
      fixed = f;
      sampled = s;
      fitting++;
    }
    if (fitting === 0 && !isCalibration) return null;
    const samplingMs = Math.max(this.costs.minSamplingMs, sampled > 0 ? (pool - fixed) / sampled : 0);
    if (!next.timed) return { samplingMs: 0, rule: this.visitRule };
    const share = Math.min(samplingMs, this.visitRule.timeoutMs);
    this.admitted.set(next.key, { suite: next.suite, calibration: isCalibration, samplingMs: share, visitsLeft: visits - 1 });
    return { samplingMs: share, rule: ruleWithin(this.visitRule, share) };
  }

  /**
   * A later visit of an admitted case: its planned share, scaled down with every other pending visit's when the
   * budget runs short, or null: too little is left for a useful visit, and the case gets no more visits.
   */
  revisit(key: string, now: number): VisitShare | null {
    const planned = this.admitted.get(key);
    if (!planned || planned.visitsLeft <= 0) return null;
    let overheads = 0;
    let sampling = 0;
    for (const c of this.admitted.values()) {
      overheads += c.visitsLeft * this.later(c.suite);
      sampling += c.visitsLeft * c.samplingMs;
    }
    const factor = sampling > 0 ? (this.remainingMs(now) - overheads) / sampling : 0;
    const share = planned.samplingMs * Math.min(1, factor);
    if (share < this.costs.minSamplingMs) {
      planned.visitsLeft = 0;
      return null;
    }
    planned.visitsLeft--;
    return { samplingMs: share, rule: ruleWithin(this.visitRule, share) };
  }

  /** A case measured before this run resumed: its remaining visits, each at most the rule's own timeout. */
  adopt(key: string, suite: string, visitsLeft: number): void {
    this.admitted.set(key, { suite, calibration: false, samplingMs: this.visitRule.timeoutMs, visitsLeft });
  }

  /** Later visits of `key` still planned. */
  visitsLeft(key: string): number {
    return this.admitted.get(key)?.visitsLeft ?? 0;
  }

  /** A case that ended after its first visit (skipped, checked only, failed) has no later visits to keep room for. */
  ended(key: string): void {
    this.admitted.delete(key);
  }

  /** What a visit cost beyond its sampling share: the estimate for the suite's next visits. */
  record(suite: string, visit: number, wallMs: number, samplingMs: number): void {
    const overhead = Math.max(0, wallMs - samplingMs);
    if (visit === 1) this.firstMs.set(suite, blend(this.firstMs.get(suite), overhead));
    else this.laterMs.set(suite, blend(this.laterMs.get(suite), overhead));
  }
}
