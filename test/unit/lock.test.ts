import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../src/errors.js';
import { isStale, ResultsLock } from '../../src/results/lock.js';
import { ensureDir } from '../../src/results/store.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-lock-'));
const holder = (pid: number, host = hostname()) => ({ pid, host, startedAt: '2026-01-01T00:00:00.000Z', token: `t${pid}` });

test('a lock is stale only when its process is gone from this host', () => {
  assert.equal(
    isStale(holder(10), hostname(), () => false),
    true,
  );
  assert.equal(
    isStale(holder(10), hostname(), () => true),
    false,
  );
  assert.equal(
    isStale(holder(10, 'elsewhere'), hostname(), () => false),
    false,
    'another host: the user decides',
  );
});

test('one holder at a time: the second is refused naming the first; after release the path is free', () => {
  const path = join(dir, 'a.json');
  const first = ResultsLock.acquire(path);
  assert.equal((JSON.parse(readFileSync(path + '.lock', 'utf8')) as { pid: number }).pid, process.pid);
  assert.throws(
    () => ResultsLock.acquire(path, () => true),
    (e: Error) => e instanceof UserError && e.message.includes(`(pid ${process.pid}, since `),
  );
  first.release();
  assert.equal(existsSync(path + '.lock'), false);
  ResultsLock.acquire(path).release();
});

test('a stale lock is taken over; a live one, or one that is not ours to read, is not', () => {
  const path = join(dir, 'b.json');
  writeFileSync(path + '.lock', JSON.stringify(holder(4242)));
  assert.throws(() => ResultsLock.assertFree(path, () => true), /in use by another mla-bench run \(pid 4242/);
  ResultsLock.assertFree(path, () => false);
  const lock = ResultsLock.acquire(path, (pid) => pid !== 4242);
  assert.equal((JSON.parse(readFileSync(path + '.lock', 'utf8')) as { pid: number }).pid, process.pid);
  lock.release();
  writeFileSync(path + '.lock', 'garbage');
  assert.throws(() => ResultsLock.acquire(path), /which is not an mla-bench lock/);
});

test('ensureDir makes nested folders and fails, instead of spinning, where the kernel will not make one', () => {
  const nested = join(dir, 'x', 'y', 'z');
  ensureDir(nested);
  assert.ok(existsSync(nested));
  ensureDir(nested);
  assert.throws(
    () => ensureDir('/proc/mla-bench-no-such/dir'),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
  );
  writeFileSync(join(dir, 'file'), '');
  assert.throws(
    () => ensureDir(join(dir, 'file', 'sub')),
    (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR',
  );
});
