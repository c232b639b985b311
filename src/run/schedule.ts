import type { StoppingRule } from '../measure/stopping.js';
import type { Measurement } from '../results/schema.js';
import { visitsOf } from '../results/visits.js';
import type { PlannedCase } from '../suites/expand.js';
import { BudgetController, prioritize, type Candidate, type CostModel, type PrioritizedCase } from './budget.js';

/** One visit of one case, with the stopping rule it samples under. */
export interface ScheduledVisit {
  plannedCase: PlannedCase;
  /** 1-based. */
  visit: number;
  rule: StoppingRule;
  /** A budgeted run's sampling time for the visit (end to end and stage rounds together). */
  samplingBudgetMs?: number;
}

/** Hands a run its case visits one at a time, learning from each as it ends. */
export interface VisitScheduler {
  /** Visits still expected, as known now (a case that ends at its first visit drops its later ones). */
  remaining(): number;
  next(now: number): ScheduledVisit | null;
  finished(visit: ScheduledVisit, measurement: Measurement, wallMs: number): void;
  /** Cases the budget left out, in priority order. */
  leftOut(): PlannedCase[];
}

function visitsDone(measurement: Measurement | undefined, visits: number): number {
  if (!measurement) return 0;
  return measurement.status === 'ok' ? visitsOf(measurement) : visits;
}

/**
 * The order of a run's case visits: every case's first visit in plan order, then every case's second, and so
 * on (visits.ts says why). Visits already in the journal (a resumed run) are left out; a case whose first visit
 * is still to come gets all its visits.
 */
export function visitSchedule(
  planned: PlannedCase[],
  measured: ReadonlyMap<string, Measurement>,
  visits: number,
): { plannedCase: PlannedCase; visit: number }[] {
  const steps: { plannedCase: PlannedCase; visit: number }[] = [];
  for (let visit = 1; visit <= visits; visit++) {
    for (const plannedCase of planned) {
      if (visit > visitsDone(measured.get(plannedCase.key), visits)) steps.push({ plannedCase, visit });
    }
  }
  return steps;
}

/** No budget: every visit of every case at the full per-visit rule; a case that ends at its first visit has no more. */
export function unboundedScheduler(
  planned: PlannedCase[],
  measured: ReadonlyMap<string, Measurement>,
  visits: number,
  rule: StoppingRule,
): VisitScheduler {
  const steps = visitSchedule(planned, measured, visits);
  const ended = new Set<string>();
  let index = 0;
  let remaining = steps.length;
  return {
    remaining: () => remaining,
    next() {
      while (index < steps.length && ended.has(steps[index]!.plannedCase.key)) index++;
      const step = steps[index++];
      return step ? { ...step, rule } : null;
    },
    finished(visit, measurement) {
      remaining--;
      if (visit.visit === 1 && measurement.status !== 'ok') {
        ended.add(visit.plannedCase.key);
        remaining -= steps.slice(index).filter((s) => s.plannedCase.key === visit.plannedCase.key).length;
      }
    },
    leftOut: () => [],
  };
}

export interface BudgetedSchedule {
  budgetMs: number;
  startMs: number;
  visits: number;
  /** The per-visit rule before the budget scales it. */
  rule: StoppingRule;
  costs: CostModel;
  isCalibration: (planned: PlannedCase) => boolean;
  isTimed: (planned: PlannedCase) => boolean;
}

/**
 * A budget: first visits in priority order (calibration, headline, the rest breadth-first) while the controller
 * admits them, then the later visits of the admitted cases while the budget holds, then what time is left for
 * the cases left out. Cases measured before (a resumed run) keep their visits and get the rest.
 */
class BudgetedScheduler implements VisitScheduler {
  readonly order: PrioritizedCase[];
  private readonly controller: BudgetController;
  private readonly firstPass: PrioritizedCase[];
  private readonly revisits: PlannedCase[] = [];
  /** Visits each case has had (its journal's, for a resumed run). */
  private readonly visitOf: Map<string, number>;
  private readonly priorityOf: Map<string, PrioritizedCase['priority']>;
  private readonly left: PlannedCase[] = [];
  private first = 0;
  private pass = 2;
  private cursor = 0;

  constructor(
    planned: PlannedCase[],
    measured: ReadonlyMap<string, Measurement>,
    private readonly options: BudgetedSchedule,
  ) {
    const { visits } = options;
    this.order = prioritize(planned, options.isCalibration, (p) => p.headline === true);
    this.controller = new BudgetController(options.budgetMs, visits, options.rule, options.costs, options.startMs);
    this.firstPass = this.order.filter(({ planned: p }) => !measured.has(p.key));
    for (const { planned: p } of this.order) {
      const done = measured.get(p.key);
      if (done?.status === 'ok' && visitsOf(done) < visits) {
        this.controller.adopt(p.key, p.suite, visits - visitsOf(done));
        this.revisits.push(p);
      }
    }
    this.visitOf = new Map(this.order.map(({ planned: p }) => [p.key, visitsDone(measured.get(p.key), visits)]));
    this.priorityOf = new Map(this.order.map((c) => [c.planned.key, c.priority]));
  }

  private candidate({ planned: p, priority }: PrioritizedCase): Candidate {
    return { key: p.key, suite: p.suite, priority, timed: this.options.isTimed(p) && !p.skip };
  }

  remaining(): number {
    const rest = this.firstPass.slice(this.first);
    const pendingFirst = this.left.length ? rest.filter(({ planned: p }) => p.skip).length : rest.length;
    return pendingFirst + this.revisits.reduce((n, p) => n + this.controller.visitsLeft(p.key), 0);
  }

