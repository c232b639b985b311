import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readResultFile } from '../../src/results/store.js';
import { cli, FAST_RUN } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-cli-'));

test('info --json shows the adapter with its features and limits, and lists adapters', async () => {
  const { code, stdout, stderr } = await cli(['info', '--json']);
  assert.equal(code, 0, stderr);
  const info = JSON.parse(stdout);
  assert.ok(info.selected.description.length > 0);
  assert.ok(info.selected.deviceFeatures.includes('timestamp-query'));
  assert.ok(info.selected.deviceLimits.maxStorageBufferBindingSize > 0);
  assert.ok(info.adapters.length >= 1);
  assert.doesNotMatch(stderr, /artificially reduced/, "Dawn's chatter stays out of the user's output");
});

test('info prints a human summary', async () => {
  const { code, stdout } = await cli(['info']);
  assert.equal(code, 0);
  assert.match(stdout, /Adapter\s+\S/);
  assert.match(stdout, /maxStorageBufferBindingSize\s+\d+/);
  assert.match(stdout, /Adapters found/);
});

test('list --json expands the calibration suite per profile', async () => {
  const { code, stdout } = await cli(['list', 'calibration', '--profile', 'quick', '--json']);
  assert.equal(code, 0);
  const listed = JSON.parse(stdout);
  assert.equal(listed.suites[0].name, 'calibration');
  assert.equal(listed.cases.length, listed.suites[0].cases);
  assert.ok(listed.cases.every((c: { key: string }) => c.key.startsWith('calibration/')));
});

test('-a on part of a zip group: the rest from the suite points that agree best (all of them where none does)', async () => {
  const decode = await cli(['list', 'mla-decode', '--profile', 'quick', '-a', 'batch=4', '-a', 'form=absorbed', '--json']);
  assert.equal(decode.code, 0, decode.stderr);
  const decodeCases = JSON.parse(decode.stdout).cases as Array<{ params: Record<string, unknown> }>;
  assert.ok(decodeCases.length > 0 && decodeCases.every((c) => c.params['batch'] === 4 && c.params['context'] === 1024));
  const gemm = await cli([
    'list',
    'gemm',
    '--profile',
    'quick',
    '-a',
    'op=absorb-q,up-project',
    '-a',
    'model=deepseek-v2-lite',
    '-a',
    'rows=1',
    '-a',
    'dtype=f32',
    '--json',
  ]);
  assert.equal(gemm.code, 0, gemm.stderr);
  const listed = JSON.parse(gemm.stdout);
  assert.deepEqual(
    (listed.cases as Array<{ params: Record<string, unknown> }>).map((c) => `${c.params['op']} ${c.params['batch']}`),
    ['absorb-q 1', 'up-project 1'],
    "absorb-q keeps its own batch, never the expert ops' 2",
  );
  assert.deepEqual(listed.suites[0].axes.batch, [1, 1]);
  const clash = await cli(['list', 'gemm', '-a', 'op=absorb-q,up-project', '-a', 'rows=1,16,32']);
  assert.equal(clash.code, 2);
  assert.match(
    clash.stderr,
    /^Error: zipped axes of suite gemm overridden together must have equal lengths \(or one value\), got op: 2, rows: 3\n?$/,
  );
});

