import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { KernelCase } from '../../src/kernels/spec.js';
import type { SlotPlan, TunableSlot } from '../../src/kernels/tunable.js';
import { checkTuningRequest, parseTuningRequest } from '../../src/run/tuning.js';
import { describePlans, plansProblem } from '../../src/tune/admit.js';
import {
  emptyTuningFile,
  entryKey,
  mergeEntries,
  readTuningFile,
  tuningDir,
  tuningFileToUpdate,
  tuningKey,
  tuningPath,
  writeTuningFile,
  type TuningEntry,
  type TuningKey,
} from '../../src/tune/tuning-file.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-tuning-'));
const ADAPTER = {
  vendor: 'mesa',
  architecture: 'llvm',
  device: 'llvmpipe (LLVM 19.1.7, 256 bits)',
  description: 'Mesa 25.0.7',
  backend: 'vulkan',
};
const KEY: TuningKey = tuningKey(ADAPTER, '0.1.0');
const NOW = '2026-12-07T12:00:00.000Z';

const sub = (rpi: number, chunk: number): SlotPlan => ({
  family: 'attention',
  plan: { kind: 'rows-subgroup', rpi, wg: 8, chunk, output: 'partials' },
});

function entry(params: Record<string, string | number>, status: TuningEntry['status'] = 'tuned', rpi = 2): TuningEntry {
  return {
    family: 'attention',
    params,
    case: `attention-decode/${Object.values(params).join(',')}`,
    status,
    plans: { attend: sub(rpi, 128) } as unknown as TuningEntry['plans'],
    defaults: { attend: 'rows-subgroup rpi=1 wg=8 chunk=128 output=partials' },
    tuned: { attend: `rows-subgroup rpi=${rpi} wg=8 chunk=128 output=partials` },
    speedup: { speedup: 1.2, lo: 1.1, hi: 1.3, rounds: 20 },
    evaluated: 7,
    failing: [{ slot: 'attend', plan: 'rows-subgroup rpi=8 wg=8 chunk=16 output=direct', reason: 'numerics: out: 12 of 128 elements off' }],
    tunedAt: NOW,
  };
}

function fileWith(entries: TuningEntry[], key = KEY): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeTuningFile(path, mergeEntries(emptyTuningFile(key, 'abc123', NOW), entries, 'abc123', NOW));
  return path;
}

