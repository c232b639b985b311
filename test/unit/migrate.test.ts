import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { RESULTS_SCHEMA_VERSION, type Measurement } from '../../src/results/schema.js';
import { readJournal, readResultFile } from '../../src/results/store.js';
import { summarize } from '../../src/measure/statistics.js';

/** A version-1 file from before visits, the host thread's nice value, the norm-wise error and in-pipeline stages. */
const V1_PATH = new URL('../fixtures/results-v1.json', import.meta.url).pathname;
type Json = Record<string, unknown> & { cases: Array<Record<string, unknown>> };
const v1 = (): Json => JSON.parse(readFileSync(V1_PATH, 'utf8')) as Json;

function temporary(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mla-bench-migrate-')), name);
  writeFileSync(path, text);
  return path;
}

function staged(cases: readonly Measurement[]): Extract<Measurement, { status: 'ok' }> {
  const found = cases.find((c) => c.status === 'ok' && c.stages);
  assert.ok(found && found.status === 'ok');
  return found;
}

test('v1 -> v2: a version-1 results file reads back in the current shape, what it lacked filled in as it meant', () => {
  const results = readResultFile(V1_PATH);
  assert.equal(results.schemaVersion, RESULTS_SCHEMA_VERSION);
  assert.equal(results.config.visits, 1, 'before visits: one');
  assert.equal(results.environment.hostThreadNice, null, 'before: the host thread was left alone');
  const stages = staged(results.cases);
  assert.equal(stages.stagePlacement, 'alone', 'before in-pipeline timing: each stage alone');
  assert.equal(stages.stagesEndToEnd?.timer, stages.timing.timer, 'the paired end to end was timed as the case');
  const checks = results.cases.flatMap((c) => ('numerics' in c ? c.numerics.checks : []));
  assert.ok(checks.length > 0 && checks.every((check) => check.normRelError === null), 'not recorded: null');
  const single = results.cases.find((c) => c.status === 'ok' && !c.stages);
  assert.ok(single && !('stagePlacement' in single), 'a case without stages gets no placement');
});

test('v1 -> v8: the steps add fields and change nothing else', () => {
  const raw = v1();
  const results = readResultFile(V1_PATH) as unknown as Json;
  const { schemaVersion: _v, config, environment, cases, ...rest } = results;
  const { schemaVersion: _rv, config: rawConfig, environment: rawEnvironment, cases: rawCases, ...rawRest } = raw;
  assert.deepEqual(rest, rawRest);
  assert.deepEqual(config, { ...(rawConfig as object), visits: 1, budget: null, plan: null, peers: [], tuning: null });
  assert.deepEqual(environment, { ...(rawEnvironment as object), hostThreadNice: null, hostWait: 'spin' });
  const strip = (c: Record<string, unknown>): unknown =>
    JSON.parse(
      JSON.stringify(c, (key, value: unknown) =>
        key === 'normRelError' || key === 'stagePlacement' || key === 'timer' || key === 'kernelConfig' ? undefined : value,
      ),
    );
  assert.deepEqual(cases.map(strip), rawCases.map(strip));
});

test('v1 -> v2: what a version-1 file already records is kept', () => {
  const raw = v1();
  (raw['config'] as Record<string, unknown>)['visits'] = 3;
  (raw['environment'] as Record<string, unknown>)['hostThreadNice'] = 19;
  const staged = raw.cases.find((c) => Array.isArray(c['stages'])) as Record<string, unknown> & {
    stagesEndToEnd: Record<string, unknown>;
    numerics: { checks: Array<Record<string, unknown>> };
  };
  staged['stagePlacement'] = 'in-pipeline';
  staged.stagesEndToEnd['timer'] = 'wall';
  staged.numerics.checks[0]!['normRelError'] = 0.5;
  const results = readResultFile(temporary('v1-recent.json', JSON.stringify(raw)));
  assert.equal(results.config.visits, 3);
  assert.equal(results.environment.hostThreadNice, 19);
  const m = results.cases.find((c) => c.key === staged['key']);
  assert.ok(m && m.status === 'ok');
  assert.equal(m.stagePlacement, 'in-pipeline');
  assert.equal(m.stagesEndToEnd?.timer, 'wall');
  assert.equal(m.numerics.checks[0]?.normRelError, 0.5);
});