test('run calibration writes a results file the tool reads back, with ceilings and statistics', async () => {
  const out = join(dir, 'calibration.json');
  const { code, stdout, stderr } = await cli(['run', 'calibration', ...FAST_RUN, '--out', out, '--json']);
  assert.equal(code, 0, stderr);
  const printed = JSON.parse(stdout);
  assert.equal(printed.resultsPath, out);
  const results = readResultFile(out);
  assert.equal(results.config.profile, 'quick', 'a software adapter runs the quick profile under auto');
  assert.ok(results.cases.length >= 5);
  for (const c of results.cases) {
    assert.ok(c.status === 'ok' || c.status === 'skipped', `${c.key}: ${c.status}`);
    if (c.status !== 'ok') continue;
    assert.ok(c.numerics.passed);
    assert.equal(c.timing.samplesMs.length, c.timing.gpu.n);
    // min-samples 5, unless a visit's time limit (its share of the default budget) cut it short, as recorded.
    assert.ok(c.timing.gpu.n >= 5 || c.timing.stopReason === 'timeout', `${c.key}: ${c.timing.gpu.n} samples, ${c.timing.stopReason}`);
    assert.ok(c.timing.gpu.ci95.lo <= c.timing.gpu.median && c.timing.gpu.median <= c.timing.gpu.ci95.hi);
  }
  assert.ok(results.ceilings.copyGBs && results.ceilings.copyGBs > 0);
  assert.ok(results.ceilings.fmaF32Gflops && results.ceilings.fmaF32Gflops > 0);
  assert.ok(results.ceilings.dispatchUs && results.ceilings.dispatchUs > 0);
  assert.ok(results.environment.toggles.disabled.includes('timestamp_quantization'));
  assert.equal(existsSync(out + '.journal.jsonl'), false, 'the journal is removed once the results file is complete');
});

