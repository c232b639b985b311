import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownMlaSections } from '../../src/report/markdown.js';
import { flashMlaRows } from '../../src/report/flashmla.js';
import { crossovers, decodeComparisons, kvCapacityRows } from '../../src/report/mla.js';
import { renderMlaSections } from '../../src/report/table.js';
import type { Measurement, OkMeasurement } from '../../src/results/schema.js';
import { okFixture } from '../helpers/fixtures.js';

function mla(
  suite: string,
  params: Record<string, string | number>,
  medianMs: number,
  facts: Record<string, string | number> = {},
): OkMeasurement {
  const base = okFixture(`${suite}/${JSON.stringify(params)}`, [medianMs, medianMs, medianMs]) as OkMeasurement;
  return { ...base, suite, family: 'mla', params, facts, dtype: 'f16', rates: { ...base.rates, computeFraction: 0.4 } };
}

test('crossover: the smallest q_len from which naive-latent stays faster than absorbed', () => {
  const cases: Measurement[] = [];
  const times: Record<number, [number, number]> = { 1: [100, 2], 16: [110, 30], 64: [120, 130], 256: [150, 500] };
  for (const [qLen, [naive, absorbed]] of Object.entries(times)) {
    cases.push(mla('mla-crossover', { preset: 'deepseek-v2-lite', form: 'naive-latent', context: 256, q_len: Number(qLen) }, naive));
    cases.push(mla('mla-crossover', { preset: 'deepseek-v2-lite', form: 'absorbed', context: 256, q_len: Number(qLen) }, absorbed));
  }
  const [series] = crossovers(cases);
  assert.equal(series?.crossoverQLen, 64);
  assert.equal(series?.points.length, 4);
  assert.match(renderMlaSections(cases), /naive-latent beats absorbed from q_len 64/);
  // Never faster: no crossover.
  const never = cases.filter((c) => c.params['q_len'] !== 64 && c.params['q_len'] !== 256);
  assert.equal(crossovers(never)[0]?.crossoverQLen, null);
});

test('kv-cache capacity: bytes per token per layer and per model, and the longest context in the budget', () => {
  const facts = (form: string, elements: number, measured: number) => ({
    preset: 'deepseek-v2',
    form,
    layers: 60,
    kvElementsPerToken: elements,
    kvBytesPerToken: measured,
    cachedTokens: 16,
  });
  // The kv-cache suite is untimed (status checked); a timed case from an older file counts the same.
  const timedAbsorbed = mla('kv-cache', { preset: 'deepseek-v2', form: 'absorbed' }, 1, facts('absorbed', 576, 1152));
  const { timing: _t, rates: _r, ...untimed } = timedAbsorbed;
  const cases: Measurement[] = [
    { ...untimed, status: 'checked' },
    mla('kv-cache', { preset: 'deepseek-v2', form: 'mha' }, 1, facts('mha', 32768, 65536)),
  ];
  const rows = kvCapacityRows(cases, 80e9);
  assert.equal(rows.length, 2);
  const [latent, mha] = rows as [(typeof rows)[0], (typeof rows)[0]];
  assert.equal(latent.formulaBytes, 1152);
  assert.ok(latent.matchesFormula);
  assert.equal(latent.perModelBytes, 1152 * 60);
  assert.equal(latent.maxContext, Math.floor(80e9 / (1152 * 60)));
  assert.equal(mha.maxContext, Math.floor(80e9 / (65536 * 60)));
  const md = markdownMlaSections(cases, 40);
  assert.match(md, /longest context in 40 GB/);
  // One preset and dtype: said once in the title; the form is the only column naming a row.
  assert.match(md, /### KV cache per token .*longest context in 40 GB \(preset=deepseek-v2, dtype=f16\)/);
  assert.match(md, /\| form \| elements \| bytes\/layer \| MHA \/ this \|/);
  assert.match(md, /\| absorbed \| 576 \| 1,152 \| 56\.9x \| 60 \|/);
});

test('decode comparison: absorbed against naive-latent and MHA at the same shape', () => {
  const shape = { preset: 'deepseek-v2-lite', batch: 1, context: 1024 };
  const cases = [
    mla('mla-decode', { ...shape, form: 'absorbed' }, 10),
    mla('mla-decode', { ...shape, form: 'naive-latent' }, 500),
    mla('mla-decode', { ...shape, form: 'mha' }, 15),
  ];
  const [row] = decodeComparisons(cases);
  assert.equal(row?.naiveLatentMs, 500);
  assert.equal(row?.mhaMs, 15);
  assert.equal(row?.naiveExpandedMs, null);
  assert.match(renderMlaSections(cases), /50\.0x/);
  assert.equal(renderMlaSections([okFixture('calibration/x', [1])]), '');
});

test('MLA tables: one column per varying shape axis, the rest in the title; the KV table shows each form against MHA', () => {
  const cases = ['deepseek-v2', 'deepseek-v2-lite'].flatMap((preset) => [
    mla('mla-decode', { preset, batch: 1, context: 1024, form: 'absorbed' }, 10),
    mla('mla-decode', { preset, batch: 1, context: 1024, form: 'mha' }, 5),
  ]);
  const text = renderMlaSections(cases);
  assert.match(text, /^MLA decode: each form against absorbed \(batch=1, context=1024\)\n/);
  assert.match(text, /│ preset +│ absorbed │ naive-latent │ naive-expanded │ MHA +│ absorbed % f32 FMA │/);
  assert.match(text, /│ deepseek-v2-lite │ 10\.0 ms +│ - +│ - +│ 0\.50x │ 40% +│/);
});

test("paged absorbed decode by FlashMLA's formulas: over attend + reduce where the stages were timed, else end to end", () => {
  const facts = { flashMlaFlops: 4e12, flashMlaBytes: 6e9, pageSize: 64 };
  const staged = mla('mla-decode', { form: 'absorbed', batch: 128, page_size: 64 }, 3, facts);
  const stage = (name: string, ms: number) => ({
    ...{ name, dispatches: 1, work: { flops: 0, bytesRead: 0, bytesWritten: 0 }, repeats: 1, stopReason: 'converged' as const },
    ...{ gpu: { ...staged.timing.gpu, median: ms }, rates: staged.rates, samplesMs: [ms] },
  });
  const withStages = { ...staged, stages: [stage('absorb-q', 0.5), stage('attend', 1.5), stage('reduce', 0.5)] } as OkMeasurement;
  const endToEnd = mla('mla-decode', { form: 'absorbed', batch: 64, page_size: 64 }, 4, facts);
  const contiguous = mla('mla-decode', { form: 'absorbed', batch: 64, page_size: 0 }, 4, { flashMlaFlops: 1, flashMlaBytes: 1 });
  const rows = flashMlaRows([withStages, endToEnd, contiguous]);
  assert.deepEqual(
    rows.map((r) => [r.timed, r.ms, r.gbps, r.tflops]),
    [
      ['attend + reduce', 2, 3000, 2000],
      ['end to end', 4, 1500, 1000],
    ],
  );
  assert.match(renderMlaSections([withStages, endToEnd]), /Paged absorbed MLA decode by FlashMLA's formulas/);
});
