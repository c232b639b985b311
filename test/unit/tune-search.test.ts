import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttentionPlan } from '../../src/kernels/attention-plans.js';
import { slotPlanKey, type SlotPlan } from '../../src/kernels/tunable.js';
import { confirmAgainst, race, type Contender } from '../../src/tune/race.js';
import { betterHalf, inSpace, movesAlong, moveFields, roundOrder } from '../../src/tune/search.js';
import { formatSpeedup } from '../../src/tune/render.js';
import { decided, pairedSpeedup, verdictOf } from '../../src/tune/statistics.js';
import { caseDeadline, PER_CASE_UNBOUNDED_MS, tunableCases } from '../../src/tune/tuner.js';

const sub = (rpi: number, wg: number, chunk: number, output: 'partials' | 'direct' = 'partials'): SlotPlan => ({
  family: 'attention',
  plan: { kind: 'rows-subgroup', rpi, wg, chunk, output },
});
const columns = (r: number, chunk: number): SlotPlan => ({ family: 'attention', plan: { kind: 'columns', r, chunk } });
const plan = (slot: SlotPlan): AttentionPlan => slot.plan as AttentionPlan;

const SPACE: SlotPlan[] = [
  sub(2, 8, 128),
  sub(1, 8, 128),
  sub(4, 8, 128),
  sub(1, 16, 128),
  sub(2, 16, 64),
  sub(2, 16, 128),
  sub(2, 8, 256, 'direct'),
  columns(1, 128),
  columns(2, 128),
];

test('moveFields: the kind first, then every tunable field of the plan', () => {
  assert.deepEqual(moveFields(sub(2, 8, 128)), ['kind', 'rpi', 'wg', 'chunk', 'output']);
  const tiled: SlotPlan = {
    family: 'attention',
    plan: { kind: 'prefill', tiles: { WG: 64, BR: 16, BK: 32, SC: 8, RCH: 4, OC: 2, ORG: 2 } } as never,
  };
  assert.deepEqual(moveFields(tiled), ['kind', 'WG', 'BR', 'BK', 'SC', 'RCH', 'OC', 'ORG'], 'nested tiles are flattened');
});

test('movesAlong a field: one plan per other value, the one agreeing most with the current plan on the other fields', () => {
  const current = sub(2, 8, 128);
  const rpi = movesAlong(SPACE, current, 'rpi').map(plan);
  assert.deepEqual(rpi, [plan(sub(1, 8, 128)), plan(sub(4, 8, 128))]);
  // wg 16: sub(2, 16, 128) keeps rpi and chunk, so it beats sub(1, 16, 128) and sub(2, 16, 64) (the first in the space).
  assert.deepEqual(movesAlong(SPACE, current, 'wg').map(plan), [plan(sub(2, 16, 128))]);
  assert.deepEqual(movesAlong(SPACE, current, 'chunk').map(plan), [plan(sub(2, 16, 64)), plan(sub(2, 8, 256, 'direct'))]);
  assert.deepEqual(
    movesAlong(SPACE, current, 'output').map(plan),
    [plan(sub(2, 8, 256, 'direct'))],
    'where the space has it, derived fields follow',
  );
  assert.deepEqual(movesAlong(SPACE, columns(1, 128), 'chunk'), [], 'no other value in the space: no move');
});

test('movesAlong kind: the first plan of each other kind (its strategy puts its own choice first)', () => {
  assert.deepEqual(movesAlong(SPACE, sub(2, 8, 128), 'kind').map(plan), [plan(columns(1, 128))]);
  assert.deepEqual(movesAlong(SPACE, columns(2, 128), 'kind').map(plan), [plan(sub(2, 8, 128))]);
});

test('inSpace compares plans by value, whatever the order of their fields', () => {
  const reordered: SlotPlan = { family: 'attention', plan: { output: 'partials', chunk: 128, wg: 8, rpi: 2, kind: 'rows-subgroup' } };
  assert.ok(inSpace(SPACE, reordered));
  assert.equal(slotPlanKey(reordered), slotPlanKey(sub(2, 8, 128)));
  assert.ok(!inSpace(SPACE, sub(8, 8, 128)));
  assert.ok(!inSpace(SPACE, { family: 'gemm', plan: { kind: 'subgroup', wg: 8, tm: 2, tn: 1 } }), 'another family is another plan');
});

test('betterHalf keeps the lower half by score, rounded up, ties in entry order; roundOrder rotates the first', () => {
  assert.deepEqual(
    betterHalf(['a', 'b', 'c', 'd', 'e'], (x) => ({ a: 3, b: 1, c: 2, d: 1, e: 9 })[x]!),
    ['b', 'd', 'c'],
  );
  assert.deepEqual(
    betterHalf(['only'], () => 0),
    ['only'],
  );
  assert.deepEqual(
    betterHalf([], () => 0),
    [],
  );
  assert.deepEqual(roundOrder(3, 0), [0, 1, 2]);
  assert.deepEqual(roundOrder(3, 1), [1, 2, 0]);
  assert.deepEqual(roundOrder(3, 5), [2, 0, 1]);
});

