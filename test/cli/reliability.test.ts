import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { terminalText } from '../../src/report/sanitize.js';
import { processAlive } from '../../src/results/lock.js';
import { readResultFile } from '../../src/results/store.js';
import { cli, fastRun, FAST_RUN, ROOT, startCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-reliability-'));
/** Slow enough per case that a second run starts while the first one measures. */
const SLOW_RUN = fastRun({ minSamples: 20, minTimeMs: 1500 });

function journalLines(journal: string): number {
  return existsSync(journal)
    ? readFileSync(journal, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('{"type":"case"')).length
    : 0;
}

async function untilCases(journal: string, n: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (journalLines(journal) < n && Date.now() < deadline) await sleep(100);
  assert.ok(journalLines(journal) >= n, `${n} case(s) in ${journal}`);
}

/** One line on stderr, beginning "Error: ", and nothing on stdout: what every refused input gets. */
function assertOneLineError(result: { code: number | null; stdout: string; stderr: string }, pattern: RegExp, code = 2): void {
  assert.equal(result.code, code, result.stderr);
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line: ${JSON.stringify(result.stderr)}`);
  assert.match(lines[0]!, /^Error: /);
  assert.match(lines[0]!, pattern);
  assert.equal(result.stdout, '', 'nothing measured, nothing printed');
}

test('a second run on the results path of a run in progress is refused naming its pid; the first one finishes intact', async () => {
  const out = join(dir, 'shared.json');
  const first = startCli(['run', 'calibration', ...SLOW_RUN, '--visits', '1', '--out', out, '--json']);
  await untilCases(out + '.journal.jsonl', 1);
  const { pid } = JSON.parse(readFileSync(out + '.lock', 'utf8')) as { pid: number };
  for (const extra of [[], ['--force']]) {
    const second = await cli(['run', 'calibration', ...FAST_RUN, '--out', out, ...extra]);
    assertOneLineError(second, new RegExp(`${out} is in use by another mla-bench run \\(pid ${pid}, since `));
  }
  const done = await first.done;
  assert.equal(done.code, 0, done.stderr);
  const results = readResultFile(out);
  assert.equal(results.cases.length, 7, 'every case of the first run, each once');
  assert.equal(existsSync(out + '.lock'), false, 'the lock goes with the run');
});

test("a new run never truncates an unfinished run's journal: it names --resume and --force; --force discards it", async () => {
  const out = join(dir, 'unfinished.json');
  const { child, done } = startCli(['run', 'calibration', ...SLOW_RUN, '--out', out]);
  await untilCases(out + '.journal.jsonl', 2);
  const { pid } = JSON.parse(readFileSync(out + '.lock', 'utf8')) as { pid: number };
  child.kill('SIGKILL');
  await done;
  // The measuring child follows its supervisor (by the IPC disconnect, or an EPIPE on its stderr, which releases
  // the lock as it exits); either way its journal stays.
  const deadline = Date.now() + 30_000;
  while (processAlive(pid) && Date.now() < deadline) await sleep(50);
  assert.equal(processAlive(pid), false);
  const journal = out + '.journal.jsonl';
  const before = readFileSync(journal, 'utf8');
  const refused = await cli(['run', 'calibration', ...FAST_RUN, '--out', out]);
  assertOneLineError(
    refused,
    /holds an unfinished run \(\d+ case\(s\) measured\): finish it with `mla-bench run --resume --journal .*unfinished\.json\.journal\.jsonl`, or pass --force to discard it/,
  );
  assert.equal(readFileSync(journal, 'utf8'), before, 'the journal is untouched');
  // The stale lock of the killed run does not stand in the way of --resume, redirected elsewhere with --out.
  const elsewhere = join(dir, 'resumed-elsewhere.json');
  const resumed = await cli(['run', '--resume', '--journal', journal, '--out', elsewhere, '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(readResultFile(elsewhere).cases.length, 7);
  assert.equal(existsSync(journal), false, 'the resumed journal has done its job');
  // A finished results file is replaced only with --force.
  const again = await cli(['run', 'calibration', ...FAST_RUN, '--out', elsewhere]);
  assertOneLineError(again, /holds a finished run's results: choose another --out, or pass --force to replace them/);
  const forced = await cli(['run', 'calibration', ...FAST_RUN, '--out', elsewhere, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
});

test('a journal with a stale lock is discarded only with --force', async () => {
  const out = join(dir, 'stale.json');
  writeFileSync(out + '.journal.jsonl', '');
  // Past Linux's largest pid (2^22): no process has it.
  writeFileSync(out + '.lock', JSON.stringify({ pid: 2 ** 22 + 1, host: hostname(), startedAt: 'then', token: 'x' }));
  const refused = await cli(['run', 'calibration', ...FAST_RUN, '--out', out]);
  assertOneLineError(refused, /holds an unfinished run: finish it with `mla-bench run --resume/);
  const forced = await cli(['run', 'calibration', ...FAST_RUN, '--out', out, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.equal(readResultFile(out).cases.length, 7);
});

for (const value of ['-1', '0', '1.5', 'abc']) {
  test(`-a context=${value} is refused before anything runs, naming the axis and the value`, async () => {
    const out = join(dir, `context-${value}.json`);
    const result = await cli(['run', 'attention-decode', '-a', `context=${value}`, '--out', out]);
    assertOneLineError(result, new RegExp(`suite attention-decode: context=${value.replace('.', '\\.')}: must be an integer >= 1`));
    assert.equal(existsSync(out + '.journal.jsonl'), false, 'no journal: the GPU was never opened');
  });
}

test('axis values the family cannot honour are refused by list and profile too; unknown axes of a family are named', async () => {
  assertOneLineError(await cli(['list', 'attention-decode', '-a', 'batch=0']), /suite attention-decode: batch=0: must be an integer >= 1/);
  assertOneLineError(
    await cli(['list', 'mla-decode', '-a', 'tiling=fast']),
    /suite mla-decode: tiling=fast: must be one of workgroup, rows/,
  );
  assertOneLineError(
    await cli(['profile', 'attention-decode', '-a', 'context=-4', '--filter', 'variant=mha']),
    /context=-4: must be an integer >= 1/,
  );
  const suite = join(dir, 'typo.json');
  const json = JSON.parse(readFileSync(join(ROOT, 'suites', 'attention-decode.json'), 'utf8'));
  json.name = 'typo';
  json.axes.contxt = [1];
  delete json.profiles;
  writeFileSync(suite, JSON.stringify(json));
  assertOneLineError(
    await cli(['list', suite]),
    /suite typo: contxt: not an axis of the attention family \(its axes: phase, variant, batch, /,
  );
});

test('counts are bounded: --visits 1000000000 and --warmup 10000000 are one-line errors', async () => {
  assertOneLineError(
    await cli(['run', 'calibration', '--visits', '1000000000']),
    /--visits: Expected an integer less than or equal to 100/,
  );
  assertOneLineError(await cli(['run', 'calibration', '--warmup', '10000000']), /--warmup: Expected an integer less than or equal to 1000/);
  assertOneLineError(await cli(['run', 'calibration', '--sample-ms', '1e12']), /--sample-ms must be at most 10000/);
});

for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
  test(`a suite file with an axis named ${name} is a one-line error naming it`, async () => {
    const suite = join(dir, `axis-${name}.json`);
    const json = readFileSync(join(ROOT, 'suites', 'calibration.json'), 'utf8').replace('"axes": {', `"axes": { "${name}": [1],`);
    assert.notEqual(json, readFileSync(join(ROOT, 'suites', 'calibration.json'), 'utf8'));
    writeFileSync(suite, json);
    for (const command of [
      ['list', suite],
      ['run', suite],
    ]) {
      assertOneLineError(await cli(command), new RegExp(`axes\\.${name}: `));
    }
  });
}

test('-o pointing at a folder is refused before anything runs', async () => {
  const folder = join(dir, 'a-folder');
  mkdirSync(folder);
  assertOneLineError(
    await cli(['run', 'calibration', ...FAST_RUN, '--out', folder]),
    /--out .*a-folder is a folder: give a file path, such as .*a-folder\/run\.json/,
  );
  assert.deepEqual(readdirSync(folder), []);
});

test('--resume keeps the run it finishes as it was: a sampling flag beside it is refused', async () => {
  assertOneLineError(
    await cli(['run', '--resume', '--min-time', '0']),
    /--resume finishes the interrupted run with its own settings: --min-time cannot change them/,
  );
});

test('with no adapter, the user sees the one-line error and nothing from Dawn', async () => {
  const result = await cli(['info'], { VK_ICD_FILENAMES: join(dir, 'no-such-icd.json'), VK_DRIVER_FILES: join(dir, 'no-such-icd.json') });
  assertOneLineError(result, /^Error: no WebGPU adapter found: install a GPU driver/, 2);
});

test('report into a folder the kernel will not create is a one-line error, not a hang', async () => {
  const fixture = join(ROOT, 'test', 'fixtures', 'results-device-a.json');
  for (const format of ['md', 'png']) {
    assertOneLineError(
      await cli(['report', fixture, '-f', format, '--out', '/proc/mla-bench-no-such/x']),
      /cannot write .*\/proc\/mla-bench-no-such\/x.*no such file or folder \(ENOENT\)/,
    );
  }
});

test("a report into a folder that holds an earlier report's charts leaves only the new report's charts", async () => {
  const outDir = join(dir, 'report');
  mkdirSync(join(outDir, 'charts'), { recursive: true });
  writeFileSync(join(outDir, 'charts', 'case-latency-old-suite.png'), 'stale');
  writeFileSync(join(outDir, 'notes.txt'), 'the user keeps this');
  const result = await cli(['report', join(ROOT, 'test', 'fixtures', 'results-device-a.json'), '-f', 'png', '--out', outDir]);
  assert.equal(result.code, 0, result.stderr);
  const charts = readdirSync(join(outDir, 'charts'));
  assert.ok(charts.length > 0);
  assert.ok(!charts.includes('case-latency-old-suite.png'), `no stale chart in ${charts.join(', ')}`);
  assert.ok(existsSync(join(outDir, 'notes.txt')), 'files that are not charts stay');
});

test('a missing argument is named', async () => {
  assertOneLineError(
    await cli(['compare', join(ROOT, 'test', 'fixtures', 'results-device-a.json')]),
    /Missing 1 required arg: candidates \(see --help\)/,
  );
  assertOneLineError(await cli(['compare']), /Missing 2 required args: base, candidates \(see --help\)/);
  assertOneLineError(await cli(['profile']), /Missing 1 required arg: suite \(see --help\)/);
});

test('--json errors are JSON on stdout as well as the one line on stderr', async () => {
  const result = await cli(['run', 'attention-decode', '-a', 'context=-1', '--json']);
  assert.equal(result.code, 2);
  assert.deepEqual(JSON.parse(result.stdout), {
    error: { message: 'suite attention-decode: context=-1: must be an integer >= 1', exitCode: 2 },
  });
  assert.equal(result.stderr.trim().split('\n').length, 1);
});

test('strings from a results file cannot inject: CSV formulas neutralised, Markdown escaped, terminal escapes stripped', async () => {
  const json = JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'results-device-a.json'), 'utf8'));
  json.environment.adapter.description = 'Evil\u001b]0;pwned\u0007\u001b[2J GPU <img src=x onerror=alert(1)>';
  const skipped = json.cases.find((c: { status: string }) => c.status === 'skipped');
  skipped.reason = '=HYPERLINK("http://attacker.example","click")';
  skipped.params.kernel = '@SUM(1+1)';
  const file = join(dir, 'hostile.json');
  writeFileSync(file, JSON.stringify(json));

  const csv = await cli(['report', file, '-f', 'csv']);
  assert.equal(csv.code, 0, csv.stderr);
  const cells = csv.stdout.split('\n').flatMap((line) => line.split(','));
  assert.ok(
    cells.some((cell) => cell.startsWith(`"'=HYPERLINK(`)),
    'the formula is kept as text',
  );
  assert.ok(cells.includes("'@SUM(1+1)"));
  assert.ok(!cells.some((cell) => /^"?[=+@]/.test(cell)), 'no cell a spreadsheet would evaluate');

  const md = await cli(['report', file, '-f', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.ok(!md.stdout.includes('<img'), 'no raw HTML');
  assert.ok(md.stdout.includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.equal(terminalText(md.stdout.replace(/[\n\t]/g, '')), md.stdout.replace(/[\n\t]/g, ''), 'no control characters');

  const table = await cli(['report', file]);
  assert.equal(table.code, 0, table.stderr);
  assert.ok(
    !(table.stdout + table.stderr).includes('\u001b') && !(table.stdout + table.stderr).includes('\u0007'),
    'no escape sequence reaches the terminal',
  );
  assert.match(table.stdout, /Evil\]0;pwned\[2J GPU/);
});

test('a budgeted run ends cleanly with a complete results file: its budget, its plan, and what it left out', async () => {
  const out = join(dir, 'budgeted.json');
  // 2 x 2 x 64 context lengths of attention decode: far more case visits than any machine samples in 30 s.
  const result = await cli([
    'run',
    'calibration',
    'attention-decode',
    '--budget',
    '30s',
    '-a',
    'mib=1',
    '-a',
    'iterations=32',
    '-a',
    'context=16:1024:16',
    '-a',
    'variant=mha,mqa',
    '-a',
    'batch=1,2',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(result.code, 0, result.stderr);
  const results = readResultFile(out);
  assert.deepEqual(results.config.budget, { ms: 30_000 });
  const plan = results.config.plan ?? [];
  assert.equal(plan.length, results.cases.length, 'every planned case is in the plan');
  assert.deepEqual(
    plan.slice(0, 7).map((p) => p.priority),
    new Array(7).fill('calibration'),
    'calibration first',
  );
  assert.equal(plan[7]?.priority, 'headline', 'then the headline cases');
  assert.ok(plan[7]?.key.includes('batch=1,context=1024'));
  const status = (key: string): string | undefined => results.cases.find((c) => c.key === key)?.status;
  for (const { key } of plan.slice(0, 7)) assert.equal(status(key), 'ok', `${key}: calibration always runs`);
  const leftOut = results.cases.filter((c) => c.status === 'left-out');
  assert.ok(leftOut.length > 0, 'the budget left cases out');
  assert.ok(results.ceilings.copyGBs && results.ceilings.fmaF32Gflops, 'the ceilings were calibrated');
  assert.equal(existsSync(out + '.journal.jsonl'), false);
  const report = await cli(['report', out]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /left out/);
});
