import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupByDevice, loadResults, type DeviceResults } from '../../src/report/data.js';
import { absorbedBeatsMhaFrom, findings, times, whyUnmeasured, type Finding } from '../../src/report/findings.js';
import { decidingStages, stageDeltas } from '../../src/report/stages.js';
import type { Measurement, OkMeasurement } from '../../src/results/schema.js';
import { okFixture, resultFixture } from '../helpers/fixtures.js';

const BASELINE = new URL('../fixtures/lavapipe-2core-2026-11-29.json.gz', import.meta.url).pathname;
const [baseline] = groupByDevice(loadResults([BASELINE])) as [DeviceResults];

const line = (f: Finding): string => `${f.subject}${f.where ? ` (${f.where})` : ''}: ${f.headline}`;
const find = (all: readonly Finding[], subject: string): Finding => {
  const found = all.find((f) => f.subject === subject);
  assert.ok(found, `no finding "${subject}" in ${all.map((f) => f.subject).join(', ')}`);
  return found;
};

test('findings of the lavapipe baseline: the README numbers, computed from its results', () => {
  const all = findings(baseline);
  assert.deepEqual([...new Set(all.map((f) => f.topic))], ['kv-cache', 'mla-decode', 'mla-crossover', 'moe-dispatch', 'roof']);
  assert.match(
    line(find(all, 'KV cache, deepseek-v2')),
    /^KV cache, deepseek-v2 \(f16, 60 layers\): MLA 1,152 B\/token\/layer: 57x less than MHA \(65,536\), 3\.6x less than GQA \(4,096\), 2\.3x more than MQA \(512\); 80 GB holds 1,157,407 tokens \(MHA: 20,345\)\.$/,
  );
  assert.match(
    find(all, 'MLA decode vs naive, deepseek-v2-lite').headline,
    /^absorbed \(9\.89 ms\) is 89x faster than naive-latent \(880 ms; up-project \+950 ms\), 1\.2x faster than naive-expanded/,
  );
  // The stages absorbed adds over MHA decide it, not the attend (4.72 against 4.07 ms).
  assert.equal(
    find(all, 'MLA decode vs MHA, deepseek-v2-lite').headline,
    'absorbed (9.89 ms) is 2.2x slower than MHA (4.44 ms; absorb-q +2.75 ms, absorb-o +2.25 ms).',
  );
  assert.equal(find(all, 'MLA decode vs MHA, deepseek-v2').where, 'batch 1, context 1024, f32');
  // Naive MLA at 128 heads was skipped on this CPU: said, with the reason's head.
  const skipped = find(all, 'MLA decode vs naive, deepseek-v2');
  assert.equal(skipped.measured, false);
  assert.equal(
    skipped.headline,
    'not measured in this run: naive-latent skipped (CPU-adapter profile); naive-expanded skipped (CPU-adapter profile).',
  );
  assert.match(
    find(all, 'MLA crossover, deepseek-v2-lite').headline,
    /^naive-latent beats absorbed from q_len 256 \(281 ms against 406 ms\); absorbed is 35x faster at q_len 1\.$/,
  );
  assert.equal(
    line(find(all, 'MoE dispatch')),
    'MoE dispatch (v3, 32 tokens): the GPU-resident dispatch beats the per-expert host loop: host loop / GPU time 1.8-2.1x at 64 experts, 1.4-1.7x at 256 experts.',
  );
  assert.match(
    find(all, 'Roof, decode attention').headline,
    /^mha 63% of copy bandwidth \(memory-bound\), gqa 15% of f32 FMA \(compute-bound\)/,
  );
  assert.match(
    find(all, 'Roof, absorbed MLA attend').headline,
    /^deepseek-v2-lite 18% of f32 FMA \(compute-bound\), deepseek-v2 22% of f32 FMA \(compute-bound\)\.$/,
  );
  for (const f of all.filter((x) => x.measured)) {
    assert.ok(f.sources.length > 0, `${f.subject} names its cases`);
    assert.ok(
      f.sources.every((key) => baseline.cases.some((c) => c.key === key)),
      `${f.subject}: sources are case keys`,
    );
    assert.ok(f.numbers.length > 0, `${f.subject} has its numbers`);
  }
});

