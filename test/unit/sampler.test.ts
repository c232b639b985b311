import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreparedCase } from '../../src/gpu/executor.js';
import type { GpuTimer, TimedSeries, TimingMode } from '../../src/gpu/timing.js';
import { timestampProblem, totalMs } from '../../src/gpu/timestamps.js';
import { sampleCase, sampleRounds, warmupWithin } from '../../src/run/sampler.js';

/** Per-repeat GPU time of each series: the timer's answer never depends on the machine. */
const MS: Record<string, number> = { case: 0.01, 'stage:0': 0.004, 'stage:1': 0.005, 'pass-probe': 0.001 };

function seriesName(series: TimedSeries): string {
  return series.kind === 'stage' ? `stage:${series.dispatches.join('+')}` : series.kind;
}

/** A GpuTimer stand-in: a fixed per-repeat time per series, a wall time of repeats x that, and a call log. */
function fakeTimer(): { timer: GpuTimer; calls: Array<{ series: string; repeats: number; mode: TimingMode }> } {
  const calls: Array<{ series: string; repeats: number; mode: TimingMode }> = [];
  const timer = {
    hasTimestamps: true,
    stagePlacement: 'in-pipeline',
    async sample(_prepared: PreparedCase, mode: TimingMode, repeats: number, series: TimedSeries = { kind: 'case' }) {
      const name = seriesName(series);
      calls.push({ series: name, repeats, mode });
      const perRepeat = MS[name]!;
      return { gpuMs: perRepeat, wallMs: perRepeat * repeats };
    },
  };
  return { timer: timer as unknown as GpuTimer, calls };
}

const prepared = { spec: {} } as unknown as PreparedCase;
const rule = { minSamples: 6, maxSamples: 6, maxRelNoise: 0.5, minTimeMs: 0, timeoutMs: 60_000 };

test('batch sampling sizes N from the second probe: a 0.01 ms repeat and a 1 ms target give 100 repeats', async () => {
  const { timer, calls } = fakeTimer();
  const result = await sampleCase(timer, prepared, { mode: 'batch', rule, targetSampleMs: 1, warmupSamples: 2 });
  assert.equal(result.repeats, 100);
  assert.deepEqual(
    calls.slice(0, 2).map((c) => c.repeats),
    [1, 100],
    'two probes: one repeat, then the N the first one sized',
  );
  assert.ok(calls.slice(2).every((c) => c.repeats === 100 && c.mode === 'batch'));
  assert.equal(calls.length, 2 + 2 + 6, 'two probes, two warm-up samples, then the rule: six samples');
  assert.deepEqual(result.samplesMs, new Array(6).fill(0.01), 'per-repeat GPU times, warm-up left out');
  assert.deepEqual(result.wallSamplesMs, new Array(6).fill(1));
  assert.equal(result.stopReason, 'max-samples');
  assert.equal(result.timer, 'timestamp');
});

test('cold sampling takes one repeat per sample and no probe', async () => {
  const { timer, calls } = fakeTimer();
  const result = await sampleCase(timer, prepared, { mode: 'cold', rule, targetSampleMs: 1, warmupSamples: 0 });
  assert.equal(result.repeats, 1);
  assert.equal(calls.length, 6);
  assert.ok(calls.every((c) => c.repeats === 1 && c.mode === 'cold'));
});

test('rounds: one sample of every series per round, each round starting at the next series, all series paired', async () => {
  const { timer, calls } = fakeTimer();
  const series: TimedSeries[] = [
    { kind: 'case' },
    { kind: 'stage', dispatches: [0] },
    { kind: 'stage', dispatches: [1] },
    { kind: 'pass-probe' },
  ];
  const result = await sampleRounds(timer, prepared, { mode: 'batch', rule, targetSampleMs: 1, warmupSamples: 0, series });
  assert.deepEqual(result.repeats, [100, 250, 200, 1000], 'N per series from its own probe');
  assert.deepEqual(
    result.samplesMs,
    series.map((s) => new Array(6).fill(MS[seriesName(s)])),
    'every series has one sample per round, its own time',
  );
  const rounds = calls.slice(2 * series.length);
  assert.equal(rounds.length, 6 * series.length);
  const firstOfRound = [0, 1, 2, 3, 4, 5].map((r) => rounds[r * series.length]!.series);
  assert.deepEqual(firstOfRound, ['case', 'stage:0', 'stage:1', 'pass-probe', 'case', 'stage:0']);
});

test('a first probe far past the target sizes N = 1 without a second; a budget bounds the warm-up by time', async () => {
  const { timer, calls } = fakeTimer();
  const result = await sampleCase(timer, prepared, { mode: 'batch', rule, targetSampleMs: 0.001, warmupSamples: 3, warmupBudgetMs: 0.025 });
  assert.equal(result.repeats, 1);
  assert.equal(calls.length, 1 + 2 + 6, 'one probe, two warm-up samples of 0.01 ms within 0.025 ms, six samples');
  assert.equal(warmupWithin(3, 655, 100), 0, 'a 655 ms sample does not fit a 100 ms warm-up');
  assert.equal(warmupWithin(3, 10, 100), 3);
  assert.equal(warmupWithin(3, 655, undefined), 3, 'no budget: the warm-up asked for');
});

test('timestamps that went backwards or stood still are no time', () => {
  assert.equal(
    timestampProblem([
      { beginNs: 10n, endNs: 30n },
      { beginNs: 40n, endNs: 40n },
    ]),
    null,
    'one pass below the resolution among others is fine',
  );
  assert.match(timestampProblem([{ beginNs: 10n, endNs: 5n }]) ?? '', /went backwards in 1 of 1 pass/);
  assert.match(
    timestampProblem([
      { beginNs: 7n, endNs: 7n },
      { beginNs: 9n, endNs: 9n },
    ]) ?? '',
    /stood still over 2 pass/,
  );
  assert.equal(
    totalMs([
      { beginNs: 0n, endNs: 1_500_000n },
      { beginNs: 2_000_000n, endNs: 2_500_000n },
    ]),
    2,
  );
});