test('a tuning file round-trips: human-readable JSON, entries looked up by family and axis values in any order', () => {
  const path = fileWith([entry({ variant: 'gqa', batch: 1 }), entry({ variant: 'mqa', batch: 1 }, 'default-kept')]);
  const text = readFileSync(path, 'utf8');
  assert.match(text, /^\{\n {2}"format": "mla-bench\/tuning",\n {2}"version": 1,/, 'pretty-printed');
  const read = readTuningFile(path, KEY);
  assert.ok('table' in read, JSON.stringify(read));
  assert.equal(read.table.size, 2);
  assert.deepEqual(read.table.plans('attention', { batch: 1, variant: 'gqa' }), { attend: sub(2, 128) });
  assert.equal(read.table.plans('attention', { variant: 'mqa', batch: 1 }), undefined, 'a default-kept entry changes nothing');
  assert.equal(read.table.plans('attention', { variant: 'mha', batch: 1 }), undefined);
  assert.equal(read.table.plans('mla', { variant: 'gqa', batch: 1 }), undefined, 'the family is part of the key');
  assert.equal(entryKey('attention', { b: 2, a: 'x' }), 'attention a=x,b=2');
});

function warningOf(path: string, key = KEY): string {
  const read = readTuningFile(path, key);
  assert.ok('warning' in read, 'the file is not used');
  assert.ok(!read.warning.includes('\n'), `one line: ${read.warning}`);
  assert.match(read.warning, /running the default plans$/);
  return read.warning;
}

test('a corrupt tuning file is a one-line warning and the defaults', () => {
  const notJson = join(dir, 'corrupt.json');
  writeFileSync(notJson, '{"format": "mla-bench/tuning", "entr');
  assert.match(warningOf(notJson), /corrupt\.json is not JSON/);
  const badField = join(dir, 'bad-field.json');
  const file = JSON.parse(readFileSync(fileWith([entry({ batch: 1 })]), 'utf8'));
  file.entries[0].plans.attend.plan.rpi = -3;
  writeFileSync(badField, JSON.stringify(file));
  assert.match(warningOf(badField), /is not a mla-bench\/tuning v1 file \(entries\.0\.plans\.attend\.plan\.rpi: /);
  const otherFormat = join(dir, 'results.json');
  writeFileSync(otherFormat, JSON.stringify({ schema: 'mla-bench/results', schemaVersion: 5 }));
  assert.match(warningOf(otherFormat), /is not a mla-bench\/tuning v1 file \(format: /);
  assert.match(warningOf(join(dir, 'missing.json')), /cannot be read/);
});

test("another adapter's or another mla-bench version's tuning file is a one-line warning and the defaults", () => {
  const path = fileWith([entry({ batch: 1 })]);
  const foreign = warningOf(path, { ...KEY, device: 'NVIDIA H100 80GB HBM3', vendor: 'nvidia' });
  assert.match(
    foreign,
    /was tuned on llvmpipe \(LLVM 19\.1\.7, 256 bits\) \(mesa, vulkan\), driver "Mesa 25\.0\.7", mla-bench 0\.1\.0, not this adapter/,
  );
  assert.match(warningOf(path, { ...KEY, tool: '0.2.0' }), /mla-bench 0\.1\.0, not this adapter/);
  assert.match(warningOf(path, { ...KEY, driver: 'Mesa 25.1.0' }), /driver "Mesa 25\.0\.7"/);
});

test('tune replaces an unusable old file, and merges into a usable one (a case tuned again replaces its entry)', () => {
  const corrupt = join(dir, 'replace.json');
  writeFileSync(corrupt, 'nonsense');
  const replaced = tuningFileToUpdate(corrupt, KEY, null, NOW);
  assert.equal(replaced.file.entries.length, 0);
  assert.match(replaced.warning ?? '', /is not JSON \(corrupt\?\): starting a new one$/);
  assert.equal(tuningFileToUpdate(join(dir, 'new.json'), KEY, null, NOW).warning, undefined);
  const path = fileWith([entry({ batch: 1 }), entry({ batch: 2 })]);
  const update = tuningFileToUpdate(path, KEY, null, NOW);
  const merged = mergeEntries(update.file, [entry({ batch: 2 }, 'tuned', 4)], null, NOW);
  assert.equal(merged.entries.length, 2);
  assert.equal(merged.entries.find((e) => e.params['batch'] === 2)?.tuned['attend'], 'rows-subgroup rpi=4 wg=8 chunk=128 output=partials');
});

test('the tuning cache: MLA_BENCH_TUNING_DIR, else XDG_CACHE_HOME, else ~/.cache; one file per adapter key', () => {
  assert.equal(tuningDir({ MLA_BENCH_TUNING_DIR: '/t', XDG_CACHE_HOME: '/x' }), '/t');
  assert.equal(tuningDir({ XDG_CACHE_HOME: '/x' }), join('/x', 'mla-bench', 'tuning'));
  assert.match(tuningDir({ HOME: '/h' }), /\.cache[/\\]mla-bench[/\\]tuning$/);
  const path = tuningPath('/t', KEY);
  assert.match(path, /^\/t\/llvmpipe-llvm-19-1-7-256-bits-[0-9a-f]{10}\.json$/);
  assert.equal(tuningPath('/t', { ...KEY }), path, 'stable');
  assert.notEqual(tuningPath('/t', { ...KEY, tool: '0.2.0' }), path, 'each version its own file');
});

test('--tuning: auto, none or a file; a named file must exist unless --tune writes it', () => {
  assert.deepEqual(parseTuningRequest('auto'), { kind: 'auto' });
  assert.deepEqual(parseTuningRequest('none'), { kind: 'none' });
  assert.deepEqual(parseTuningRequest('my.json'), { kind: 'file', path: 'my.json' });
  assert.throws(() => checkTuningRequest({ kind: 'file', path: join(dir, 'nope.json') }, false), /--tuning .*nope\.json: no such file/);
  assert.doesNotThrow(() => checkTuningRequest({ kind: 'file', path: join(dir, 'nope.json') }, true));
  assert.throws(() => checkTuningRequest({ kind: 'none' }, true), /cannot go with --tuning none/);
});

/** A built case with one tunable slot whose space is `space` (the first plan chosen). */
function caseWith(chosen: SlotPlan, space: SlotPlan[]): KernelCase {
  const slot: TunableSlot = { name: 'attend', chosen, space: () => space };
  return { buffers: [], stages: [], checks: [], tunables: [slot] };
}

test('a tuned plan is admitted only where the case took it and it is a legal plan of its space', () => {
  const space = [sub(1, 128), sub(2, 128)];
  assert.equal(plansProblem(caseWith(sub(2, 128), space), { attend: sub(2, 128) }), null);
  assert.match(
    plansProblem(caseWith(sub(8, 128), space), { attend: sub(8, 128) }) ?? '',
    /rows-subgroup rpi=8 .* is not a legal plan for this shape on this device/,
  );
  assert.match(plansProblem(caseWith(sub(1, 128), space), { attend: sub(2, 128) }) ?? '', /not taken by the case/);
  assert.match(plansProblem(caseWith(sub(1, 128), space), { 'up-project': sub(2, 128) }) ?? '', /no tunable slot "up-project"/);
  assert.deepEqual(describePlans(caseWith(sub(2, 128), space)), { attend: 'rows-subgroup rpi=2 wg=8 chunk=128 output=partials' });
});