test('an untimed suite (kv-cache) runs each case once, checks it and records its allocations: status checked, and report prints its capacity table', async () => {
  const out = join(dir, 'kv-cache.json');
  const { code, stderr } = await cli([
    'run',
    'kv-cache',
    ...FAST_RUN,
    '--filter',
    'preset=deepseek-v2-lite,form=mqa',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(code, 0, stderr);
  const kv = readResultFile(out).cases.filter((c) => c.suite === 'kv-cache');
  assert.equal(kv.length, 1);
  const [c] = kv;
  assert.equal(c?.status, 'checked');
  if (c?.status !== 'checked') return;
  assert.ok(c.numerics.passed && c.numerics.checks.length > 0);
  assert.equal(c.facts?.['kvBytesPerToken'], 512, 'DeepSeek-V2-Lite MQA: 1 KV head x 2 x 128 dims x 2 bytes');
  assert.ok(c.memory.peakByRole['kv-cache'] >= 512 * 16);
  assert.equal('timing' in c, false);
  const report = await cli(['report', out]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /│ checked │ not timed +│/);
  // One preset, form and dtype: the capacity table says them once, in its title.
  assert.match(
    report.stdout,
    /^KV cache per token .* \(preset=deepseek-v2-lite, form=mqa, dtype=f16\)\n[^\n]*\n│ elements │ bytes\/layer │[^\n]*\n│ 256 +│ 512 +│/m,
  );
});

test("a crash of the GPU runtime after the command finished keeps the command's exit status, with a note", async () => {
  const preload = new URL('../helpers/crash-at-exit.mjs', import.meta.url).pathname;
  const { code, signal, stdout, stderr } = await cli(['list', 'calibration', '--json'], { NODE_OPTIONS: `--import ${preload}` });
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.ok(JSON.parse(stdout).cases.length > 0);
  assert.match(stderr, /crashed \(SIGSEGV\) while shutting down, after the command had finished; its exit status 0 stands/);
  const failing = await cli(['list', 'no-such-suite'], { NODE_OPTIONS: `--import ${preload}` });
  assert.equal(failing.code, 2, failing.stderr);
  assert.match(failing.stderr, /exit status 2 stands/);
});

test('--visits N samples each case in N visits spread over the run and pools them', async () => {
  const out = join(dir, 'visits.json');
  const { code, stderr } = await cli(['run', 'calibration', ...FAST_RUN, '-a', 'kernel=copy,copy-chunked', '--visits', '2', '--out', out]);
  assert.equal(code, 0, stderr);
  // CI prints one line per visit: every case's first visit comes before any second one.
  const lines = stderr.split('\n').filter((line) => /^\[\d+\/\d+\]/.test(line));
  assert.deepEqual(
    lines.map((line) => /\(visit (\d)\/2\)/.exec(line)?.[1]),
    ['1', '1', '2', '2'],
  );
  const results = readResultFile(out);
  assert.equal(results.config.visits, 2);
  const timed = results.cases.filter((c) => c.status === 'ok');
  assert.equal(timed.length, 2);
  for (const c of timed) {
    assert.ok(c.status === 'ok');
    assert.equal(c.timing.visits, 2);
    assert.equal(c.timing.visitMediansMs?.length, 2);
    assert.equal(c.timing.gpu.n, c.timing.samplesMs.length);
    // min-samples 5 in two visits: at least 3 each, unless a visit's time limit cut it short, as recorded.
    assert.ok(c.timing.gpu.n >= 6 || c.timing.stopReason === 'timeout', `${c.key}: ${c.timing.gpu.n} samples, ${c.timing.stopReason}`);
  }
  assert.equal(existsSync(out + '.journal.jsonl'), false);
});

test('--visits pools a multi-stage case with its stage rounds still paired', async () => {
  const out = join(dir, 'visits-stages.json');
  const args = [
    'run',
    'calibration',
    'attention-decode',
    ...FAST_RUN,
    '-a',
    'kernel=dispatch',
    '-a',
    'variant=gqa',
    '-a',
    'context=64',
    '-a',
    'page_size=0',
    '-a',
    'dtype=f32',
    '--visits',
    '2',
    '--out',
    out,
  ];
  const { code, stderr } = await cli(args);
  assert.equal(code, 0, stderr);
  const decode = readResultFile(out).cases.find((c) => c.suite === 'attention-decode');
  assert.ok(decode?.status === 'ok' && decode.stages && decode.stagesEndToEnd, `${decode?.key}: ${decode?.status}`);
  assert.equal(decode.timing.visits, 2);
  const rounds = decode.stagesEndToEnd.samplesMs.length;
  assert.ok(rounds >= 2);
  for (const stage of decode.stages) assert.equal(stage.samplesMs.length, rounds, `${stage.name}: one sample per round of both visits`);
  assert.equal(decode.stagePassProbe?.samplesMs.length, rounds);
});

test('run prints a table of ceilings and cases without --json', async () => {
  const out = join(dir, 'table.json');
  const { code, stdout } = await cli(['run', 'calibration', ...FAST_RUN, '--filter', 'kernel=copy', '--out', out]);
  assert.equal(code, 0);
  assert.match(stdout, /copy bandwidth\s+│\s+[\d.]+ GB\/s/);
  // One case: every axis is constant, said once in the suite's title.
  assert.match(stdout, /^calibration \(kernel=copy, mib=1, iterations=32\)$/m);
  // Like `report`, it opens with the run's header and the findings.
  const lines = stdout.split('\n');
  assert.match(lines[0] as string, / - profile quick, budget 10m: every case ran$/);
  assert.match(lines[2] as string, /^Findings, computed from these results/);
  assert.ok(lines.every((line) => [...line].length <= 120));
  assert.match(stdout, new RegExp(`results: ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});

test('--save-tensors writes .npy inputs, outputs and references with an index', async () => {
  const tensors = join(dir, 'tensors');
  const { code, stderr } = await cli([
    'run',
    'calibration',
    ...FAST_RUN,
    '--filter',
    'kernel=copy',
    '--out',
    join(dir, 't.json'),
    '--save-tensors',
    tensors,
  ]);
  assert.equal(code, 0, stderr);
  const index = JSON.parse(readFileSync(join(tensors, 'index.json'), 'utf8'));
  const copy = index.cases.find((c: { key: string }) => c.key.includes('kernel=copy,'));
  assert.ok(copy, 'the copy case is indexed');
  const roles = copy.tensors.map((t: { role: string }) => t.role).sort();
  assert.deepEqual(roles, ['input', 'output', 'reference']);
  for (const t of copy.tensors) {
    const bytes = readFileSync(join(tensors, t.file));
    assert.equal(bytes.subarray(1, 6).toString('latin1'), 'NUMPY');
  }
  assert.ok(readdirSync(tensors).length >= 4);
});

const badInputs: [string, string[], RegExp][] = [
  ['unknown suite', ['run', 'no-such-suite'], /unknown suite "no-such-suite"/],
  ['unknown axis', ['run', 'calibration', '-a', 'bogus=1'], /unknown axis "bogus"/],
  ['malformed axis value', ['run', 'calibration', '-a', 'mib=pow2:3:8'], /powers of two/],
  ['unknown adapter', ['run', 'calibration', '--adapter', 'no-such-gpu'], /no WebGPU adapter matches adapter "no-such-gpu"/],
  ['unknown flag', ['run', '--frobnicate'], /Nonexistent flag/],
  [
    'non-integer flag value',
    ['run', 'calibration', '--min-time', '0.3'],
    /Parsing --min-time: Expected an integer but received: 0\.3 \(see --help\)/,
  ],
  ['bad profile', ['run', '--profile', 'huge'], /--profile/],
  ['zero visits', ['run', 'calibration', '--visits', '0'], /Expected an integer greater than or equal to 1/],
  [
    'unwritable output path',
    ['run', 'calibration', ...FAST_RUN, '--out', '/etc/hostname/x.json'],
    /cannot write results to \/etc\/hostname\/x\.json/,
  ],
];

for (const [name, args, message] of badInputs) {
  test(`bad input (${name}) gets a one-line error and a non-zero exit`, async () => {
    const { code, stderr, stdout } = await cli(args);
    assert.notEqual(code, 0);
    assert.match(stderr, message);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line, got:\n${stderr}`);
    assert.doesNotMatch(stderr + stdout, /\n\s+at /, 'no stack trace without --verbose');
  });
}

test('a malformed suite file is rejected naming the file and the field', async () => {
  const suite = join(dir, 'broken.json');
  writeFileSync(
    suite,
    JSON.stringify({ name: 'broken', description: 'x', family: 'calibration', axes: { kernel: ['copy'], mib: { pow2: [3, 8] } } }),
  );
  const { code, stderr } = await cli(['run', suite]);
  assert.equal(code, 2);
  assert.match(stderr, /broken\.json: axes\.mib: pow2 bounds must be powers of two/);
  writeFileSync(suite, '{ not json');
  const notJson = await cli(['run', suite]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /broken\.json/);
});

test('--verbose shows the stack of an unexpected error path but still exits non-zero', async () => {
  const { code, stderr } = await cli(['run', 'no-such-suite', '--verbose']);
  assert.equal(code, 2);
  assert.match(stderr, /unknown suite/);
});

test('an oversized case is a recorded skip naming what it would need, never a crash or an exhausted memory', async () => {
  const out = join(dir, 'oversized.json');
  // MHA at 128 KV heads x 64 sequences x 32768 tokens, f32: a 256 GiB cache, past every buffer count and memory.
  const args = ['run', 'attention-decode', ...FAST_RUN, '--profile', 'quick', '-a', 'variant=mha', '-a', 'batch=64', '-a', 'context=32768'];
  const { code, stderr } = await cli([...args, '-a', 'page_size=0,64', '--budget', 'none', '--out', out]);
  assert.equal(code, 0, stderr);
  const cases = readResultFile(out).cases.filter((c) => c.suite === 'attention-decode');
  assert.equal(cases.length, 2);
  for (const c of cases) {
    assert.equal(c.status, 'skipped', c.key);
    if (c.status !== 'skipped') continue;
    assert.match(
      c.reason,
      c.key.includes('page_size=64') ? /KV cache of \d+\.\d+ GiB in \d+ buffers: stage attend binds/ : /buffer k needs/,
    );
  }
});
