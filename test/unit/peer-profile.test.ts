import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelEvents, kernelRole, kernelSeries, splitRuns } from '../../src/peer/onnxruntime/profile.js';
import { parsePeerNames } from '../../src/peer/registry.js';
import { nextPeerEntry, poolFailingKernels } from '../../src/peer/pool.js';
import { summarize } from '../../src/measure/statistics.js';
import type { PeerOk } from '../../src/results/schema.js';
import { UserError } from '../../src/errors.js';

const event = (program: string, durUs: number) => ({
  cat: 'Api',
  pid: -1,
  tid: -1,
  ph: 'X',
  ts: 0,
  dur: durUs,
  name: `attention&MultiHeadAttention&${program}`,
  args: {},
});
const session = (name: string) => ({ cat: 'Session', pid: 1, tid: 1, ph: 'X', ts: 0, dur: 5, name });

test("ORT profile: the WebGPU EP's kernel events (category Api), split into runs, attention apart from the cache copy", () => {
  const profile = [
    session('model_run'),
    event('CopyKVCache', 100),
    event('FlashAttentionDecodeQKV', 2000),
    event('FlashAttentionDecodeVxReduce', 300),
    session('model_run'),
    event('CopyKVCache', 120),
    event('FlashAttentionDecodeQKV', 2200),
    event('FlashAttentionDecodeVxReduce', 250),
  ];
  const events = kernelEvents(profile);
  assert.equal(events.length, 6);
  const series = kernelSeries(splitRuns(events, 2));
  assert.deepEqual(series.programs, ['CopyKVCache', 'FlashAttentionDecodeQKV', 'FlashAttentionDecodeVxReduce']);
  assert.deepEqual(series.operatorMs, [2.3, 2.45]);
  assert.deepEqual(series.beyondMs, [0.1, 0.12]);
  assert.deepEqual(series.perKernelMs[1], [2, 2.2]);
  assert.equal(kernelRole('TransferBSDToBNSH'), 'beyond');
  assert.equal(kernelRole('FlashAttention'), 'operator');
});

test('ORT profile: runs that do not split evenly, or dispatch different programs, are an error, never a time', () => {
  assert.throws(() => splitRuns(kernelEvents([event('A', 1), event('B', 1), event('A', 1)]), 2), /3 GPU kernel events for 2 runs/);
  assert.throws(() => splitRuns(kernelEvents([event('A', 1), event('B', 1)]), 2), /different programs/);
  assert.throws(() => kernelEvents({}), /not a JSON array/);
});

test('--peer names: known ones pass (deduplicated), an unknown one is a usage error', () => {
  assert.deepEqual(parsePeerNames(['onnxruntime', 'onnxruntime']), ['onnxruntime']);
  assert.throws(
    () => parsePeerNames(['tvm']),
    (e: Error) => e instanceof UserError && /unknown peer "tvm"; known peers: onnxruntime/.test(e.message),
  );
});

function okEntry(kernelMs: number[], wallMs: number[]): PeerOk {
  const s = (samplesMs: number[]) => ({ stats: summarize(samplesMs), samplesMs });
  return {
    peer: 'onnxruntime',
    version: '1.31.1',
    operator: 'com.microsoft.GroupQueryAttention',
    status: 'ok',
    adapter: 'lavapipe only',
    numerics: { passed: true, checks: [] },
    kernels: { operator: s(kernelMs), beyond: null, programs: [] },
    wall: { run: s(wallMs), overhead: s([0.1, 0.1]), netMedianMs: summarize(wallMs).median - 0.1 },
    visits: 1,
    visitMedians: [{ kernelMs: summarize(kernelMs).median, wallMs: summarize(wallMs).median - 0.1 }],
  };
}

test('peer visits pool like the case: samples concatenated, visit medians kept; a failed later visit keeps the earlier ones', () => {
  const pooled = nextPeerEntry(okEntry([1, 1.2], [2, 2]), okEntry([3, 3.2], [4, 4]));
  assert.ok(pooled.status === 'ok');
  assert.equal(pooled.visits, 2);
  assert.deepEqual(pooled.kernels.operator.samplesMs, [1, 1.2, 3, 3.2]);
  assert.deepEqual(
    pooled.visitMedians.map((v) => v.kernelMs),
    [1.1, 3.1],
  );
  const kept = nextPeerEntry(okEntry([1], [2]), {
    peer: 'onnxruntime',
    version: '1.31.1',
    operator: null,
    status: 'error',
    message: 'lost',
  });
  assert.equal(kept.status, 'ok');
});

test('a failing peer keeps its kernel times apart, pooled over visits; an untimed visit keeps the entry', () => {
  const failing = {
    peer: 'onnxruntime',
    version: '1.31.1',
    operator: 'com.microsoft.MultiHeadAttention',
    status: 'numerics-failed' as const,
    adapter: 'lavapipe only',
    numerics: { passed: false, checks: [] },
  };
  const visit = (ms: number[]) => ({ ...okEntry(ms, [1]).kernels, visitMediansMs: [summarize(ms).median] });
  const first = poolFailingKernels(failing, visit([10, 12]));
  const second = poolFailingKernels(first, visit([20, 22]));
  assert.deepEqual(second.failingKernels?.operator.samplesMs, [10, 12, 20, 22]);
  assert.deepEqual(second.failingKernels?.visitMediansMs, [11, 21]);
  assert.equal(second.status, 'numerics-failed');
  assert.equal(poolFailingKernels(second, null), second);
});
