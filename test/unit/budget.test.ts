import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import type { Measurement } from '../../src/results/schema.js';
import {
  BudgetController,
  breadthFirst,
  formatBudget,
  interleave,
  parseBudget,
  prioritize,
  type Candidate,
  type CostModel,
} from '../../src/run/budget.js';
import { budgetedScheduler } from '../../src/run/schedule.js';
import type { PlannedCase } from '../../src/suites/expand.js';

const RULE = { minSamples: 4, maxSamples: 700, maxRelNoise: 0.01, minTimeMs: 167, timeoutMs: 10_000 };
const COSTS: CostModel = { firstVisitMs: 1000, laterVisitMs: 200, minSamplingMs: 300 };

function planned(suite: string, params: Record<string, string | number>, extra: Partial<PlannedCase> = {}): PlannedCase {
  return {
    suite,
    params,
    key: `${suite}/${Object.entries(params)
      .map(([a, v]) => `${a}=${v}`)
      .join(',')}`,
    ...extra,
  };
}

test('budgets: durations with units, none, and one-line errors for the rest', () => {
  assert.deepEqual(parseBudget('45s'), { kind: 'bounded', ms: 45_000 });
  assert.deepEqual(parseBudget('10m'), { kind: 'bounded', ms: 600_000 });
  assert.deepEqual(parseBudget('1h30m'), { kind: 'bounded', ms: 5_400_000 });
  assert.deepEqual(parseBudget(' 2M '), { kind: 'bounded', ms: 120_000 });
  assert.deepEqual(parseBudget('none'), { kind: 'none' });
  for (const bad of ['0', '0s', '-1', '-1m', 'abc', '10', '1.5.2m', '', 'm', '10 m']) {
    assert.throws(
      () => parseBudget(bad),
      (e: Error) => e instanceof UserError && !e.message.includes('\n'),
      bad,
    );
  }
  assert.throws(() => parseBudget('20s'), /below the minimum of 30s/);
  assert.throws(() => parseBudget('200h'), /above the maximum/);
  assert.equal(formatBudget({ kind: 'bounded', ms: 600_000 }), '10m');
  assert.equal(formatBudget({ kind: 'bounded', ms: 5_430_000 }), '1h30m30s');
  assert.equal(formatBudget({ kind: 'bounded', ms: 45_000 }), '45s');
});

test('breadth first: each next case brings the most axis values not yet seen', () => {
  const cases = [1, 2].flatMap((batch) =>
    [1024, 8192].flatMap((context) => ['f16', 'f32'].map((dtype) => planned('s', { batch, context, dtype }))),
  );
  const order = breadthFirst(cases).map((c) => c.key);
  assert.equal(order[0], 's/batch=1,context=1024,dtype=f16');
  assert.equal(order[1], 's/batch=2,context=8192,dtype=f32', 'the second case differs in every axis');
  assert.equal(new Set(order).size, cases.length);
  assert.deepEqual(interleave([[1, 2, 3], [4], [5, 6]]), [1, 4, 5, 2, 6, 3]);
});

test('priority: calibration as planned, then headline cases suites round-robin, then the rest', () => {
  const cases = [
    planned('calibration', { kernel: 'copy' }),
    planned('calibration', { kernel: 'fma' }),
    planned('a', { x: 1 }, { headline: true }),
    planned('a', { x: 2 }),
    planned('a', { x: 3 }, { headline: true }),
    planned('b', { y: 1 }),
    planned('b', { y: 2 }, { headline: true }),
  ];
  const order = prioritize(
    cases,
    (c) => c.suite === 'calibration',
    (c) => c.headline === true,
  );
  assert.deepEqual(
    order.map((c) => `${c.priority}:${c.planned.key}`),
    [
      'calibration:calibration/kernel=copy',
      'calibration:calibration/kernel=fma',
      'headline:a/x=1',
      'headline:b/y=2',
      'headline:a/x=3',
      'breadth:a/x=2',
      'breadth:b/y=1',
    ],
  );
});

function candidates(n: number, suite = 's', priority: Candidate['priority'] = 'headline'): Candidate[] {
  return Array.from({ length: n }, (_, i) => ({ key: `${suite}/${i}`, suite, priority, timed: true }));
}

test('admission: as many cases as fit at the minimum share, the budget shared among them, the rest left out', () => {
  // 60 s, 2% reserve, 3 visits: each case costs 1000 + 2 x 200 ms beyond sampling and needs 3 x 300 ms of it.
  const controller = new BudgetController(60_000, 3, RULE, COSTS, 0);
  const all = candidates(100);
  const first = controller.admit(all[0]!, all.slice(1), 0);
  assert.ok(first);
  // 58.8 s of room: 25 cases x 2.3 s = 57.5 s at the minimum; the slack is shared by their 75 visits.
  const fitting = 25;
  assert.ok(Math.abs(first.samplingMs - (58_800 - fitting * 1400) / (fitting * 3)) < 1e-6, `${first.samplingMs}`);
  assert.equal(first.rule.timeoutMs, first.samplingMs);
  assert.equal(first.rule.minTimeMs, RULE.minTimeMs);
  // Late in the budget, with committed later visits, a next case no longer fits.
  assert.equal(controller.admit(all[1]!, all.slice(2), 58_000), null);
});

test('admission: a share never exceeds the per-visit rule; a lone cheap case samples its full rule', () => {
  const controller = new BudgetController(3_600_000, 3, RULE, COSTS, 0);
  const [only] = candidates(1);
  const share = controller.admit(only!, [], 0);
  assert.equal(share?.samplingMs, RULE.timeoutMs);
  assert.deepEqual(share?.rule, RULE);
});

