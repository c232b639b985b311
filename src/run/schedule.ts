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
 * admits them, then the later visits of the admitted cases while the budget holds. Cases measured before (a
 * resumed run) keep their visits and get the rest.
 */
export function budgetedScheduler(
  planned: PlannedCase[],
  measured: ReadonlyMap<string, Measurement>,
  options: BudgetedSchedule,
): VisitScheduler & { order: PrioritizedCase[] } {
  const { visits } = options;
  const order = prioritize(planned, options.isCalibration, (p) => p.headline === true);
  const controller = new BudgetController(options.budgetMs, visits, options.rule, options.costs, options.startMs);
  const candidate = ({ planned: p, priority }: PrioritizedCase): Candidate => ({
    key: p.key,
    suite: p.suite,
    priority,
    timed: options.isTimed(p) && !p.skip,
  });
  const firstPass = order.filter(({ planned: p }) => !measured.has(p.key));
  const revisits: PlannedCase[] = [];
  for (const { planned: p } of order) {
    const done = measured.get(p.key);
    if (done?.status === 'ok' && visitsOf(done) < visits) {
      controller.adopt(p.key, p.suite, visits - visitsOf(done));
      revisits.push(p);
    }
  }
  const visitOf = new Map(order.map(({ planned: p }) => [p.key, visitsDone(measured.get(p.key), visits)]));
  const left: PlannedCase[] = [];
  const priorityOf = new Map(order.map((c) => [c.planned.key, c.priority]));
  let first = 0;
  let pass = 2;
  let cursor = 0;
  const nextRevisit = (now: number): ScheduledVisit | null => {
    for (; pass <= visits; pass++, cursor = 0) {
      while (cursor < revisits.length) {
        const p = revisits[cursor++]!;
        if (visitOf.get(p.key)! !== pass - 1) continue;
        const share = controller.revisit(p.key, now);
        if (share) return { plannedCase: p, visit: pass, rule: share.rule, samplingBudgetMs: share.samplingMs };
      }
    }
    return null;
  };
  return {
    order,
    remaining: () => {
      const pendingFirst = left.length ? firstPass.slice(first).filter(({ planned: p }) => p.skip).length : firstPass.length - first;
      return pendingFirst + revisits.reduce((n, p) => n + controller.visitsLeft(p.key), 0);
    },
    next(now) {
      while (first < firstPass.length && left.length === 0) {
        const item = firstPass[first]!;
        if (item.planned.skip) {
          first++;
          return { plannedCase: item.planned, visit: 1, rule: options.rule };
        }
        const share = controller.admit(candidate(item), firstPass.slice(first + 1).map(candidate), now);
        if (!share) {
          left.push(
            ...firstPass
              .slice(first)
              .filter(({ planned: p }) => !p.skip)
              .map(({ planned: p }) => p),
          );
          break;
        }
        first++;
        return { plannedCase: item.planned, visit: 1, rule: share.rule, samplingBudgetMs: share.samplingMs };
      }
      // Skipped-by-rule cases after the cut are still recorded as what they are.
      while (first < firstPass.length) {
        const item = firstPass[first++]!;
        if (item.planned.skip) return { plannedCase: item.planned, visit: 1, rule: options.rule };
      }
      const revisit = nextRevisit(now);
      if (revisit) return revisit;
      // Time the estimates kept back and the visits did not use: cases left out get one visit each, in order.
      if (left.length) {
        const candidates = left.map((p) => candidate({ planned: p, priority: priorityOf.get(p.key)! }));
        const share = controller.admit(candidates[0]!, candidates.slice(1), now, 1, true);
        if (share) {
          const [p] = left.splice(0, 1);
          return { plannedCase: p!, visit: 1, rule: share.rule, samplingBudgetMs: share.samplingMs };
        }
      }
      return null;
    },
    finished(visit, measurement, wallMs) {
      const ran = measurement.status === 'ok' || measurement.status === 'checked' || measurement.status === 'numerics-failed';
      if (ran)
        controller.record(visit.plannedCase.suite, visit.visit, wallMs, measurement.status === 'ok' ? (visit.samplingBudgetMs ?? 0) : 0);
      if (visit.visit === 1) {
        if (measurement.status === 'ok' && visits > 1) revisits.push(visit.plannedCase);
        else controller.ended(visit.plannedCase.key);
      }
      if (measurement.status === 'ok' || visit.visit === 1) visitOf.set(visit.plannedCase.key, visit.visit);
    },
    leftOut: () => left,
  };
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