  next(now: number): ScheduledVisit | null {
    return this.nextFirst(now) ?? this.nextSkipped() ?? this.nextRevisit(now) ?? this.nextFill(now);
  }

  /** The next first visit the controller admits; at the first it refuses, everything after it is left out. */
  private nextFirst(now: number): ScheduledVisit | null {
    if (this.first >= this.firstPass.length || this.left.length) return null;
    const item = this.firstPass[this.first]!;
    if (item.planned.skip) {
      this.first++;
      return { plannedCase: item.planned, visit: 1, rule: this.options.rule };
    }
    const after = this.firstPass.slice(this.first + 1).map((c) => this.candidate(c));
    const share = this.controller.admit(this.candidate(item), after, now);
    if (share) {
      this.first++;
      return { plannedCase: item.planned, visit: 1, rule: share.rule, samplingBudgetMs: share.samplingMs };
    }
    const cut = this.firstPass.slice(this.first).filter(({ planned: p }) => !p.skip);
    this.left.push(...cut.map(({ planned: p }) => p));
    return null;
  }

  /** Skipped-by-rule cases after the cut are still recorded as what they are. */
  private nextSkipped(): ScheduledVisit | null {
    while (this.first < this.firstPass.length) {
      const item = this.firstPass[this.first++]!;
      if (item.planned.skip) return { plannedCase: item.planned, visit: 1, rule: this.options.rule };
    }
    return null;
  }

  private nextRevisit(now: number): ScheduledVisit | null {
    for (; this.pass <= this.options.visits; this.pass++, this.cursor = 0) {
      while (this.cursor < this.revisits.length) {
        const p = this.revisits[this.cursor++]!;
        if (this.visitOf.get(p.key)! !== this.pass - 1) continue;
        const share = this.controller.revisit(p.key, now);
        if (share) return { plannedCase: p, visit: this.pass, rule: share.rule, samplingBudgetMs: share.samplingMs };
      }
    }
    return null;
  }

  /** Time the estimates kept back and the visits did not use: cases left out get one visit each, in order. */
  private nextFill(now: number): ScheduledVisit | null {
    if (!this.left.length) return null;
    const candidates = this.left.map((p) => this.candidate({ planned: p, priority: this.priorityOf.get(p.key)! }));
    const share = this.controller.admit(candidates[0]!, candidates.slice(1), now, 1, true);
    if (!share) return null;
    const [p] = this.left.splice(0, 1);
    return { plannedCase: p!, visit: 1, rule: share.rule, samplingBudgetMs: share.samplingMs };
  }

  finished(visit: ScheduledVisit, measurement: Measurement, wallMs: number): void {
    const { plannedCase } = visit;
    const ran = measurement.status === 'ok' || measurement.status === 'checked' || measurement.status === 'numerics-failed';
    if (ran)
      this.controller.record(plannedCase.suite, visit.visit, wallMs, measurement.status === 'ok' ? (visit.samplingBudgetMs ?? 0) : 0);
    if (visit.visit === 1) {
      if (measurement.status === 'ok' && this.options.visits > 1) this.revisits.push(plannedCase);
      else this.controller.ended(plannedCase.key);
    }
    if (measurement.status === 'ok' || visit.visit === 1) this.visitOf.set(plannedCase.key, visit.visit);
  }

  leftOut(): PlannedCase[] {
    return this.left;
  }
}

export function budgetedScheduler(
  planned: PlannedCase[],
  measured: ReadonlyMap<string, Measurement>,
  options: BudgetedSchedule,
): VisitScheduler & { order: PrioritizedCase[] } {
  return new BudgetedScheduler(planned, measured, options);
}

/** One case of a budget's plan as `list --budget` shows it. */
export interface PlannedShare {
  key: string;
  priority: PrioritizedCase['priority'];
  /** Visits that fit, and the sampling time of the first. */
  visits: number;
  samplingMs: number;
}

/**
 * What a budget would run, before anything does: the budgeted schedule driven by a clock that advances by the
 * starting cost estimates (a run re-plans from what it measures), every visit spending its whole share.
 */
export function simulateBudget(
  planned: PlannedCase[],
  options: BudgetedSchedule,
): { shares: PlannedShare[]; leftOut: PlannedCase[]; endMs: number } {
  const scheduler = budgetedScheduler(planned, new Map(), options);
  const priorityOf = new Map(scheduler.order.map((c) => [c.planned.key, c.priority]));
  const shares = new Map<string, PlannedShare>();
  let now = options.startMs;
  for (let next = scheduler.next(now); next; next = scheduler.next(now)) {
    const { plannedCase: p, visit } = next;
    const sampling = next.samplingBudgetMs ?? 0;
    const wall = p.skip ? 0 : (visit === 1 ? options.costs.firstVisitMs : options.costs.laterVisitMs) + sampling;
    now += wall;
    const timed = options.isTimed(p) && !p.skip;
    const measurement = (
      p.skip ? { status: 'skipped' } : timed ? { status: 'ok', timing: { visits: visit } } : { status: 'checked' }
    ) as Measurement;
    scheduler.finished(next, { ...measurement, key: p.key, suite: p.suite, family: '', params: p.params } as Measurement, wall);
    const share = shares.get(p.key);
    if (share) share.visits = visit;
    else shares.set(p.key, { key: p.key, priority: priorityOf.get(p.key)!, visits: p.skip ? 0 : 1, samplingMs: timed ? sampling : 0 });
  }
  return { shares: [...shares.values()], leftOut: scheduler.leftOut(), endMs: now };
}
