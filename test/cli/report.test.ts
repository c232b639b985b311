import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Measurement, ResultFile } from '../../src/results/schema.js';
import { cli, ROOT } from '../helpers/cli.js';
import { withLeftOut } from '../helpers/fixtures.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const A = join(FIX, 'results-device-a.json');
const SLOW = join(FIX, 'results-device-a-slow.json');
const B = join(FIX, 'results-device-b.json');
const dir = mkdtempSync(join(tmpdir(), 'mla-bench-report-'));

test('report prints terminal tables per suite by default', async () => {
  const { code, stdout, stderr } = await cli(['report', A]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /copy bandwidth\s+│\s+357 GB\/s/);
  for (const suite of ['attention-decode', 'mla-decode', 'moe-dispatch']) assert.match(stdout, new RegExp(`^${suite}( \\(.*\\))?$`, 'm'));
});

// The lavapipe baseline of 2026-11-29, frozen as a fixture: the assertions below quote its figures.
const BASELINE = join(ROOT, 'test', 'fixtures', 'lavapipe-2core-2026-11-29.json.gz');

test('report opens with the findings, and no terminal line is wider than 120 columns (baseline and fixtures)', async () => {
  for (const file of [BASELINE, A, B]) {
    const { code, stdout, stderr } = await cli(['report', file]);
    assert.equal(code, 0, stderr);
    const lines = stdout.split('\n');
    const wide = lines.filter((line) => [...line].length > 120);
    assert.deepEqual(wide, [], `${file}: lines wider than 120 columns`);
    // The file, the run's header line, then the findings before any table.
    assert.equal(lines[0], file);
    assert.match(lines[1] as string, / - profile quick, no time budget$/);
    assert.equal(lines[2], '');
    assert.match(lines[3] as string, /^Findings, computed from these results/);
    const firstTable = lines.findIndex((line) => line.startsWith('┌'));
    assert.ok(
      lines.slice(4, firstTable).filter((line) => line.startsWith('- ')).length >= 7,
      `${file}: a finding per topic before the first table`,
    );
  }
  const { stdout } = await cli(['report', BASELINE]);
  assert.match(
    stdout,
    /^- MLA decode vs MHA, deepseek-v2-lite \(batch 1, context 1024, f32\): absorbed \(9\.89 ms\) is 2\.2x slower than MHA/m,
  );
});