test('pairedSpeedup: the median per-round ratio and a CI; the verdict needs the whole CI past 1', () => {
  const reference = [10, 12, 11, 13, 10, 12, 11, 10, 12, 11];
  const challenger = reference.map((ms) => ms / 1.25);
  const faster = pairedSpeedup(reference, challenger);
  assert.ok(Math.abs(faster.speedup - 1.25) < 1e-9);
  assert.ok(faster.lo > 1 && faster.hi >= faster.lo);
  assert.equal(faster.rounds, 10);
  assert.equal(verdictOf(faster), 'faster');
  assert.equal(verdictOf(pairedSpeedup(challenger, reference)), 'slower');
  // Ratios either side of 1: not distinguishable.
  const mixed = pairedSpeedup([10, 10, 10, 10, 10, 10], [9, 11, 9.5, 10.5, 9.8, 10.2]);
  assert.equal(verdictOf(mixed), 'same');
  assert.ok(!decided(mixed, 0.001));
  assert.ok(decided(mixed, 0.2), 'a CI within the tolerance decides');
  assert.throws(() => pairedSpeedup([1, 2], [1]), /differ in count/);
});

/**
 * Contenders with injected times: each sample is the contender's time scaled by the machine's speed at that moment
 * (a drift of 30% over the race, as on this VM) and a seeded wobble. No clock: `now` counts samples.
 */
function fakeMachine(seed = 7) {
  let samples = 0;
  let state = seed;
  const wobble = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return 1 + 0.04 * (state / 2 ** 31 - 0.5);
  };
  const contender = (ms: number): Contender & { ms: number } => ({
    ms,
    async sample() {
      samples++;
      const drift = 1 + 0.3 * Math.sin(samples / 50);
      return ms * drift * wobble();
    },
  });
  return { contender, now: () => samples, samplesTaken: () => samples };
}

const RACE = { firstRungRounds: 3, confirm: { minRounds: 6, maxRounds: 40, tolerance: 0.01 } };

test('race: successive halving finds the fastest challenger and fresh paired rounds confirm it beats the incumbent', async () => {
  const machine = fakeMachine();
  const incumbent = machine.contender(10);
  const challengers = [12, 9.5, 8, 11, 30].map(machine.contender);
  const outcome = await race(incumbent, challengers, { ...RACE, deadline: 1e9, now: machine.now });
  assert.equal(outcome.survivor?.ms, 8);
  assert.equal(outcome.winner?.ms, 8);
  assert.ok(
    outcome.estimate && outcome.estimate.lo > 1 && Math.abs(outcome.estimate.speedup - 1.25) < 0.1,
    JSON.stringify(outcome.estimate),
  );
  assert.equal(outcome.samples, machine.samplesTaken());
});

test('race: where every challenger is slower, the survivor does not win and the incumbent stays', async () => {
  const machine = fakeMachine(3);
  const outcome = await race(machine.contender(10), [11, 13, 10.6].map(machine.contender), { ...RACE, deadline: 1e9, now: machine.now });
  assert.equal(outcome.survivor?.ms, 10.6);
  assert.equal(outcome.winner, null);
  assert.ok(outcome.estimate && outcome.estimate.speedup < 1);
});

test('race: a challenger as fast as the incumbent does not win (the CI must be above 1)', async () => {
  const machine = fakeMachine(11);
  const outcome = await race(machine.contender(10), [machine.contender(10)], { ...RACE, deadline: 1e9, now: machine.now });
  assert.equal(outcome.winner, null);
});

test('race: past the deadline nothing is sampled and nothing wins', async () => {
  const machine = fakeMachine();
  const outcome = await race(machine.contender(10), [5, 6].map(machine.contender), { ...RACE, deadline: 0, now: machine.now });
  assert.equal(outcome.winner, null);
  assert.equal(outcome.samples, 0);
});

test('confirmAgainst stops once decided, after at least minRounds', async () => {
  const machine = fakeMachine();
  const { estimate, samples } = await confirmAgainst(machine.contender(10), machine.contender(5), {
    confirm: { minRounds: 6, maxRounds: 100, tolerance: 0.01 },
    deadline: 1e9,
    now: machine.now,
  });
  assert.equal(samples, 12, 'a 2x speed-up is decided at the sixth round');
  assert.ok(estimate && verdictOf(estimate) === 'faster');
});

test('caseDeadline: an equal share of what is left per remaining case; unbounded: a fixed time each', () => {
  assert.equal(caseDeadline(1000, 11_000, 4), 3500);
  assert.equal(caseDeadline(1000, 11_000, 1), 11_000);
  assert.equal(caseDeadline(12_000, 11_000, 2), 12_000, 'past the end: no time');
  assert.equal(caseDeadline(1000, null, 3), 1000 + PER_CASE_UNBOUNDED_MS);
});

test('tunableCases: not calibration (nothing to tune), not an untimed suite, not a case a skip rule skips', () => {
  const suites = [
    { name: 'calibration', family: 'calibration' },
    { name: 'kv-cache', family: 'mla', timed: false },
    { name: 'attention-decode', family: 'attention' },
  ] as never;
  const planned = [
    { suite: 'calibration', key: 'c', params: {} },
    { suite: 'kv-cache', key: 'k', params: {} },
    { suite: 'attention-decode', key: 'a1', params: {} },
    { suite: 'attention-decode', key: 'a2', params: {}, skip: 'too slow on a CPU' },
  ];
  assert.deepEqual(
    tunableCases(suites, planned).map((p) => p.key),
    ['a1'],
  );
});

test('formatSpeedup: two decimals, three where a CI bound is within 0.005 of 1', () => {
  assert.equal(formatSpeedup({ speedup: 1.2345, lo: 1.1, hi: 1.31, rounds: 9 }), '1.23x [1.10, 1.31]');
  assert.equal(formatSpeedup({ speedup: 1.04, lo: 1.0031, hi: 1.16, rounds: 9 }), '1.04x [1.003, 1.16]');
});
