import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResultFile } from '../../src/results/store.js';
import { TuningFileSchema } from '../../src/tune/tuning-file.js';
import { cli, FAST_RUN } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-tune-cli-'));
// The tuning cache of these tests: never the user's.
const ENV = { MLA_BENCH_TUNING_DIR: join(dir, 'cache') };
const CASE = ['-a', 'variant=gqa', '-a', 'context=64', '-a', 'dtype=f32', '-a', 'page_size=0'];
const RUN = ['run', 'calibration', 'attention-decode', ...FAST_RUN, '-a', 'kernel=dispatch', ...CASE, '--visits', '1'];
const tuned = join(dir, 'tuned.json');

test('tune writes the tuning file and prints the table: each case, its default and tuned config, the speed-up', async () => {
  const { code, stdout, stderr } = await cli(['tune', 'attention-decode', ...CASE, '--budget', '10s', '--out', tuned], ENV);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /default config/);
  assert.match(stdout, /tuned config/);
  assert.match(stdout, /speed-up \[95% CI\]/);
  assert.match(stdout, /attend: rows-subgroup /);
  assert.match(stdout, new RegExp(`tuning file: ${tuned.replace(/[.]/g, '\\.')}`));
  const file = TuningFileSchema.parse(JSON.parse(readFileSync(tuned, 'utf8')));
  assert.equal(file.entries.length, 1);
  const [entry] = file.entries;
  assert.equal(entry?.family, 'attention');
  assert.equal(entry?.params['variant'], 'gqa');
  assert.ok(entry && entry.evaluated >= 1 && Object.keys(entry.plans).includes('attend'));
  assert.ok(!existsSync(ENV.MLA_BENCH_TUNING_DIR), 'with --out, the cache is left alone');
});

test("run --tuning FILE builds the case with the file's plans and records them as tuned", async () => {
  // The tuned entry whatever the search found: its plans as a tuned entry (the defaults where they were kept).
  const file = JSON.parse(readFileSync(tuned, 'utf8'));
  file.entries[0].status = 'tuned';
  const forced = join(dir, 'forced.json');
  writeFileSync(forced, JSON.stringify(file, null, 2));
  const out = join(dir, 'tuned-run.json');
  const { code, stderr } = await cli([...RUN, '--tuning', forced, '--out', out], ENV);
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /warning:/);
  const results = readResultFile(out);
  assert.deepEqual(results.config.tuning, { requested: forced, file: forced, entries: 1, tuned: false });
  const decode = results.cases.find((c) => c.suite === 'attention-decode');
  assert.ok(decode?.status === 'ok', decode?.status);
  assert.equal(decode.kernelConfig?.source, 'tuned');
  assert.deepEqual(decode.kernelConfig?.plans, file.entries[0].tuned);
  const calibration = results.cases.find((c) => c.suite === 'calibration');
  assert.ok(calibration && !('kernelConfig' in calibration), 'calibration has no tunable slots');
});

test('run with a corrupt tuning file: a one-line warning, the defaults, recorded as such', async () => {
  const corrupt = join(dir, 'corrupt.json');
  writeFileSync(corrupt, '{"format": "mla-bench/tuning", "ver');
  const out = join(dir, 'corrupt-run.json');
  const { code, stderr } = await cli([...RUN, '--tuning', corrupt, '--out', out], ENV);
  assert.equal(code, 0, stderr);
  const warnings = stderr.split('\n').filter((line) => /^warning: /.test(line));
  assert.equal(warnings.length, 1, stderr);
  assert.match(warnings[0]!, /corrupt\.json is not JSON \(corrupt\?\): running the default plans/);
  const results = readResultFile(out);
  assert.deepEqual(results.config.tuning, { requested: corrupt, file: null, entries: 0, tuned: false });
  const decode = results.cases.find((c) => c.suite === 'attention-decode');
  assert.ok(decode?.status === 'ok');
  assert.equal(decode.kernelConfig?.source, 'default');
  assert.match(decode.kernelConfig?.plans?.['attend'] ?? '', /^rows-subgroup /);
});

test('bad tuning input gets a one-line error and a non-zero exit', async () => {
  for (const args of [
    ['run', 'attention-decode', '--tuning', join(dir, 'no-such.json')],
    ['run', 'attention-decode', '--tune', '--tuning', 'none'],
    ['tune', 'attention-decode', '--budget', '1s'],
    ['tune', 'attention-decode', '-a', 'bogus=1'],
  ]) {
    const { code, stderr } = await cli(args, ENV);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
  }
});