test('report --format md and html open with the findings too', async () => {
  const md = await cli(['report', BASELINE, '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  const headings = md.stdout.split('\n').filter((line) => line.startsWith('#'));
  assert.match(headings[2] as string, /^### Findings, computed from these results/);
  assert.match(
    md.stdout,
    /^- \*\*MLA crossover, deepseek-v2-lite\*\* \(batch 1, context 256, f32\): naive-latent beats absorbed from q_len 256/m,
  );
  const out = join(dir, 'html-findings');
  const html = await cli(['report', BASELINE, '--format', 'html', '--out', out]);
  assert.equal(html.code, 0, html.stderr);
  const page = readFileSync(join(out, 'report.html'), 'utf8');
  const at = (text: string): number => page.indexOf(text);
  assert.ok(at('class="findings"') > 0 && at('class="findings"') < at('<table'), 'the findings come before any table');
  assert.ok(at('<table') < at('id="charts"'), 'the tables come before the charts');
  assert.doesNotMatch(page.slice(0, at('id="charts"')), /<details><summary>[^<]*\(\d+ cases\)/, 'suite tables are not folded away');
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
  const { code, stdout, stderr } = await cli([
    'report',
    A,
    B,
    '--out',
    out,
    ...['md', 'csv', 'html', 'png', 'gab', 'bmf'].flatMap((f) => ['--format', f]),
    '--json',
  ]);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout);
  assert.deepEqual(result.devices, ['Fixture RTX 4070 (Vulkan)', 'Fixture Apple M2 (Metal)']);
  assert.deepEqual(
    result.findings.map((d: { device: string }) => d.device),
    result.devices,
    'the findings of each device',
  );
  assert.ok(result.findings[0].findings.some((f: { topic: string; measured: boolean }) => f.topic === 'roof' && f.measured));
  for (const name of ['report.md', 'report.csv', 'report.html', 'gab-latency.json', 'gab-throughput.json', 'bmf.json'])
    assert.ok(existsSync(join(out, name)), name);
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
  const cases = result.comparisons[0].cases as Array<{ suite: string; verdict: string }>;
  assert.ok(cases.every((c) => c.verdict === (c.suite === 'calibration' ? 'same' : 'slower')));
});

test("compare sets the calibrated ceilings side by side, divides each case's shift out, and warns when the machine moved", async () => {
  // The machine slower by `factor`: its ceilings and its calibration kernels' samples (each a copy here).
  const movedBy = (factor: number): string => {
    const moved = JSON.parse(readFileSync(SLOW, 'utf8'));
    moved.ceilings.copyGBs /= factor;
    for (const c of moved.cases) {
      if (c.suite !== 'calibration' || c.status !== 'ok') continue;
      c.timing.samplesMs = c.timing.samplesMs.map((x: number) => x * factor);
      c.timing.gpu.median *= factor;
    }
    const path = join(dir, `moved-machine-${factor}.json`);
    writeFileSync(path, JSON.stringify(moved));
    return path;
  };
  // x1.2 slower on a machine whose calibration kernels all took 1.25x as long: the machine's, not the build's.
  const { code, stdout, stderr } = await cli(['compare', A, movedBy(1.25), '--fail-on-regression', '5', '--json']);
  assert.equal(code, 0, stderr);
  const comparison = JSON.parse(stdout).comparisons[0];
  assert.ok(Math.abs(comparison.machine - 1.25) < 1e-9, String(comparison.machine));
  const cases = comparison.cases as Array<{ rawRatio: number; ratio: number; verdict: string }>;
  assert.ok(cases.length > 0);
  for (const c of cases) {
    assert.ok(Math.abs(c.ratio - c.rawRatio / 1.25) < 1e-9 && c.rawRatio > 1.1, `${c.rawRatio} ${c.ratio}`);
    assert.notEqual(c.verdict, 'slower');
  }
  const table = await cli(['compare', A, movedBy(1.25)]);
  assert.match(table.stdout, /copy bandwidth\s+│\s+357 GB\/s\s+│\s+286 GB\/s\s+│\s+1\.250x/);
  assert.match(table.stdout, /divided by the machine's own shift, 1\.250x/);
  // Wrapped at 120 columns like every line of the report.
  assert.match(
    table.stdout,
    /^Warning: the machine itself moved between these runs:[\s\S]*?copy\s+bandwidth\s+1\.25x,\s+past\s+the\s+±2%\s+band/m,
  );
  assert.doesNotMatch(table.stdout, /read bandwidth 1\.00x/, 'only the ceilings that moved are named');
  // Judged raw, the same pair is a regression, and the gate's one line points at the machine.
  const raw = await cli(['compare', A, movedBy(1.25), '--no-machine-correction', '--fail-on-regression', '5']);
  assert.equal(raw.code, 1);
  const lines = raw.stderr.trim().split('\n');
  assert.equal(lines.length, 1, raw.stderr);
  assert.match(lines[0] as string, /significantly slower .*; the calibrated ceilings moved too/);
  // Slower than the machine explains (x1.2 against x1.1): still a regression.
  const beyond = await cli(['compare', A, movedBy(1.1), '--fail-on-regression', '5']);
  assert.equal(beyond.code, 1, beyond.stdout);
  const md = await cli(['compare', A, movedBy(1.25), '--format', 'md']);
  assert.match(md.stdout, /^> \*\*Warning:\*\* the machine itself moved/m);
  const quiet = await cli(['compare', A, SLOW, '--fail-on-regression', '5']);
  assert.doesNotMatch(quiet.stdout + quiet.stderr, /machine itself moved|ceilings moved too/);
});

test('compare with visits: a candidate slower in every visit is flagged; one that drifted in some visits is not', async () => {
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? (s[s.length >> 1] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  };
  // Each case's 24 samples as three visits of 8, each visit scaled by its factor.
  const withVisits = (file: string, factors: number[], out: string): string => {
    const results = JSON.parse(readFileSync(file, 'utf8'));
    for (const c of results.cases) {
      if (c.status !== 'ok') continue;
      const visits = factors.map((f, v) => (c.timing.samplesMs as number[]).slice(v * 8, v * 8 + 8).map((x) => x * f));
      c.timing.samplesMs = visits.flat();
      c.timing.visits = visits.length;
      c.timing.visitMediansMs = visits.map(median);
    }
    const path = join(dir, out);
    writeFileSync(path, JSON.stringify(results));
    return path;
  };
  const base = withVisits(A, [1, 1, 1], 'visits-base.json');
  const slow = await cli(['compare', base, withVisits(SLOW, [1, 1, 1], 'visits-slow.json'), '--fail-on-regression', '5', '--json']);
  assert.equal(slow.code, 1, 'x1.2 in every visit: a regression');
  // The machine slowed down during two of the candidate's three visits (x1.15 and x1.5) and not the third.
  const drifted = withVisits(A, [1, 1.15, 1.5], 'visits-drifted.json');
  const { code, stdout, stderr } = await cli(['compare', base, drifted, '--fail-on-regression', '5', '--json']);
  assert.equal(code, 0, stderr);
  const cases = JSON.parse(stdout).comparisons[0].cases as Array<{
    ratio: number;
    p: number;
    verdict: string;
    visits: { slowerP: number };
  }>;
  assert.ok(
    cases.some((c) => c.ratio > 1.05 && c.p < 0.05),
    'pooled samples alone would call some of these slower',
  );
  assert.ok(cases.every((c) => c.verdict !== 'slower' && c.visits.slowerP > 0.05));
  const table = await cli(['compare', base, drifted]);
  assert.match(table.stdout, /visits p/);
  // A base that does not reproduce its own figure (one visit of three 1.3x the others) cannot call x1.2 the build's.
  const unsteady = withVisits(A, [1, 1.3, 1], 'visits-unsteady.json');
  const wide = await cli(['compare', unsteady, withVisits(SLOW, [1, 1, 1], 'visits-slow.json'), '--fail-on-regression', '5', '--json']);
  assert.equal(wide.code, 0, wide.stderr);
  for (const c of JSON.parse(wide.stdout).comparisons[0].cases as Array<{ band: number; verdict: string }>) {
    assert.ok(Math.abs(c.band - 0.3) < 0.05, `band ${c.band}`);
    assert.notEqual(c.verdict, 'slower');
  }
});

test('compare: cases a budget left out on one side are listed apart, never missing, never a regression', async () => {
  const batch16 = (m: Measurement): boolean => m.suite === 'attention-decode' && m.params['batch'] === 16;
  const budgeted = join(dir, 'budgeted-same.json');
  writeFileSync(budgeted, JSON.stringify(withLeftOut(JSON.parse(readFileSync(A, 'utf8')) as ResultFile, batch16)));
  const { code, stdout, stderr } = await cli(['compare', A, budgeted, '--fail-on-regression', '5', '--json']);
  assert.equal(code, 0, stderr);
  const [c] = JSON.parse(stdout).comparisons as Array<{
    onlyInBase: string[];
    onlyInCandidate: string[];
    leftOutOnOneSide: Array<{ key: string; leftOutIn: string }>;
    cases: unknown[];
  }>;
  assert.deepEqual(c?.onlyInBase, []);
  assert.equal(c?.leftOutOnOneSide.length, 15);
  assert.ok(c?.leftOutOnOneSide.every((x) => x.leftOutIn === 'candidate'));
  const table = await cli(['compare', budgeted, A]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(
    table.stdout,
    /^left out by a budget on one side: 15 cases \(15 by the base's\), measured on the other; not compared, no verdict$/m,
  );
  assert.doesNotMatch(table.stdout, /only in/);
  assert.ok(table.stdout.split('\n').every((line) => [...line].length <= 120));
  // A real regression elsewhere still fails the gate, and left-out cases do not add to it.
  const slow = join(dir, 'budgeted-slow.json');
  writeFileSync(slow, JSON.stringify(withLeftOut(JSON.parse(readFileSync(SLOW, 'utf8')) as ResultFile, batch16)));
  const gate = await cli(['compare', A, slow, '--fail-on-regression', '5']);
  assert.equal(gate.code, 1);
  const timed = (JSON.parse(readFileSync(A, 'utf8')) as ResultFile).cases.filter(
    (m) => m.status === 'ok' && m.suite !== 'calibration',
  ).length;
  assert.match(gate.stderr, new RegExp(`^Error: ${timed - 15} case\\(s\\) significantly slower`));
});

test('compare of an identical pair exits 0 with no case slower', async () => {
  const { code, stdout, stderr } = await cli(['compare', A, A, '--fail-on-regression', '5', '--json']);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout);
  assert.equal(result.regressions.length, 0);
  assert.ok(
    result.comparisons[0].ceilings.length === 5 &&
      result.comparisons[0].ceilings.every((c: { timeRatio: number; moved: boolean }) => c.timeRatio === 1 && !c.moved),
  );
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

test('report and compare read gzip-compressed results (.json.gz) as they read plain JSON', async () => {
  const gz = join(dir, 'device-a.json.gz');
  writeFileSync(gz, gzipSync(readFileSync(A)));
  const plain = await cli(['report', A, '--format', 'md']);
  const packed = await cli(['report', gz, '--format', 'md']);
  assert.equal(packed.code, 0, packed.stderr);
  assert.equal(packed.stdout.replaceAll(gz, A), plain.stdout);
  const compared = await cli(['compare', gz, SLOW, '--json']);
  assert.equal(compared.code, 0, compared.stderr);
  assert.ok(JSON.parse(compared.stdout).comparisons[0].cases.length > 0);
});
