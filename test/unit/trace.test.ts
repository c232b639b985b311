import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ownPassSumMs, timelineMedians } from '../../src/profile/render.js';
import { buildTrace } from '../../src/profile/trace.js';
import type { Timeline } from '../../src/gpu/timeline.js';
import { traceFormatProblems } from '../helpers/trace-format.js';

const timeline: Timeline = {
  passes: [0, 1].flatMap((iteration) => [
    { iteration, stage: 'absorb-q', dispatches: 1, gpuBeginNs: 5e9 + iteration * 1e7, gpuEndNs: 5e9 + iteration * 1e7 + 2e6 },
    { iteration, stage: 'attend', dispatches: 1, gpuBeginNs: 5e9 + iteration * 1e7 + 2.1e6, gpuEndNs: 5e9 + iteration * 1e7 + 7e6 },
  ]),
  host: [
    { iteration: 0, submitMs: 1000, doneMs: 1008 },
    { iteration: 1, submitMs: 1010, doneMs: 1018 },
  ],
};
const zero = { weights: 0, 'kv-cache': 0, activations: 0, scratch: 0 };

test('buildTrace: a track per stage with GPU spans in us, host spans, memory counters, in time order', () => {
  const trace = buildTrace({
    caseKey: 'mla-decode/form=absorbed',
    adapter: 'Test GPU',
    originMs: 900,
    timeline,
    memory: [
      { ms: 900, bytes: zero },
      { ms: 950, bytes: { ...zero, 'kv-cache': 1024 } },
    ],
    phases: [{ name: 'case', startMs: 940, endMs: 1020 }],
  });
  assert.deepEqual(traceFormatProblems(trace), []);
  const named = trace.traceEvents
    .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.pid === 1)
    .map((e) => (e.args as { name: string }).name);
  assert.deepEqual(named, ['absorb-q', 'attend']);
  const attend = trace.traceEvents.filter((e) => e.ph === 'X' && e.name === 'attend');
  assert.equal(attend.length, 2);
  // Placed from the host submit time (100 ms after the origin) plus the GPU offset 2.1 ms; 4.9 ms long.
  assert.equal(attend[0]!.ts, 102_100);
  assert.equal(attend[0]!.ph === 'X' && attend[0]!.dur, 4_900);
  const counters = trace.traceEvents.filter((e) => e.ph === 'C');
  assert.deepEqual(
    counters.map((c) => c.ts),
    [0, 50_000],
  );
  assert.equal(trace.otherData['case'], 'mla-decode/form=absorbed');
});

test('the format check catches what a viewer would reject', () => {
  assert.deepEqual(traceFormatProblems({ traceEvents: [] }), []);
  assert.match(traceFormatProblems([])[0]!, /object/);
  assert.match(traceFormatProblems({ traceEvents: [{ ph: 'X', name: 'a', pid: 1, tid: 1, ts: 5 }] })[0]!, /dur/);
  assert.match(traceFormatProblems({ traceEvents: [{ ph: 'X', name: 'a', pid: 1, tid: 1, ts: -1, dur: 1 }] })[0]!, /ts/);
  assert.match(traceFormatProblems({ traceEvents: [{ ph: 'Q', name: 'a', pid: 1, tid: 1, ts: 1 }] })[0]!, /phase/);
  const unordered = {
    traceEvents: [
      { ph: 'X', name: 'a', pid: 1, tid: 1, ts: 10, dur: 1 },
      { ph: 'X', name: 'b', pid: 1, tid: 1, ts: 5, dur: 1 },
    ],
  };
  assert.match(traceFormatProblems(unordered)[0]!, /timestamp order/);
  const overlapping = {
    traceEvents: [
      { ph: 'X', name: 'a', pid: 1, tid: 1, ts: 0, dur: 10 },
      { ph: 'X', name: 'b', pid: 1, tid: 1, ts: 5, dur: 10 },
    ],
  };
  assert.match(traceFormatProblems(overlapping)[0]!, /overlaps/);
  const nested = {
    traceEvents: [
      { ph: 'X', name: 'a', pid: 1, tid: 1, ts: 0, dur: 10 },
      { ph: 'X', name: 'b', pid: 1, tid: 1, ts: 5, dur: 5 },
    ],
  };
  assert.deepEqual(traceFormatProblems(nested), []);
  assert.match(traceFormatProblems({ traceEvents: [{ ph: 'C', name: 'm', pid: 1, tid: 0, ts: 0, args: { x: 'big' } }] })[0]!, /number/);
});

test('the committed example trace (docs/example-mla.trace.json) passes the format check and holds every MLA stage', () => {
  const trace = JSON.parse(readFileSync(new URL('../../docs/example-mla.trace.json', import.meta.url), 'utf8'));
  assert.deepEqual(traceFormatProblems(trace), []);
  const tracks = trace.traceEvents
    .filter((e: { ph: string; name: string }) => e.ph === 'M' && e.name === 'thread_name')
    .map((e: { args: { name: string } }) => e.args.name);
  for (const stage of ['absorb-q', 'q-rope', 'attend', 'reduce', 'absorb-o'])
    assert.ok(tracks.includes(stage), `a track for ${stage} in ${tracks.join(', ')}`);
});

test("ownPassSumMs: the stages' own-pass medians added up, null unless the timeline holds every stage", () => {
  // absorb-q 2 ms and attend 4.9 ms in both iterations.
  const inPass = timelineMedians(timeline);
  assert.ok(Math.abs((ownPassSumMs(['absorb-q', 'attend'], inPass) as number) - 6.9) < 1e-9);
  assert.equal(ownPassSumMs(['absorb-q', 'absorb-o'], inPass), null);
  assert.equal(ownPassSumMs([], inPass), null);
  assert.equal(ownPassSumMs(['attend'], timelineMedians(null)), null);
});