test('v2 -> v3: a version-2 file reads as a run without a budget; a recorded budget and plan are kept', () => {
  // A version-2 file: what this version writes, less the fields version 3 added.
  const current = readResultFile(V1_PATH) as unknown as Json & { config: Record<string, unknown> };
  const { budget: _b, plan: _p, ...v2Config } = current.config;
  const v2 = { ...current, schemaVersion: 2, config: v2Config };
  const unbudgeted = readResultFile(temporary('v2.json', JSON.stringify(v2)));
  assert.equal(unbudgeted.schemaVersion, RESULTS_SCHEMA_VERSION);
  assert.equal(unbudgeted.config.budget, null);
  assert.equal(unbudgeted.config.plan, null);
  assert.deepEqual(JSON.parse(JSON.stringify(unbudgeted.cases)), JSON.parse(JSON.stringify(current.cases)));
  const plan = [{ key: 'calibration/kernel=copy', priority: 'calibration' }];
  const budgeted = readResultFile(
    temporary('v2-budget.json', JSON.stringify({ ...v2, config: { ...v2Config, budget: { ms: 60_000 }, plan } })),
  );
  assert.deepEqual(budgeted.config.budget, { ms: 60_000 });
  assert.deepEqual(budgeted.config.plan, plan);
});

test('v3 -> v4: a version-3 file reads as a run without peers; a case already carrying peers keeps them', () => {
  const current = readResultFile(V1_PATH) as unknown as Json & { config: Record<string, unknown> };
  const { peers: _p, ...v3Config } = current.config;
  const v3 = { ...current, schemaVersion: 3, config: v3Config };
  const read = readResultFile(temporary('v3.json', JSON.stringify(v3)));
  assert.equal(read.schemaVersion, RESULTS_SCHEMA_VERSION);
  assert.deepEqual(read.config.peers, []);
  assert.ok(
    read.cases.every((c) => !('peers' in c)),
    'no case gains a peers entry',
  );
  assert.deepEqual(JSON.parse(JSON.stringify(read.cases)), JSON.parse(JSON.stringify(current.cases)));
  const unsupported = { peer: 'onnxruntime', version: '1.31.1', status: 'unsupported', reason: 'no ORT operator' };
  const withPeers = {
    ...v3,
    config: { ...v3Config, peers: ['onnxruntime'] },
    cases: v3.cases.map((c) => (c['status'] === 'ok' ? { ...c, peers: [unsupported] } : c)),
  };
  const kept = readResultFile(temporary('v3-peers.json', JSON.stringify(withPeers)));
  assert.deepEqual(kept.config.peers, ['onnxruntime']);
  assert.deepEqual(
    kept.cases.find((c) => c.status === 'ok' && c.peers)?.status === 'ok'
      ? (kept.cases.find((c) => c.status === 'ok' && c.peers) as { peers: unknown }).peers
      : null,
    [unsupported],
  );
});

test('v1 -> v2 on a journal: the header and every line, also lines a newer mla-bench appended on resume', () => {
  const { cases, finishedAt: _f, ceilings: _c, ...header } = v1();
  const [plain, withStages] = cases as [Record<string, unknown>, Record<string, unknown>];
  // Appended by a resumed run of the current version: already in the current shape.
  const current = {
    ...withStages,
    key: 'mla-decode/resumed',
    stagePlacement: 'in-pipeline',
    stagesEndToEnd: { ...(withStages['stagesEndToEnd'] as object), timer: 'wall' },
  };
  const lines = [
    { type: 'header', header },
    { type: 'case', measurement: plain },
    { type: 'case', measurement: withStages },
    { type: 'case', measurement: current },
  ];
  const journal = readJournal(temporary('run.json.journal.jsonl', lines.map((line) => JSON.stringify(line)).join('\n') + '\n'));
  assert.equal(journal.header.schemaVersion, RESULTS_SCHEMA_VERSION);
  assert.equal(journal.header.config.visits, 1);
  const byKey = new Map(journal.cases.map((c) => [c.key, c]));
  const old = byKey.get(withStages['key'] as string);
  const resumed = byKey.get('mla-decode/resumed');
  assert.ok(old?.status === 'ok' && resumed?.status === 'ok');
  assert.equal(old.stagePlacement, 'alone');
  assert.equal(resumed.stagePlacement, 'in-pipeline');
  assert.equal(resumed.stagesEndToEnd?.timer, 'wall');
});

