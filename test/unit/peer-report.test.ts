import assert from 'node:assert/strict';
import { test } from 'node:test';
import { summarize } from '../../src/measure/statistics.js';
import type { Measurement, OkMeasurement, PeerResult } from '../../src/results/schema.js';
import { githubActionBenchmark, bencherMetricFormat } from '../../src/report/exports.js';
import { peerRatio, peerRatioCharts, peerTables } from '../../src/report/peers.js';
import { renderTable } from '../../src/report/table.js';
import { markdownTable } from '../../src/report/markdown.js';
import { headerFixture, okFixture } from '../helpers/fixtures.js';

const s = (samplesMs: number[]) => ({ stats: summarize(samplesMs), samplesMs });
const base = { peer: 'onnxruntime', version: '1.31.1' };
const okPeer: PeerResult = {
  ...base,
  operator: 'com.microsoft.GroupQueryAttention',
  status: 'ok',
  adapter: 'lavapipe only',
  numerics: { passed: true, checks: [] },
  kernels: {
    operator: s([3, 3, 3]),
    beyond: s([0.5, 0.5]),
    programs: [
      { program: 'FlashAttentionDecodeQKV', role: 'operator', stats: summarize([2.5]) },
      { program: 'CopyKVCache', role: 'beyond', stats: summarize([0.5]) },
    ],
  },
  wall: { run: s([5, 5]), overhead: s([1, 1]), netMedianMs: 4 },
  visits: 1,
  visitMedians: [{ kernelMs: 3, wallMs: 4 }],
};
const failing: PeerResult = {
  ...base,
  operator: 'com.microsoft.MultiHeadAttention',
  status: 'numerics-failed',
  adapter: 'lavapipe only',
  numerics: {
    passed: false,
    checks: [
      {
        buffer: 'out',
        passed: false,
        checked: 8,
        mismatches: 6,
        maxAbsError: 0.04,
        maxRelError: 800,
        normRelError: 0.04,
        worstIndex: 3,
        worstActual: 0.1,
        worstExpected: 0.06,
        tolerance: { atol: 1e-5, rtol: 1e-6 },
      },
    ],
  },
};
const failingTimed: PeerResult = {
  ...(failing as Extract<PeerResult, { status: 'numerics-failed' }>),
  failingKernels: {
    operator: s([76, 77]),
    beyond: s([1, 1]),
    programs: [
      { program: 'CopyKVCache', role: 'beyond', stats: summarize([1]) },
      { program: 'FlashAttention', role: 'operator', stats: summarize([76.5]) },
    ],
    visitMediansMs: [76, 77],
  },
};
const unsupported: PeerResult = { ...base, status: 'unsupported', reason: 'no ORT operator: absorbed MLA' };

/** A loaded results file holding `cases`, as the report and compare read it. */
const resultsFile = (c: Measurement[]) => ({
  path: 'r.json',
  name: 'r',
  device: 'Fixture GPU',
  results: {
    ...headerFixture(),
    finishedAt: '',
    ceilings: { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null },
    cases: c,
  },
});

function withPeer(key: string, params: Record<string, string | number>, peer: PeerResult): OkMeasurement {
  const m = okFixture(key, [1.9, 2, 2.1]) as OkMeasurement;
  return { ...m, suite: 'attention-decode', family: 'attention', params, peers: [peer] };
}

const cases: Measurement[] = [
  okFixture('calibration/copy', [1, 1, 1]),
  withPeer('attention-decode/gqa', { variant: 'gqa' }, okPeer),
  withPeer('attention-prefill/mha', { variant: 'mha' }, failing),
  withPeer('attention-prefill/gqa', { variant: 'gqa-prefill' }, failingTimed),
  withPeer('mla-decode/absorbed', { form: 'absorbed' }, unsupported),
];

test('peer table: mla-bench median, peer kernels / beyond attention / wall, the ratio, numerics; failing and unsupported without times', () => {
  const tables = peerTables(cases);
  assert.equal(tables.length, 1);
  const text = renderTable(tables[0]!);
  assert.match(text, /Peer onnxruntime 1\.31\.1 on attention-decode/);
  assert.match(text, /│ gqa +│ - +│ 2\.00 ms .*3\.00 ms .*500 us .*4\.00 ms .*1\.50x .*ok/, 'the varying axes as columns, one table');
  assert.match(text, /│ mha .*FAILS NUMERICS/);
  assert.match(text, /│ absorbed .*no counterpart/);
  assert.ok(
    text.split('\n').every((line) => line.length <= 120),
    'fits a 120-column terminal',
  );
  assert.match(text, /com\.microsoft\.GroupQueryAttention: FlashAttentionDecodeQKV 2\.50 ms, CopyKVCache 500 us/);
  assert.match(markdownTable(tables[0]!), /FAILS NUMERICS/);
  // A failing peer's kernel times are a note, never a time or ratio column of its row.
  assert.match(text, /│ gqa-prefill .*│ - +│ - +│ - +│ - +│ FAILS NUMERICS/);
  assert.match(
    text.replace(/\s+/g, ' '),
    /its kernels \(wrong output\): CopyKVCache 1\.00 ms, FlashAttention 76\.5 ms; operator kernels per visit 76\.0 ms, 77\.0 ms/,
  );
  assert.equal(peerTables([okFixture('calibration/copy', [1])]).length, 0, 'no peers, no section');
});