test('findings: a suite the run did not include is an explicit "not measured in this run", never silence', () => {
  const all = findings({ cases: resultFixture().cases, ceilings: resultFixture().ceilings });
  assert.deepEqual(
    all.map((f) => [f.subject, f.measured, f.headline]),
    [
      ['KV cache', false, 'not measured in this run: the kv-cache suite was not run.'],
      ['MLA decode', false, 'not measured in this run: the mla-decode suite was not run.'],
      ['MLA crossover', false, 'not measured in this run: the mla-crossover suite was not run.'],
      ['MoE dispatch', false, 'not measured in this run: the moe-dispatch suite was not run.'],
      ['Roof, decode attention', false, 'not measured in this run: the attention-decode suite was not run.'],
      ['Roof, prefill attention', false, 'not measured in this run: the attention-prefill suite was not run.'],
      ['Roof, absorbed MLA attend', false, 'not measured in this run: the mla-decode suite was not run.'],
    ],
  );
});

test('findings: cases a budget left out are named as left out, beside what was measured', () => {
  const leftOut = (suite: string, family: string, params: Record<string, string | number>): Measurement => ({
    key: `${suite}/${JSON.stringify(params)}`,
    suite,
    family,
    params,
    status: 'left-out',
    reason: 'budget',
  });
  const kvFacts = (form: string, elements: number) => ({
    preset: 'deepseek-v2',
    form,
    layers: 60,
    kvElementsPerToken: elements,
    kvBytesPerToken: elements * 2,
    cachedTokens: 16,
  });
  const kv = (form: string, elements: number): Measurement => {
    const base = okFixture(`kv-cache/${form}`, [1, 1, 1]) as OkMeasurement;
    const { timing: _t, rates: _r, ceiling: _c, ...rest } = base;
    return {
      ...rest,
      status: 'checked',
      suite: 'kv-cache',
      family: 'mla',
      dtype: 'f16',
      params: { preset: 'deepseek-v2', form, dtype: 'f16' },
      facts: kvFacts(form, elements),
    };
  };
  const absorbed = {
    ...(okFixture('mla-decode/absorbed', [10, 10, 10]) as OkMeasurement),
    suite: 'mla-decode',
    family: 'mla',
    params: { preset: 'deepseek-v2-lite', form: 'absorbed', batch: 1, context: 1024 },
  };
  const cases: Measurement[] = [
    kv('absorbed', 576),
    kv('gqa', 2048),
    leftOut('kv-cache', 'mla', { preset: 'deepseek-v2', form: 'mha', dtype: 'f16' }),
    leftOut('kv-cache', 'mla', { preset: 'deepseek-v2', form: 'mqa', dtype: 'f16' }),
    absorbed,
    leftOut('mla-decode', 'mla', { preset: 'deepseek-v2-lite', form: 'mha', batch: 1, context: 1024 }),
    leftOut('mla-decode', 'mla', { preset: 'deepseek-v2', form: 'absorbed', batch: 1, context: 1024 }),
    ...[1, 16].flatMap((q_len) =>
      ['naive-latent', 'absorbed'].map((form) => leftOut('mla-crossover', 'mla', { preset: 'deepseek-v2-lite', form, q_len })),
    ),
    leftOut('moe-dispatch', 'moe', { experts: 64, dispatch: 'gpu' }),
    leftOut('moe-dispatch', 'moe', { experts: 64, dispatch: 'host-loop' }),
  ];
  const all = findings({ cases, ceilings: resultFixture().ceilings });
  assert.match(
    find(all, 'KV cache, deepseek-v2').headline,
    /^MLA 1,152 B\/token\/layer: MHA left out by the run's time budget, 3\.6x less than GQA \(4,096\), MQA left out by the run's time budget; /,
  );
  assert.equal(
    find(all, 'MLA decode vs MHA, deepseek-v2-lite').headline,
    "not measured in this run: MHA left out by the run's time budget.",
  );
  assert.equal(
    find(all, 'MLA decode vs naive, deepseek-v2-lite').headline,
    'not measured in this run: naive-latent not in this run; naive-expanded not in this run.',
  );
  assert.equal(find(all, 'MLA decode, deepseek-v2').headline, "not measured in this run: absorbed left out by the run's time budget.");
  assert.equal(find(all, 'MLA crossover').headline, "not measured in this run: left out by the run's time budget.");
  assert.equal(
    find(all, 'MoE dispatch').headline,
    "not measured in this run: GPU dispatch: left out by the run's time budget; host loop: left out by the run's time budget.",
  );
  assert.ok(all.filter((f) => !f.measured).every((f) => f.headline.startsWith('not measured in this run: ')));
});

