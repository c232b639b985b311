import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/cli.js';
import { traceFormatProblems } from '../helpers/trace-format.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-profile-'));
/** A small two-stage decode case (attend + reduce) and a lax stopping rule: seconds on lavapipe. */
const SMALL = [
  'attention-decode',
  '-a',
  'variant=gqa',
  '-a',
  'context=64',
  '-a',
  'page_size=0',
  '--min-samples',
  '5',
  '--max-noise',
  '50',
  '--min-time',
  '0',
  '--timeout',
  '2',
  '--warmup',
  '1',
];

test('profile: stages timed in the pipeline beside end to end, compile, transfers, memory, and a valid trace', async () => {
  const trace = join(dir, 'gqa.trace.json');
  const { code, stdout, stderr } = await cli(['profile', ...SMALL, '--no-calibrate', '--iterations', '3', '--trace', trace, '--json']);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout);
  const m = result.measurement;
  assert.equal(m.status, 'ok');
  assert.deepEqual(
    m.stages.map((s: { name: string }) => s.name),
    ['attend', 'reduce'],
  );
  assert.equal(result.breakdown.rows.length, 2);
  assert.equal(m.stagePlacement, 'in-pipeline');
  assert.equal(result.breakdown.placement, 'in-pipeline');
  assert.equal(m.stagePassProbe.samplesMs.length, m.stages[0].samplesMs.length);
  assert.ok(Math.abs(result.breakdown.sumMs - m.stages[0].gpu.median - m.stages[1].gpu.median) < 1e-9);
  assert.ok(Object.keys(m.compileMs).some((k: string) => k.startsWith('attention_')));
  assert.ok(m.transfers.uploadBytes > 0 && m.transfers.readbackBytes > 0);
  assert.ok(m.memory.peakByRole['kv-cache'] > 0);
  assert.equal(result.timeline.passes.length, 3 * 2);

  const parsed = JSON.parse(readFileSync(trace, 'utf8'));
  assert.deepEqual(traceFormatProblems(parsed), []);
  const gpuTracks = parsed.traceEvents.filter(
    (e: { ph: string; name: string; pid: number }) => e.ph === 'M' && e.name === 'thread_name' && e.pid === 1,
  );
  assert.deepEqual(
    gpuTracks.map((e: { args: { name: string } }) => e.args.name),
    ['attend', 'reduce'],
  );
  const attend = parsed.traceEvents.filter((e: { ph: string; name: string }) => e.ph === 'X' && e.name === 'attend');
  assert.equal(attend.length, 3);
  // Trace durations are the timeline's GPU times, in microseconds.
  const firstAttend = result.timeline.passes.find((p: { stage: string }) => p.stage === 'attend');
  assert.ok(Math.abs(attend[0].dur - (firstAttend.gpuEndNs - firstAttend.gpuBeginNs) / 1e3) < 0.01);
  assert.ok(
    parsed.traceEvents.some((e: { ph: string }) => e.ph === 'C'),
    'memory counter track',
  );
});

test('profile prints the stage breakdown with the end-to-end gap against the calibrated dispatch overhead', async () => {
  const { code, stdout, stderr } = await cli(['profile', ...SMALL]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Device ceilings \(calibrated in this run\)/);
  assert.match(stdout, /│ attend\s+│ 1\s+│/);
  assert.match(stdout, /│ end to end\s+│ 2\s+│/);
  assert.match(stdout, /Stages: each timed in its own pass inside the pipeline/);
  assert.match(stdout, /end to end - sum of stages = .+\(median per-round difference, 95% CI\)/);
  assert.match(stdout, /a minimal dispatch in its own timestamped pass takes .+ \(same rounds\): the floor of a stage's time here/);
  assert.match(
    stdout,
    /allowed gap: end to end up to \d.+ above the stages \(dispatch overhead x 2 dispatches\), the stages up to \d.+ above it \(the same \+ \(pass probe - dispatch overhead\) x 2 stages\): the stages (do NOT )?add up to end to end within it/,
  );
  assert.match(stdout, /Pipeline compile time/);
  assert.match(stdout, /upload \(inputs, canaries\)/);
  assert.match(stdout, /kv-cache/);
});

test('profile --capture runs every selected case once, without timestamps', async () => {
  const { code, stdout, stderr } = await cli([
    'profile',
    'attention-decode',
    '-a',
    'variant=gqa,mqa',
    '-a',
    'context=64',
    '-a',
    'page_size=0',
    '--capture',
    '--json',
  ]);
  assert.equal(code, 0, stderr);
  const outcome = JSON.parse(stdout);
  assert.equal(outcome.kind, 'capture');
  assert.deepEqual(
    outcome.cases.map((c: { status: string }) => c.status),
    ['ok', 'ok'],
  );
  assert.ok(outcome.cases.every((c: { dispatches: number }) => c.dispatches === 2));
});

test('profile: bad input is a one-line error with a non-zero exit', async () => {
  const cases: [string[], RegExp][] = [
    [['profile', 'no-such-suite'], /unknown suite "no-such-suite"/],
    [['profile', 'attention-decode', '--filter', 'variant=nothing'], /no case of suite attention-decode matches --filter variant=nothing/],
    [['profile', 'attention-decode', '-a', 'variant=gqa,mqa', '-a', 'context=64'], /4 cases of attention-decode match; profile runs one/],
    [['profile', 'attention-decode', '-a', 'nope=1'], /unknown axis "nope"/],
    [['profile', 'attention-decode', '--case', 'attention-decode/variant=gqa'], /missing axes/],
    [
      ['profile', 'attention-decode', '--case', 'calibration/kernel=copy,mib=1,iterations=1'],
      /suite "calibration", not "attention-decode"/,
    ],
    [['profile', ...SMALL, '--trace', '/etc/hostname/x.json'], /cannot write trace file \/etc\/hostname\/x.json/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await cli(args);
    assert.notEqual(code, 0, args.join(' '));
    assert.match(stderr, message, args.join(' '));
    assert.equal(stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${stderr}`);
  }
});