test('a file from a newer mla-bench is refused with the reason, not a field-by-field schema error', () => {
  const raw = { ...v1(), schemaVersion: RESULTS_SCHEMA_VERSION + 1 };
  assert.throws(
    () => readResultFile(temporary('future.json', JSON.stringify(raw))),
    (e: Error) => e instanceof UserError && e.message.includes('future.json') && e.message.includes('newer mla-bench'),
  );
});

test('v4 -> v5: cases of tunable families that ran get their defaults, unrecorded; the run no tuning file', () => {
  const results = readResultFile(V1_PATH);
  assert.equal(results.config.tuning, null);
  for (const c of results.cases) {
    const ran = c.status === 'ok' || c.status === 'checked' || c.status === 'numerics-failed';
    const tunable = ['attention', 'mla', 'moe', 'gemm'].includes(c.family);
    const config = 'kernelConfig' in c ? c.kernelConfig : undefined;
    if (ran && tunable) assert.deepEqual(config, { source: 'default', plans: null }, c.key);
    else assert.equal(config, undefined, c.key);
  }
  assert.ok(
    results.cases.some((c) => 'kernelConfig' in c),
    'the fixture has a tunable case',
  );
});

test("v5 -> v6: a peer's attention kernels read back as the operator's, roles renamed, nothing else changed", () => {
  const current = readResultFile(V1_PATH) as unknown as Json & { cases: Array<Record<string, unknown>> };
  const series = { stats: summarize([2, 3]), samplesMs: [2, 3] };
  const v5Peer = {
    peer: 'onnxruntime',
    version: '1.31.1',
    operator: 'com.microsoft.GroupQueryAttention',
    status: 'ok',
    adapter: 'lavapipe only',
    numerics: { passed: true, checks: [] },
    kernels: {
      attention: series,
      beyond: null,
      programs: [
        { program: 'FlashAttentionDecodeQKV', role: 'attention', stats: series.stats },
        { program: 'CopyKVCache', role: 'beyond', stats: series.stats },
      ],
    },
    wall: { run: series, overhead: series, netMedianMs: 0 },
    visits: 1,
    visitMedians: [{ kernelMs: 2.5, wallMs: 0 }],
  };
  const unsupported = { peer: 'onnxruntime', version: '1.31.1', status: 'unsupported', reason: 'no ORT operator' };
  const v5 = {
    ...current,
    schemaVersion: 5,
    cases: current.cases.map((c, i) => (c['status'] === 'ok' ? { ...c, peers: [i % 2 ? unsupported : v5Peer] } : c)),
  };
  const read = readResultFile(temporary('v5-peers.json', JSON.stringify(v5)));
  assert.equal(read.schemaVersion, RESULTS_SCHEMA_VERSION);
  const entries = read.cases.flatMap((c) => (c.status === 'ok' ? (c.peers ?? []) : []));
  const ok = entries.find((p) => p.status === 'ok');
  assert.ok(ok?.status === 'ok');
  assert.deepEqual(ok.kernels.operator, series);
  assert.deepEqual(
    ok.kernels.programs.map((p) => p.role),
    ['operator', 'beyond'],
  );
  assert.ok(!('attention' in ok.kernels));
  assert.ok(entries.some((p) => p.status === 'unsupported'));
});

test('v7 -> v8: a version-7 file says its host thread spun through its waits; a recorded host wait is kept', () => {
  const current = readResultFile(V1_PATH) as unknown as Json & { environment: Record<string, unknown> };
  const { hostWait: _dropped, ...v7Environment } = current.environment;
  const v7 = { ...current, schemaVersion: 7, environment: v7Environment };
  const read = readResultFile(temporary('v7.json', JSON.stringify(v7))) as unknown as Json & { environment: Record<string, unknown> };
  assert.equal(read.schemaVersion, RESULTS_SCHEMA_VERSION);
  assert.equal(read.environment['hostWait'], 'spin');
  const asleep = readResultFile(
    temporary('v7-sleep.json', JSON.stringify({ ...v7, environment: { ...v7Environment, hostWait: 'sleep' } })),
  ) as unknown as Json & {
    environment: Record<string, unknown>;
  };
  assert.equal(asleep.environment['hostWait'], 'sleep');
});
