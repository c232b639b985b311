import assert from 'node:assert/strict';
import { test } from 'node:test';
import { casePhases, type KernelCase, type StageDecl } from '../../src/kernels/spec.js';
import { summarize } from '../../src/measure/statistics.js';
import { gapAllowance, pairedGaps, stageBreakdown } from '../../src/report/stages.js';
import { readResultFile } from '../../src/results/store.js';

const stage = (name: string, phase: string | undefined, flops: number): StageDecl => ({
  name,
  ...(phase && { phase }),
  shader: 'x.wgsl',
  dtype: 'f32',
  bindings: [],
  workgroups: [1],
  work: { flops, bytesRead: 1, bytesWritten: 2 },
});

test('casePhases groups consecutive dispatches of one phase and sums their work', () => {
  const kernelCase: KernelCase = {
    buffers: [],
    checks: [],
    stages: [stage('histogram', 'align', 1), stage('scan', 'align', 2), stage('scatter', 'permute', 4), stage('attend', undefined, 8)],
  };
  assert.deepEqual(casePhases(kernelCase), [
    { name: 'align', dispatches: [0, 1], work: { flops: 3, bytesRead: 2, bytesWritten: 4 } },
    { name: 'permute', dispatches: [2], work: { flops: 4, bytesRead: 1, bytesWritten: 2 } },
    { name: 'attend', dispatches: [3], work: { flops: 8, bytesRead: 1, bytesWritten: 2 } },
  ]);
});

