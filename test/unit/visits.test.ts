import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../src/measure/statistics.js';
import { NO_CEILINGS } from '../../src/measure/rates.js';
import type { Measurement, OkMeasurement } from '../../src/results/schema.js';
import { poolVisits, visitRule, visitsOf } from '../../src/results/visits.js';
import { visitSchedule } from '../../src/run/schedule.js';
import type { PlannedCase } from '../../src/suites/expand.js';
import { okFixture } from '../helpers/fixtures.js';

const ok = (key: string, samples: number[]): OkMeasurement => {
  const m = okFixture(key, samples);
  assert.ok(m.status === 'ok');
  return m;
};

test('visitRule: each visit gets its share of the samples and time; the noise target stays', () => {
  const rule = { minSamples: 10, maxSamples: 2000, maxRelNoise: 0.01, minTimeMs: 500, timeoutMs: 30000 };
  assert.deepEqual(visitRule(rule, 3), { minSamples: 4, maxSamples: 667, maxRelNoise: 0.01, minTimeMs: 500 / 3, timeoutMs: 10000 });
  assert.equal(visitRule(rule, 1), rule);
});

test('poolVisits: samples concatenated, statistics and rates of the pool, each visit median kept', () => {
  const first = ok('calibration/kernel=copy,mib=1', [1, 1.1, 0.9, 1.05]);
  const second = {
    ...ok('calibration/kernel=copy,mib=1', [2, 2.1, 1.9]),
    timing: { ...ok('x', [2, 2.1, 1.9]).timing, stopReason: 'timeout' as const, elapsedMs: 7 },
  };
  const ceilings = { ...NO_CEILINGS, copyGBs: 2 };
  const pooled = poolVisits(first, second, ceilings);
  assert.deepEqual(pooled.timing.samplesMs, [1, 1.1, 0.9, 1.05, 2, 2.1, 1.9]);
  assert.deepEqual(pooled.timing.gpu, summarize([1, 1.1, 0.9, 1.05, 2, 2.1, 1.9]));
  assert.equal(pooled.timing.visits, 2);
  assert.deepEqual(pooled.timing.visitMediansMs, [summarize([1, 1.1, 0.9, 1.05]).median, 2]);
  // A visit that ran out of time makes the pool's stop reason a timeout.
  assert.equal(pooled.timing.stopReason, 'timeout');
  assert.equal(pooled.timing.elapsedMs, 17);
  // 2 MB moved at the pooled median (1.1 ms): the rate is the pool's, not either visit's.
  assert.ok(Math.abs(pooled.rates.gbps - 2e6 / 1.1e-3 / 1e9) < 1e-9);
  // The first visit's check stands for the case.
  assert.equal(pooled.numerics, first.numerics);
  const third = poolVisits(pooled, ok('calibration/kernel=copy,mib=1', [3]), ceilings);
  assert.equal(visitsOf(third), 3);
  assert.equal(third.timing.visitMediansMs?.length, 3);
  assert.equal(visitsOf(first), 1);
});

test('poolVisits: stage rounds stay paired across visits', () => {
  const stage = (name: string, samples: number[]) => ({
    name,
    dispatches: 1,
    work: { flops: 1, bytesRead: 1, bytesWritten: 1 },
    repeats: 1,
    stopReason: 'converged' as const,
    gpu: summarize(samples),
    rates: ok('x', [1]).rates,
    samplesMs: samples,
  });
  const series = (samples: number[]) => ({ repeats: 1, gpu: summarize(samples), samplesMs: samples });
  const withStages = (a: number[], b: number[], e2e: number[]): OkMeasurement => ({
    ...ok('s', [1]),
    stages: [stage('attend', a), stage('reduce', b)],
    stagesEndToEnd: { timer: 'timestamp', ...series(e2e) },
    stagePlacement: 'in-pipeline',
    stagePassProbe: series(a.map(() => 0.09)),
  });
  const pooled = poolVisits(withStages([5, 6], [1, 1], [6.1, 7.1]), withStages([10], [2], [12.1]), NO_CEILINGS);
  assert.deepEqual(
    pooled.stages?.map((s) => s.samplesMs),
    [
      [5, 6, 10],
      [1, 1, 2],
    ],
  );
  assert.deepEqual(pooled.stagesEndToEnd?.samplesMs, [6.1, 7.1, 12.1]);
  assert.equal(pooled.stagePassProbe?.samplesMs.length, 3);
  // Round i of every series is still the same round: the per-round gaps are those of the visits.
  const gaps = pooled.stagesEndToEnd!.samplesMs.map((e, i) => e - pooled.stages!.reduce((sum, s) => sum + (s.samplesMs[i] as number), 0));
  assert.deepEqual(
    gaps.map((g) => Math.round(g * 10) / 10),
    [0.1, 0.1, 0.1],
  );
});

test('visitSchedule: every first visit, then every second; a resumed run skips the visits its journal holds', () => {
  const planned = ['a', 'b', 'c'].map((key): PlannedCase => ({ key, suite: 's', params: {} }) as unknown as PlannedCase);
  const order = (measured: Map<string, Measurement>) => visitSchedule(planned, measured, 2).map((s) => `${s.plannedCase.key}${s.visit}`);
  assert.deepEqual(order(new Map()), ['a1', 'b1', 'c1', 'a2', 'b2', 'c2']);
  const twice = poolVisits(ok('a', [1]), ok('a', [1]), NO_CEILINGS);
  const skipped: Measurement = { key: 'b', suite: 's', family: 'f', params: {}, status: 'skipped', reason: 'too big' };
  // a has both visits, b was skipped (no more visits), c has one.
  assert.deepEqual(
    order(
      new Map<string, Measurement>([
        ['a', twice],
        ['b', skipped],
        ['c', ok('c', [1])],
      ]),
    ),
    ['c2'],
  );
});