test('calibration runs within its share of the budget, and is never left out', () => {
  const controller = new BudgetController(30_000, 3, RULE, COSTS, 0);
  const cal = candidates(7, 'calibration', 'calibration');
  const share = controller.admit(cal[0]!, [...cal.slice(1), ...candidates(10)], 0);
  assert.ok(share && share.samplingMs >= COSTS.minSamplingMs);
  // Past its share, calibration still runs, at the minimum.
  const late = controller.admit(cal[6]!, candidates(10), 29_000);
  assert.equal(late?.samplingMs, COSTS.minSamplingMs);
});

test('later visits keep their share while the budget holds, shrink together when it runs short, and stop below the minimum', () => {
  const controller = new BudgetController(60_000, 3, RULE, COSTS, 0);
  const [a, b] = candidates(2);
  const shareA = controller.admit(a!, [b!], 0)!;
  const shareB = controller.admit(b!, [], 2000)!;
  assert.equal(controller.revisit(a!.key, 10_000)?.samplingMs, shareA.samplingMs, 'room for every pending visit: the planned share');
  // 3 pending visits (a once, b twice), 200 ms overhead each; at 50 s, 8.8 s are left of the 58.8 s.
  const pending = shareA.samplingMs + 2 * shareB.samplingMs;
  const scaled = controller.revisit(b!.key, 50_000)!;
  assert.ok(Math.abs(scaled.samplingMs - shareB.samplingMs * ((8800 - 600) / pending)) < 1e-6, `${scaled.samplingMs}`);
  assert.equal(controller.revisit(a!.key, 58_500), null, 'no room for a useful visit');
  assert.equal(controller.visitsLeft(a!.key), 0, 'a case that misses a visit gets no more');
});

test('costs are learned per suite from what visits took beyond their share', () => {
  const slow = candidates(3, 'slow');
  const fresh = new BudgetController(40_000, 1, RULE, COSTS, 0).admit(slow[0]!, slow.slice(1), 0)!;
  // 39.2 s of room, 1 s per case beyond sampling: all three fit, each sampling its full rule (10 s).
  assert.equal(fresh.samplingMs, RULE.timeoutMs);
  const learned = new BudgetController(40_000, 1, RULE, COSTS, 0);
  learned.record('slow', 1, 16_000, 1000);
  // 15 s per case now: two fit, sharing what their costs leave: (39.2 - 30) / 2 s.
  assert.equal(learned.admit(slow[0]!, slow.slice(1), 0)!.samplingMs, 4600);
  learned.record('other', 1, 500, 0);
  assert.equal(learned.admit(candidates(1, 'other')[0]!, [], 0)!.samplingMs, RULE.timeoutMs, 'estimates are per suite');
});

function ok(plannedCase: PlannedCase, visits: number): Measurement {
  return {
    key: plannedCase.key,
    suite: plannedCase.suite,
    family: 'f',
    params: plannedCase.params,
    status: 'ok',
    timing: { visits },
  } as unknown as Measurement;
}

test('a budgeted schedule: first visits in priority order until the budget is spent, then later visits, the rest left out', () => {
  const cases = [
    planned('calibration', { kernel: 'copy' }),
    planned('a', { x: 1 }, { headline: true }),
    planned('a', { x: 2 }),
    planned('a', { x: 3 }, { skip: 'by rule' }),
    ...Array.from({ length: 40 }, (_, i) => planned('b', { y: i })),
  ];
  const scheduler = budgetedScheduler(cases, new Map(), {
    budgetMs: 60_000,
    startMs: 0,
    visits: 2,
    rule: RULE,
    costs: COSTS,
    isCalibration: (c) => c.suite === 'calibration',
    isTimed: () => true,
  });
  let now = 0;
  const seen: string[] = [];
  for (let next = scheduler.next(now); next; next = scheduler.next(now)) {
    seen.push(`${next.plannedCase.key}#${next.visit}`);
    const wall = next.plannedCase.skip ? 0 : (next.visit === 1 ? COSTS.firstVisitMs : COSTS.laterVisitMs) + (next.samplingBudgetMs ?? 0);
    now += wall;
    scheduler.finished(
      next,
      next.plannedCase.skip
        ? ({ ...ok(next.plannedCase, 1), status: 'skipped', reason: 'by rule' } as Measurement)
        : ok(next.plannedCase, next.visit),
      wall,
    );
  }
  assert.equal(seen[0], 'calibration/kernel=copy#1');
  assert.equal(seen[1], 'a/x=1#1', 'the headline case right after calibration');
  assert.ok(seen.includes('a/x=3#1'), 'a case skipped by rule is recorded, budget or not');
  const firsts = seen.filter((s) => s.endsWith('#1')).length;
  const seconds = seen.filter((s) => s.endsWith('#2'));
  assert.ok(seconds.length > 0 && seen.indexOf(seconds[0]!) >= firsts, 'second visits after every first visit');
  assert.ok(now <= 60_000, `the schedule ends within the budget: ${now} ms`);
  const left = scheduler.leftOut();
  assert.ok(left.length > 0, 'some cases did not fit');
  assert.equal(left.length + firsts, cases.length, 'every case either ran or was left out');
  assert.ok(
    left.every((c) => c.suite === 'b'),
    'what is left out comes last in priority',
  );
});