test('stageBreakdown: shares of the stage sum, end-to-end gap and the dispatch-overhead allowance', () => {
  const file = readResultFile(new URL('../fixtures/results-device-a.json', import.meta.url).pathname);
  const staged = file.cases.find((c) => c.status === 'ok' && c.stages?.length);
  assert.ok(staged && staged.status === 'ok');
  const breakdown = stageBreakdown(staged, { ...file.ceilings, dispatchUs: 10 })!;
  const sum = staged.stages!.reduce((s, x) => s + x.gpu.median, 0);
  assert.equal(breakdown.sumMs, sum);
  assert.ok(Math.abs(breakdown.rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12);
  assert.equal(breakdown.gapMs, staged.timing.gpu.median - sum);
  // Without a pass probe the allowance is symmetric: one dispatch overhead per dispatch.
  assert.deepEqual(breakdown.allowance, {
    endToEndAboveMs: (10 * staged.timing.dispatches) / 1e3,
    stagesAboveMs: (10 * staged.timing.dispatches) / 1e3,
    passExtraPerStageMs: null,
  });
  assert.equal(breakdown.withinOverhead, Math.abs(breakdown.gapMs) - breakdown.gapUncertaintyMs <= breakdown.allowance!.endToEndAboveMs);
  assert.equal(stageBreakdown(staged, { ...file.ceilings, dispatchUs: null })!.withinOverhead, null);
  const single = file.cases.find((c) => c.status === 'ok' && !c.stages);
  assert.ok(single && single.status === 'ok');
  assert.equal(stageBreakdown(single, file.ceilings), null);
});

test('stageBreakdown: a wall-timed end to end (host round trip included) is not held to the dispatch overhead', () => {
  const file = readResultFile(new URL('../fixtures/results-device-a.json', import.meta.url).pathname);
  const staged = file.cases.find((c) => c.status === 'ok' && c.stages?.length);
  assert.ok(staged && staged.status === 'ok');
  const wall = { ...staged, timing: { ...staged.timing, timer: 'wall' as const } };
  const breakdown = stageBreakdown(wall, { ...file.ceilings, dispatchUs: 10 })!;
  assert.equal(breakdown.endToEndTimer, 'wall');
  assert.equal(breakdown.allowance, null);
  assert.equal(breakdown.withinOverhead, null);
});

test('stageBreakdown: paired rounds give the median per-round gap, which a machine drifting between rounds does not bias', () => {
  const file = readResultFile(new URL('../fixtures/results-device-a.json', import.meta.url).pathname);
  const staged = file.cases.find((c) => c.status === 'ok' && c.stages?.length);
  assert.ok(staged && staged.status === 'ok');
  // The machine runs at 1x and 2x in alternate rounds; within a round end to end is the stages plus 0.1 ms.
  const speed = [1, 2, 1, 2, 1, 2, 1];
  const stageA = speed.map((x) => 6 * x);
  const stageB = speed.map((x) => 4 * x);
  const e2e = speed.map((x, i) => 10 * x + 0.1 + (i % 3) * 0.01);
  const [a, b] = staged.stages!;
  const paired = {
    ...staged,
    stages: [
      { ...a!, samplesMs: stageA, gpu: summarize(stageA) },
      { ...b!, samplesMs: stageB, gpu: summarize(stageB) },
    ],
    stagesEndToEnd: { timer: 'timestamp' as const, repeats: 1, gpu: summarize(e2e), samplesMs: e2e },
  };
  assert.deepEqual(
    pairedGaps(paired)?.map((g) => Math.round(g * 100) / 100),
    [0.1, 0.11, 0.12, 0.1, 0.11, 0.12, 0.1],
  );
  const breakdown = stageBreakdown(paired, { ...file.ceilings, dispatchUs: 100 })!;
  assert.equal(breakdown.paired, true);
  assert.ok(Math.abs(breakdown.gapMs - 0.11) < 1e-9);
  assert.equal(breakdown.endToEndMs, summarize(e2e).median);
  assert.ok(breakdown.gapUncertaintyMs < 0.02);
  assert.equal(breakdown.withinOverhead, true); // |0.11 ms| - CI <= the allowance of 100 us per dispatch
  // With one stage sample missing the rounds no longer pair: the breakdown falls back to independent medians.
  const unpaired = { ...paired, stages: [{ ...paired.stages[0]!, samplesMs: stageA.slice(1) }, paired.stages[1]!] };
  assert.equal(pairedGaps(unpaired), null);
  assert.equal(stageBreakdown(unpaired, { ...file.ceilings, dispatchUs: 100 })!.paired, false);
});

test('gapAllowance: each stage in its own pass may add what a pass costs beyond its dispatch, on the stages side only', () => {
  // 30 us per dispatch in one pass, 90 us for a minimal dispatch in its own pass: 60 us more per stage.
  const allowance = gapAllowance(30, 6, 5, 0.09);
  assert.ok(Math.abs(allowance.endToEndAboveMs - 0.18) < 1e-12);
  assert.ok(Math.abs((allowance.passExtraPerStageMs ?? NaN) - 0.06) < 1e-12);
  assert.ok(Math.abs(allowance.stagesAboveMs - (0.18 + 5 * 0.06)) < 1e-12);
  // A probe at or under the dispatch overhead adds nothing (never a negative allowance).
  assert.equal(gapAllowance(30, 2, 2, 0.02).stagesAboveMs, 0.06);
  assert.equal(gapAllowance(30, 2, 2, null).passExtraPerStageMs, null);
});

test('stageBreakdown: the pass probe widens only the side where the stages sum above end to end', () => {
  const file = readResultFile(new URL('../fixtures/results-device-a.json', import.meta.url).pathname);
  const staged = file.cases.find((c) => c.status === 'ok' && c.stages?.length);
  assert.ok(staged && staged.status === 'ok');
  const rounds = 41;
  const probe = Array.from({ length: rounds }, () => 0.09);
  const withGap = (gapMs: number) => {
    const stageA = Array.from({ length: rounds }, (_, i) => 5 + (i % 5) * 1e-4);
    const stageB = Array.from({ length: rounds }, () => 3);
    const e2e = stageA.map((a, i) => a + (stageB[i] as number) + gapMs);
    const [a, b] = staged.stages!;
    return {
      ...staged,
      timing: { ...staged.timing, dispatches: 2 },
      stages: [
        { ...a!, samplesMs: stageA, gpu: summarize(stageA) },
        { ...b!, samplesMs: stageB, gpu: summarize(stageB) },
      ],
      stagesEndToEnd: { timer: 'timestamp' as const, repeats: 1, gpu: summarize(e2e), samplesMs: e2e },
      stagePlacement: 'in-pipeline' as const,
      stagePassProbe: { repeats: 100, gpu: summarize(probe), samplesMs: probe },
    };
  };
  const ceilings = { ...file.ceilings, dispatchUs: 30 };
  // Allowed: end to end up to 60 us above the stages; the stages up to 60 + 2 x 60 = 180 us above end to end.
  assert.equal(stageBreakdown(withGap(-0.15), ceilings)!.withinOverhead, true);
  assert.equal(stageBreakdown(withGap(-0.2), ceilings)!.withinOverhead, false);
  assert.equal(stageBreakdown(withGap(0.05), ceilings)!.withinOverhead, true);
  assert.equal(stageBreakdown(withGap(0.15), ceilings)!.withinOverhead, false);
  // Without the probe the stages side is the dispatch overhead alone.
  const { stagePassProbe: _, ...bare } = withGap(-0.15);
  assert.equal(stageBreakdown(bare, ceilings)!.withinOverhead, false);
});

test('stageBreakdown: the pass probe is reported as the floor of a stage time; the gap itself is never corrected', () => {
  const file = readResultFile(new URL('../fixtures/results-device-a.json', import.meta.url).pathname);
  const staged = file.cases.find((c) => c.status === 'ok' && c.stages?.length);
  assert.ok(staged && staged.status === 'ok');
  const probe = [0.09, 0.1, 0.08, 0.09, 0.11];
  const m = {
    ...staged,
    stagePlacement: 'in-pipeline' as const,
    stagePassProbe: { repeats: 100, gpu: summarize(probe), samplesMs: probe },
  };
  const ceilings = { ...file.ceilings, dispatchUs: 10 };
  const withProbe = stageBreakdown(m, ceilings)!;
  const { stagePassProbe: _, ...bare } = m;
  const without = stageBreakdown(bare, ceilings)!;
  assert.equal(withProbe.placement, 'in-pipeline');
  assert.equal(withProbe.passFloorMs, 0.09);
  assert.equal(without.passFloorMs, null);
  // The probe is not subtracted from the gap.
  assert.equal(withProbe.gapMs, without.gapMs);
  assert.equal(stageBreakdown(staged, ceilings)!.placement, 'alone');
});
