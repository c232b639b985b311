import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { ResultFileSchema } from '../../src/results/schema.js';
import { Journal, latestJournal, readJournal, readResultFile, writeFileAtomic } from '../../src/results/store.js';
import { checkedFixture, headerFixture, okFixture, resultFixture } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-results-'));

test('a results file survives a JSON round trip through the schema unchanged', () => {
  const results = resultFixture([
    okFixture('calibration/kernel=copy,mib=1', [1, 2, 3]),
    checkedFixture('kv-cache/preset=deepseek-v2,form=mha'),
    {
      key: 'calibration/kernel=fma-f16,mib=1',
      suite: 'calibration',
      family: 'calibration',
      params: { kernel: 'fma-f16', mib: 1 },
      status: 'skipped',
      reason: 'adapter has no shader-f16',
    },
    {
      key: 'calibration/kernel=read,mib=1',
      suite: 'calibration',
      family: 'calibration',
      params: {},
      status: 'error',
      message: 'validation: boom',
    },
  ]);
  const path = join(dir, 'round-trip.json');
  writeFileAtomic(path, JSON.stringify(results));
  assert.deepEqual(readResultFile(path), ResultFileSchema.parse(results));
  assert.deepEqual(readResultFile(path), results);
});

test('malformed or foreign files are rejected naming the file and the field', () => {
  const foreign = join(dir, 'foreign.json');
  writeFileSync(foreign, JSON.stringify({ hello: 'world' }));
  assert.throws(
    () => readResultFile(foreign),
    (e: Error) => e instanceof UserError && e.message.includes('foreign.json') && e.message.includes('schema'),
  );

  const broken = resultFixture();
  (broken.cases[0] as { timing: { repeats: unknown } }).timing.repeats = 'many';
  const bad = join(dir, 'bad-field.json');
  writeFileSync(bad, JSON.stringify(broken));
  assert.throws(
    () => readResultFile(bad),
    (e: Error) => e instanceof UserError && /bad-field\.json: cases\.0\.timing\.repeats/.test(e.message),
  );

  const notJson = join(dir, 'not-json.json');
  writeFileSync(notJson, '{ nope');
  assert.throws(
    () => readResultFile(notJson),
    (e: Error) => e instanceof UserError && e.message.includes('not valid JSON'),
  );
});

test('the journal keeps every appended case and drops a torn last line', () => {
  const path = join(dir, 'run.json.journal.jsonl');
  const journal = Journal.create(path, headerFixture());
  journal.append(okFixture('a', [1, 2]));
  journal.append(okFixture('b', [3, 4]));
  journal.close();
  appendFileSync(path, '{"type":"case","measurement":{"key":"c"'); // killed mid-write
  const { header, cases } = readJournal(path);
  assert.equal(header.config.profile, 'quick');
  assert.deepEqual(
    cases.map((c) => c.key),
    ['a', 'b'],
  );
  assert.equal(latestJournal(dir), path);

  const reopened = Journal.reopen(path);
  reopened.append(okFixture('d', [5]));
  reopened.close();
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  assert.equal(lines.length, 4, 'header, a, b, d: the torn line was cut off');
  assert.deepEqual(
    readJournal(path).cases.map((c) => c.key),
    ['a', 'b', 'd'],
  );
});

test('a journal with a corrupt middle line is an error, not silently truncated', () => {
  const path = join(dir, 'corrupt.json.journal.jsonl');
  writeFileSync(
    path,
    JSON.stringify({ type: 'header', header: headerFixture() }) +
      '\n{broken\n' +
      JSON.stringify({ type: 'case', measurement: okFixture('x', [1]) }) +
      '\n',
  );
  assert.throws(() => readJournal(path), /line 2 is not JSON/);
});

test('unwritable paths are a one-line user error', () => {
  assert.throws(
    () => writeFileAtomic(join('/etc/hostname', 'x.json'), '{}'),
    (e: Error) => e instanceof UserError && !e.message.includes('\n'),
  );
});