test('peer ratio chart and CI exports: only cases whose peer passed and was timed', () => {
  const [m] = cases.slice(1) as OkMeasurement[];
  assert.equal(peerRatio(m!, okPeer), 1.5);
  const charts = peerRatioCharts({
    device: 'Fixture GPU',
    files: [],
    runs: [],
    ceilings: { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null },
    cases,
  });
  assert.equal(charts.length, 1);
  const data = (charts[0]!.config as { data: { labels: string[]; datasets: { data: number[] }[] } }).data;
  assert.deepEqual(data.labels, ['attention-decode: variant=gqa'], 'one bar: every axis');
  assert.deepEqual(data.datasets[0]!.data, [1.5]);
  const file = resultsFile(cases);
  const gab = githubActionBenchmark([file]).bigger.filter((e) => e.unit === 'x');
  assert.deepEqual(
    gab.map((e) => [e.name, e.value]),
    [['attention-decode/gqa (onnxruntime / mla-bench)', 1.5]],
  );
  assert.deepEqual(bencherMetricFormat([file])['attention-decode/gqa (onnxruntime / mla-bench)'], { 'peer-ratio': { value: 1.5 } });
});

test('compare carries the peer ratio of each side', async () => {
  const { peerComparisonTable, peerRatioPairs } = await import('../../src/report/peers.js');
  const file = resultsFile;
  const faster = withPeer('attention-decode/gqa', { variant: 'gqa' }, okPeer);
  faster.timing = { ...faster.timing, gpu: summarize([1, 1, 1]) };
  const pairs = peerRatioPairs(file(cases), file([faster]));
  assert.deepEqual(pairs, [{ key: 'attention-decode/gqa', peer: 'onnxruntime', base: 1.5, candidate: 3 }]);
  assert.match(renderTable(peerComparisonTable(pairs)!), /attention-decode\/gqa .*onnxruntime .*1\.50x .*3\.00x/);
  assert.equal(peerComparisonTable([]), null);
});

test('per-stage peer entries: a row per stage, the ratio against that stage timed in the pipeline', () => {
  const m = okFixture('mla-decode/absorbed', [1.9, 2, 2.1]) as OkMeasurement;
  const stage = (name: string, median: number) => ({
    name,
    dispatches: 1,
    work: m.work,
    repeats: 1,
    stopReason: 'converged' as const,
    gpu: summarize([median]),
    rates: m.rates,
    samplesMs: [median],
  });
  const staged: OkMeasurement = {
    ...m,
    suite: 'mla-decode',
    family: 'mla',
    params: { form: 'absorbed' },
    stages: [stage('absorb-q', 0.5), stage('attend', 1)],
    stagePlacement: 'in-pipeline',
    peers: [unsupported, { ...okPeer, operator: 'MatMul', stage: 'absorb-q' }, { ...okPeer, operator: 'MatMul', stage: 'absorb-o' }],
  };
  assert.equal(peerRatio(staged, staged.peers![1]!), 6, "the peer's 3 ms over the stage's 0.5 ms");
  assert.equal(peerRatio(staged, staged.peers![2]!), null, 'a stage the case did not time has no ratio');
  const text = renderTable(peerTables([staged])[0]!);
  assert.match(text, /│ stage +│ mla-bench/);
  assert.match(text, /│ whole case +│ 2\.00 ms .*no counterpart/);
  assert.match(text, /│ absorb-q +│ 500 us +│ 3\.00 ms .*6\.00x/);
  assert.match(text, /│ absorb-o +│ - +│ 3\.00 ms .*│ - +│ ok/);
  const file = resultsFile([staged]);
  const gab = githubActionBenchmark([file]).bigger.filter((e) => e.unit === 'x');
  assert.deepEqual(
    gab.map((e) => [e.name, e.value]),
    [['mla-decode/absorbed absorb-q (onnxruntime / mla-bench)', 6]],
  );
});

test('peer ratio: paired by visit where the case and the peer share every visit, else the pooled medians', () => {
  // A machine that slows 2x in the second visit: pooled medians would mix fast and slow visits unevenly.
  const ours = { ...(okFixture('attention-prefill/gqa', [10, 10, 10, 20, 20]) as OkMeasurement) };
  const visited: OkMeasurement = { ...ours, timing: { ...ours.timing, visitMediansMs: [10, 20, 10] } };
  const peer: PeerResult = {
    ...(okPeer as Extract<PeerResult, { status: 'ok' }>),
    kernels: { ...(okPeer as Extract<PeerResult, { status: 'ok' }>).kernels, operator: s([11, 22, 22, 22, 11]) },
    visits: 3,
    visitMedians: [11, 22, 11].map((kernelMs) => ({ kernelMs, wallMs: kernelMs })),
  };
  assert.ok(Math.abs(peerRatio(visited, peer)! - 1.1) < 1e-12, 'each visit 1.1x');
  assert.equal(peerRatio(ours, peer), 22 / 10, 'no visit medians: the pooled medians');
  const short = { ...peer, visitMedians: peer.visitMedians.slice(1) };
  assert.equal(peerRatio(visited, short), 22 / 10, 'a peer missing a visit: the pooled medians');
});