test('whyUnmeasured: each status in words, counted where only some cases have it', () => {
  const c = (status: 'left-out' | 'skipped' | 'error', i: number): Measurement =>
    status === 'left-out'
      ? { key: `k${i}`, suite: 's', family: 'f', params: {}, status, reason: 'budget' }
      : status === 'skipped'
        ? { key: `k${i}`, suite: 's', family: 'f', params: {}, status, reason: 'too big: exceeds maxBufferSize' }
        : { key: `k${i}`, suite: 's', family: 'f', params: {}, status, message: 'device lost' };
  assert.equal(whyUnmeasured([], 'not in this run'), 'not in this run');
  assert.equal(whyUnmeasured([c('left-out', 1), c('left-out', 2)], ''), "left out by the run's time budget");
  assert.equal(
    whyUnmeasured([c('left-out', 1), c('skipped', 2), c('error', 3)], ''),
    "1 of 3 left out by the run's time budget; 1 of 3 skipped (too big); 1 of 3 failed (device lost)",
  );
  assert.equal(times(56.9), '57x');
  assert.equal(times(3.5555), '3.6x');
});

test('stageDeltas and decidingStages: the stages that make one form slower than another', () => {
  const staged = (stages: Record<string, number>): OkMeasurement => {
    const base = okFixture('x', [1, 1, 1]) as OkMeasurement;
    return {
      ...base,
      stagePlacement: 'in-pipeline',
      stages: Object.entries(stages).map(([name, ms]) => ({
        name,
        dispatches: 1,
        work: base.work,
        repeats: 1,
        stopReason: 'converged',
        gpu: { ...base.timing.gpu, median: ms },
        rates: base.rates,
        samplesMs: [ms],
      })),
    };
  };
  const absorbed = staged({ 'absorb-q': 2.75, 'q-rope': 0.14, attend: 4.72, reduce: 0.49, 'absorb-o': 2.25 });
  const mha = staged({ attend: 4.07, reduce: 0.29 });
  const deltas = stageDeltas(absorbed, mha)!;
  assert.deepEqual(
    deltas.map((d) => d.stage),
    ['absorb-q', 'q-rope', 'attend', 'reduce', 'absorb-o'],
  );
  assert.ok(Math.abs(deltas.find((d) => d.stage === 'attend')!.deltaMs - 0.65) < 1e-9);
  assert.deepEqual(
    decidingStages(deltas).map((d) => d.stage),
    ['absorb-q', 'absorb-o'],
  );
  assert.deepEqual(
    decidingStages([
      { stage: 'up-project', deltaMs: 950 },
      { stage: 'attend', deltaMs: -1 },
    ]).map((d) => d.stage),
    ['up-project'],
  );
  assert.equal(stageDeltas(absorbed, okFixture('y', [1]) as OkMeasurement), null, 'a case without stages');
});

test('from which batch absorbed decode beats MHA, per context, and where the sweep never shows it', () => {
  const shape = (batch: number, context: number, absorbedMs: number, mhaMs: number) => ({
    params: { batch, context },
    forms: new Map<string, Measurement>([
      ['absorbed', okFixture(`a/${batch}/${context}`, [absorbedMs]) as OkMeasurement],
      ['mha', okFixture(`m/${batch}/${context}`, [mhaMs]) as OkMeasurement],
    ]),
  });
  assert.equal(
    absorbedBeatsMhaFrom([
      shape(1, 1024, 10, 5),
      shape(4, 1024, 18, 20),
      shape(8, 1024, 30, 40),
      shape(1, 4096, 30, 20),
      shape(4, 4096, 60, 50),
    ]),
    'Absorbed beats MHA from batch 4 at context 1024; at no batch up to 4 at context 4096 (measured: batch 1, 4, 8).',
  );
  // A win below a loss is no crossover: from the first batch after which it always wins.
  assert.equal(
    absorbedBeatsMhaFrom([shape(1, 1024, 4, 5), shape(4, 1024, 21, 20), shape(8, 1024, 30, 40)]),
    'Absorbed beats MHA from batch 8 at context 1024 (measured: batch 1, 4, 8).',
  );
  assert.equal(absorbedBeatsMhaFrom([]), 'No shape has both absorbed and MHA measured.');
});
