import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../../src/results/lock.js';
import { readJournal, readResultFile } from '../../src/results/store.js';
import { cli, fastRun, startCli } from '../helpers/cli.js';

/** Slow enough per case (>= 0.4 s) that a kill lands mid-run. */
const SLOW_RUN = fastRun({ minSamples: 20, minTimeMs: 400 });

function finishedCases(journal: string): number {
  if (!existsSync(journal)) return 0;
  return readFileSync(journal, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{"type":"case"')).length;
}

async function killMidRun(signal: NodeJS.Signals, out: string): Promise<{ keys: string[]; samples: Map<string, number[]> }> {
  const journal = out + '.journal.jsonl';
  const { child, done } = startCli(['run', 'calibration', ...SLOW_RUN, '--out', out]);
  const deadline = Date.now() + 60_000;
  let early: string | undefined;
  void done.then((r) => (early = r.stderr));
  while (finishedCases(journal) < 2 && Date.now() < deadline && early === undefined) await sleep(100);
  assert.equal(early, undefined, `the run ended before the kill: ${early}`);
  assert.ok(finishedCases(journal) >= 2, 'two cases finished before the kill');
  // The lock names the process that measures (the supervisor's child).
  const measuring = (JSON.parse(readFileSync(out + '.lock', 'utf8')) as { pid: number }).pid;
  child.kill(signal);
  const result = await done;
  assert.ok(result.code !== 0 || result.signal !== null, 'the killed run does not report success');
  if (signal === 'SIGINT')
    assert.ok(
      result.stderr.includes(`finish with \`mla-bench run --resume --journal ${journal}\``),
      `the hint names the journal: ${result.stderr}`,
    );
  // The supervisor's child must not outlive it, even after SIGKILL.
  const gone = Date.now() + 30_000;
  while (processAlive(measuring) && Date.now() < gone) await sleep(50);
  assert.equal(processAlive(measuring), false, 'no process keeps measuring after the kill');
  assert.equal(existsSync(out), false, 'no results file from an interrupted run');
  const { cases } = readJournal(journal);
  assert.ok(cases.length >= 2 && cases.length < 7);
  return {
    keys: cases.map((c) => c.key),
    samples: new Map(cases.flatMap((c) => (c.status === 'ok' ? [[c.key, c.timing.samplesMs] as const] : []))),
  };
}

for (const signal of ['SIGINT', 'SIGKILL'] as const) {
  test(`a run killed with ${signal} keeps every finished case and --resume completes it`, async () => {
    const out = join(mkdtempSync(join(tmpdir(), `mla-bench-${signal}-`)), 'run.json');
    const before = await killMidRun(signal, out);
    // Before the resume, report reads the journal: the finished cases, said to be an unfinished run's.
    const partial = await cli(['report', out + '.journal.jsonl', '--format', 'csv']);
    assert.equal(partial.code, 0, partial.stderr);
    assert.match(partial.stderr, new RegExp(`the journal of an unfinished run: its ${before.keys.length} finished case\\(s\\)`));
    const rows = partial.stdout.trim().split('\n').slice(1);
    assert.equal(rows.length, before.keys.length);
    for (const key of before.keys)
      assert.ok(
        rows.some((row) => row.includes(key)),
        `${key} in the partial report`,
      );
    const resumed = await cli(['run', '--resume', '--journal', out + '.journal.jsonl', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const results = readResultFile(out);
    const keys = results.cases.map((c) => c.key);
    assert.equal(new Set(keys).size, keys.length, 'no case measured twice');
    assert.equal(keys.length, 7, 'every planned case is in the final file');
    for (const key of before.keys) assert.ok(keys.includes(key));
    for (const [key, samples] of before.samples) {
      const kept = results.cases.find((c) => c.key === key);
      assert.ok(kept?.status === 'ok');
      // Its later visits pool more samples after the ones measured before the kill.
      assert.deepEqual(kept.timing.samplesMs.slice(0, samples.length), samples, `${key}: measured before the kill, kept as measured`);
    }
    for (const c of results.cases) assert.ok(c.status === 'ok' && c.timing.visits === 3, `${c.key}: all three visits after the resume`);
  });
}

test('--resume with nothing to resume is a one-line error', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'mla-bench-empty-'));
  const { code, stderr } = await cli(['run', '--resume', '--results-dir', empty]);
  assert.equal(code, 2);
  assert.match(stderr, /no interrupted run to resume/);
});
