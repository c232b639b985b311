import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const A = join(FIX, 'results-device-a.json');
const SLOW = join(FIX, 'results-device-a-slow.json');
const B = join(FIX, 'results-device-b.json');
const dir = mkdtempSync(join(tmpdir(), 'mla-bench-report-'));

test('report prints terminal tables per suite by default', async () => {
  const { code, stdout, stderr } = await cli(['report', A]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /copy bandwidth\s+│\s+357 GB\/s/);
  for (const suite of ['attention-decode', 'mla-decode', 'moe-dispatch']) assert.match(stdout, new RegExp(`^${suite}$`, 'm'));
});

test('report --format md and csv go to stdout without --out', async () => {
  const md = await cli(['report', A, '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /^# mla-bench report/m);
  const csv = await cli(['report', A, '-f', 'csv']);
  assert.equal(csv.code, 0, csv.stderr);
  assert.match(csv.stdout.split('\n')[0] as string, /^file,device,suite,key,/);
});

test('report writes every file format to --out and lists them with --json', async () => {
  const out = join(dir, 'all');
  const { code, stdout, stderr } = await cli(['report', A, B, '--out', out, ...['md', 'csv', 'html', 'png', 'gab', 'bmf'].flatMap((f) => ['--format', f]), '--json']);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout);
  assert.deepEqual(result.devices, ['Fixture RTX 4070 (Vulkan)', 'Fixture Apple M2 (Metal)']);
  for (const name of ['report.md', 'report.csv', 'report.html', 'gab-latency.json', 'gab-throughput.json', 'bmf.json']) assert.ok(existsSync(join(out, name)), name);
  const pngs = readdirSync(join(out, 'charts'));
  assert.equal(pngs.length, result.charts.length);
  assert.ok(result.charts.some((c: { kind: string }) => c.kind === 'cross-hardware'));
  const gab = JSON.parse(readFileSync(join(out, 'gab-latency.json'), 'utf8'));
  assert.ok(Array.isArray(gab) && gab.every((e: { unit: string }) => e.unit === 'ms'));
});

test('compare flags the x1.2 candidate slower and --fail-on-regression 5 exits 1 with one line', async () => {
  const { code, stdout, stderr } = await cli(['compare', A, SLOW, '--fail-on-regression', '5']);
  assert.equal(code, 1);
  assert.match(stdout, /slower/);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0] as string, /^Error: \d+ case\(s\) significantly slower by more than 5%/);
  const json = await cli(['compare', A, SLOW, '--json']);
  assert.equal(json.code, 0, 'without --fail-on-regression a regression is reported, not fatal');
  const result = JSON.parse(json.stdout);
  assert.ok(result.comparisons[0].cases.every((c: { verdict: string }) => c.verdict === 'slower'));
});

test('compare sets the calibrated ceilings side by side and warns, also in the gate\'s error, when the machine moved', async () => {
  const moved = JSON.parse(readFileSync(SLOW, 'utf8'));
  moved.ceilings.copyGBs /= 1.25;
  const path = join(dir, 'moved-machine.json');
  writeFileSync(path, JSON.stringify(moved));
  const { code, stdout, stderr } = await cli(['compare', A, path, '--fail-on-regression', '5']);
  assert.equal(code, 1);
  assert.match(stdout, /copy bandwidth\s+│\s+357 GB\/s\s+│\s+286 GB\/s\s+│\s+1\.250x/);
  assert.match(stdout, /^Warning: the machine itself moved between these runs: .*copy bandwidth 1\.25x, past the ±2% band/m);
  assert.doesNotMatch(stdout, /read bandwidth 1\.00x/, 'only the ceilings that moved are named');
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0] as string, /significantly slower .*; the calibrated ceilings moved too/);
  const md = await cli(['compare', A, path, '--format', 'md']);
  assert.match(md.stdout, /^> \*\*Warning:\*\* the machine itself moved/m);
  const quiet = await cli(['compare', A, SLOW, '--fail-on-regression', '5']);
  assert.doesNotMatch(quiet.stdout + quiet.stderr, /machine itself moved|ceilings moved too/);
});

test('compare of an identical pair exits 0 with no case slower', async () => {
  const { code, stdout, stderr } = await cli(['compare', A, A, '--fail-on-regression', '5', '--json']);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout);
  assert.equal(result.regressions.length, 0);
  assert.ok(result.comparisons[0].ceilings.length === 5 && result.comparisons[0].ceilings.every((c: { timeRatio: number; moved: boolean }) => c.timeRatio === 1 && !c.moved));
  assert.equal(result.comparisons[0].cases.filter((c: { verdict: string }) => c.verdict === 'slower').length, 0);
});

test('compare refuses files from different devices unless --cross-hardware', async () => {
  const refused = await cli(['compare', A, B]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr.trim(), /^Error: .*results-device-b\.json comes from another device .*--cross-hardware/);
  const cross = await cli(['compare', A, B, '--cross-hardware', '--json']);
  assert.equal(cross.code, 0, cross.stderr);
  const result = JSON.parse(cross.stdout);
  assert.equal(result.crossHardware.devices.length, 2);
  const human = await cli(['compare', A, B, '--cross-hardware']);
  assert.match(human.stdout, /Fixture RTX 4070 \(Vulkan\)\s+│\s+Fixture Apple M2 \(Metal\)/);
});

for (const command of ['report', 'compare']) {
  test(`${command} rejects malformed or foreign JSON naming the file and the field, in one line`, async () => {
    const cases: Array<[string, RegExp]> = [
      ['foreign.json', /foreign\.json: schema: not an mla-bench results file/],
      ['malformed-field.json', /malformed-field\.json: cases\.1\.timing\.gpu\.median: .*expected number/],
      ['not-json.json', /not-json\.json: not valid JSON/],
    ];
    for (const [file, message] of cases) {
      const args = command === 'report' ? ['report', join(FIX, file)] : ['compare', A, join(FIX, file)];
      const { code, stderr } = await cli(args);
      assert.notEqual(code, 0);
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0] as string, message);
    }
  });
}
