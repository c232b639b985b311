import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { UserError } from '../../src/errors.js';
import { loadResults } from '../../src/report/data.js';
import { isGzipped } from '../../src/results/stored-json.js';
import { readResultFile, writeResultFile } from '../../src/results/store.js';
import { resultFixture } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-stored-'));
const results = resultFixture();

test('a results file is written as compact JSON, one line, and reads back as written', () => {
  const path = join(dir, 'run.json');
  writeResultFile(path, results);
  const text = readFileSync(path, 'utf8');
  assert.equal(text.split('\n').length, 2, 'one line and the final newline');
  assert.deepEqual(readResultFile(path), results);
});

test('a .json.gz name writes gzip-compressed JSON, the same bytes for the same results, and reads back transparently', () => {
  const path = join(dir, 'baseline.json.gz');
  writeResultFile(path, results);
  const bytes = readFileSync(path);
  assert.ok(isGzipped(bytes));
  writeResultFile(join(dir, 'again.json.gz'), results);
  assert.deepEqual(readFileSync(join(dir, 'again.json.gz')), bytes, 'a rerun of the same results changes nothing');
  assert.deepEqual(readResultFile(path), results);
  const [loaded] = loadResults([path]);
  assert.equal(loaded?.name, 'baseline');
});

test('readers go by the bytes: gzip under any name (pretty JSON inside, as `gzip` leaves it) and plain JSON under .gz', () => {
  const gzipped = join(dir, 'gzipped-by-hand.json');
  writeFileSync(gzipped, gzipSync(JSON.stringify(results, null, 2)));
  assert.deepEqual(readResultFile(gzipped), results);
  const plain = join(dir, 'plain.json.gz');
  writeFileSync(plain, JSON.stringify(results));
  assert.deepEqual(readResultFile(plain), results);
});

test('a cut-short gzip file is a one-line error naming the file', () => {
  const path = join(dir, 'cut.json.gz');
  writeFileSync(path, gzipSync(JSON.stringify(results)).subarray(0, 40));
  assert.throws(
    () => readResultFile(path),
    (e: Error) => e instanceof UserError && e.message.includes('cut.json.gz') && e.message.includes('gzip'),
  );
});

test('committed baselines are gzip-compressed results files that read back whole', () => {
  const baselines = new URL('../../results/baselines/', import.meta.url).pathname;
  const files = readdirSync(baselines).filter((name) => name.endsWith('.json') || name.endsWith('.json.gz'));
  assert.ok(files.length > 0);
  for (const name of files) {
    assert.ok(name.endsWith('.json.gz'), `${name}: baselines are stored as .json.gz (README, Baselines)`);
    const bytes = readFileSync(join(baselines, name));
    assert.ok(isGzipped(bytes), name);
    assert.ok(readResultFile(join(baselines, name)).cases.length > 0, name);
  }
});
