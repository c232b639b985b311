import assert from 'node:assert/strict';
import { test } from 'node:test';
import { finalizeChartConfig } from '../../src/report/chart-assets.js';
import { buildCharts, pickXAxis } from '../../src/report/charts.js';
import { compareResults, crossHardwareTable, regressions } from '../../src/report/compare.js';
import { renderCsv } from '../../src/report/csv.js';
import { groupByDevice, loadResults, okCases, type LoadedResults } from '../../src/report/data.js';
import { bencherMetricFormat, githubActionBenchmark } from '../../src/report/exports.js';
import { markdownComparison, markdownReport } from '../../src/report/markdown.js';
import type { Measurement, OkMeasurement } from '../../src/results/schema.js';
import { renderComparison, renderCrossHardware } from '../../src/report/compare-table.js';
import { renderHtml } from '../../src/report/html.js';
import { renderCaseTables, renderResults } from '../../src/report/table.js';
import { checkedFixture, okFixture, resultFixture, withLeftOut } from '../helpers/fixtures.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const [a, slow, b] = loadResults([`${FIX}results-device-a.json`, `${FIX}results-device-a-slow.json`, `${FIX}results-device-b.json`]) as [
  LoadedResults,
  LoadedResults,
  LoadedResults,
];

/** Splits one CSV line, honouring quotes. */
function csvSplit(line: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cell);
      cell = '';
    } else cell += ch;
  }
  out.push(cell);
  return out;
}

test('CSV: one row per case with flat columns, axes as param_* columns, fields quoted', () => {
  const csv = renderCsv([a]);
  const lines = csv.trimEnd().split('\n');
  const head = csvSplit(lines[0] as string);
  assert.equal(lines.length - 1, a.results.cases.length);
  for (const column of [
    'file',
    'device',
    'suite',
    'key',
    'status',
    'median_ms',
    'ci95_lo_ms',
    'ci95_hi_ms',
    'gbps',
    'gflops',
    'bound',
    'kv_bytes_per_token',
    'tokens_per_s',
    'param_context',
    'param_variant',
    'param_kernel',
  ]) {
    assert.ok(head.includes(column), column);
  }
  const rows = lines.slice(1).map(csvSplit);
  assert.ok(
    rows.every((r) => r.length === head.length),
    'every row has every column',
  );
  const at = (row: string[], column: string): string => row[head.indexOf(column)] as string;
  const decode = rows.find((r) => at(r, 'key') === 'attention-decode/phase=decode,variant=gqa,batch=4,context=2048,dtype=f16');
  assert.ok(decode);
  assert.equal(at(decode, 'status'), 'ok');
  assert.equal(at(decode, 'param_context'), '2048');
  assert.equal(at(decode, 'kv_bytes_per_token'), String(2 * 8 * 128 * 2));
  assert.ok(Number(at(decode, 'median_ms')) > 0 && Number(at(decode, 'ci95_lo_ms')) <= Number(at(decode, 'median_ms')));
  const skipped = rows.find((r) => at(r, 'status') === 'skipped');
  assert.ok(skipped && at(skipped, 'reason').includes('exceeds'));
  assert.equal(at(skipped, 'median_ms'), '');
  // A comma in a reason is quoted.
  const odd = resultFixture([{ key: 'x/a=1', suite: 'x', family: 'x', params: { a: 1 }, status: 'error', message: 'lost, "badly"' }]);
  const line = renderCsv([{ path: 'p.json', name: 'p', device: 'd', results: odd }]).split('\n')[1] as string;
  assert.match(line, /"lost, ""badly"""/);
});

test('Markdown: ceilings and one table per suite per device; comparison tables', () => {
  const md = markdownReport(groupByDevice([a, b]));
  assert.match(md, /^# mla-bench report/);
  assert.match(md, /## Fixture RTX 4070 \(Vulkan\)/);
  assert.match(md, /## Fixture Apple M2 \(Metal\)/);
  assert.match(md, /\| copy bandwidth \| 357 GB\/s \|/);
  for (const suite of ['calibration', 'attention-decode', 'attention-prefill', 'mla-decode', 'moe-dispatch'])
    assert.match(md, new RegExp(`### ${suite}( \\([^\\n]*\\))?\\n\\n\\| [^\\n]*\\| status \\| median ±CI95 \\|`));
  // The varying axes are columns, the constant ones in the heading.
  assert.match(md, /### attention-decode \(phase=decode, dtype=f16\)\n\n\| variant \| batch \| context \| status \|/);
  assert.match(md, /\| gqa \| 4 \| 2048 \| ok \|/);
  assert.match(md, /\| --- \| --- \| ---: \|/);
  const cmp = markdownComparison([compareResults(a, slow, { noise: 0.02, resamples: 200 })], 2);
  assert.match(cmp, /\| attention-decode \| 45 \| 1\.200x \| 0 \| 45 \| 0 \| 0 \|/);
  assert.match(cmp, /🔴 slower/);
});

test('github-action-benchmark: smaller-is-better ms and bigger-is-better GB/s, GFLOP/s entries', () => {
  const { smaller, bigger } = githubActionBenchmark([a]);
  const ok = okCases(a.results.cases);
  assert.equal(smaller.length, ok.length);
  for (const entry of smaller) {
    assert.equal(entry.unit, 'ms');
    assert.equal(typeof entry.name, 'string');
    assert.ok(entry.value > 0);
    assert.match(entry.range ?? '', /^± [\d.e-]+$/);
  }
  assert.ok(bigger.some((e) => e.unit === 'GB/s' && e.name.endsWith('(GB/s)')));
  assert.ok(bigger.some((e) => e.unit === 'GFLOP/s' && e.name.endsWith('(GFLOP/s)')));
  assert.equal(new Set(bigger.map((e) => e.name)).size, bigger.length, 'names are unique');
  // Several devices: names carry the device.
  assert.ok(githubActionBenchmark([a, b]).smaller.some((e) => e.name.startsWith('Fixture Apple M2 (Metal): ')));
});

test('Bencher Metric Format: latency (ms) and throughput (GB/s) with bounds around the value', () => {
  const bmf = bencherMetricFormat([a]);
  const key = 'attention-decode/phase=decode,variant=mha,batch=1,context=512,dtype=f16';
  const entry = bmf[key];
  assert.ok(entry);
  const { latency, throughput } = entry;
  assert.ok(latency && throughput);
  assert.ok((latency.lower_value as number) <= latency.value && latency.value <= (latency.upper_value as number));
  assert.ok((throughput.lower_value as number) <= throughput.value && throughput.value <= (throughput.upper_value as number));
  assert.equal(Object.keys(bmf).length, okCases(a.results.cases).length);
  assert.deepEqual(Object.keys(entry).sort(), ['latency', 'throughput']);
});

test('compare: the x1.2 candidate is slower everywhere but its calibration; the identical pair has no slower case', () => {
  const slower = compareResults(a, slow, { noise: 0.02, resamples: 300 });
  const kernels = slower.cases.filter((c) => c.suite !== 'calibration');
  assert.ok(kernels.length > 50);
  assert.ok(
    kernels.every((c) => c.verdict === 'slower'),
    'every kernel case slower',
  );
  assert.ok(
    slower.cases.filter((c) => c.suite === 'calibration').every((c) => c.verdict === 'same'),
    'the machine (its calibration kernels) held still',
  );
  assert.equal(regressions(slower, 5).length, kernels.length);
  assert.equal(regressions(slower, 25).length, 0, 'a 20% regression is under a 25% threshold');
  for (const s of slower.suites.filter((x) => x.suite !== 'calibration'))
    assert.ok(Math.abs(s.geomeanRatio - 1.2) < 1e-3, `${s.suite} geomean ${s.geomeanRatio}`);
  const same = compareResults(a, a, { noise: 0.02, resamples: 300 });
  assert.equal(same.cases.filter((c) => c.verdict === 'slower').length, 0);
  assert.ok(same.cases.every((c) => c.verdict === 'same' || c.verdict === 'inconclusive'));
  assert.equal(regressions(same, 5).length, 0);
  assert.deepEqual(same.onlyInBase, []);
});

test('untimed (checked) cases: a table row that says so, the KV-bytes bars, and compare keeps them apart', () => {
  const facts = { kvBytesPerToken: 1152 };
  const checked = {
    ...checkedFixture('kv-cache/form=absorbed'),
    suite: 'kv-cache',
    family: 'mla',
    params: { form: 'absorbed', dtype: 'f16' },
    facts,
  } as Measurement;
  const text = renderCaseTables([checked]);
  assert.match(text, /^kv-cache \(form=absorbed, dtype=f16\)\n[^\n]*\n│ status +│ median ±CI95 │[^\n]*\n│ checked │ not timed +│/);
  assert.match(
    markdownReport(groupByDevice([{ path: 'c.json', name: 'c', device: 'd', results: resultFixture([checked]) }])),
    /\| checked \| not timed \|/,
  );
  const kv = buildCharts(groupByDevice([{ path: 'c.json', name: 'c', device: 'd', results: resultFixture([checked]) }])).find(
    (c) => c.kind === 'kv-bytes',
  );
  assert.ok(kv, 'a checked case still draws its KV-bytes bar');
  assert.deepEqual((kv.config as { data: { labels: string[] } }).data.labels, ['absorbed']);
  // An older run that timed the case against one that only checked it: neither "only in" list, nor a verdict.
  const timed = {
    ...okFixture('kv-cache/form=absorbed', [1, 1.1, 0.9]),
    suite: 'kv-cache',
    family: 'mla',
    params: checked.params,
  } as Measurement;
  const load = (name: string, cases: Measurement[]): LoadedResults => ({
    path: `${name}.json`,
    name,
    device: 'd',
    results: resultFixture(cases),
  });
  const cmp = compareResults(load('old', [timed]), load('new', [checked]), { noise: 0.02, resamples: 50 });
  assert.deepEqual(cmp.cases, []);
  assert.deepEqual(cmp.onlyInBase, []);
  assert.deepEqual(cmp.timedOnOneSide, ['kv-cache/form=absorbed']);
  assert.match(markdownComparison([cmp], 2), /Timed on one side only \(checked, not timed, on the other\): `kv-cache\/form=absorbed`/);
  // A case that failed on the other side is still "only in base".
  const failed = { ...checked, status: 'error', message: 'device lost' } as Measurement;
  assert.deepEqual(compareResults(load('old', [timed]), load('new', [failed]), { noise: 0.02, resamples: 50 }).onlyInBase, [
    'kv-cache/form=absorbed',
  ]);
});

test('cross-hardware table: one median column per device', () => {
  const t = crossHardwareTable([a, b]);
  assert.deepEqual(
    t.devices.map((d) => d.device),
    ['Fixture RTX 4070 (Vulkan)', 'Fixture Apple M2 (Metal)'],
  );
  const row = t.rows.find((r) => r.key === 'calibration/kernel=copy,mib=32,iterations=64');
  assert.ok(row && row.medians.every((m) => m !== null && m > 0));
  assert.ok((row.medians[1] as number) > (row.medians[0] as number), 'the slower device has the larger median');
});

test('tables show the configs a case ran where they came from tuning, and cross-hardware where the devices differ', () => {
  const decode = (c: Measurement): boolean => c.suite === 'attention-decode' && c.status === 'ok';
  const tunedCase = (m: LoadedResults, plan: string, source: 'tuned' | 'default'): LoadedResults => ({
    ...m,
    results: {
      ...m.results,
      cases: m.results.cases.map((c) => (decode(c) ? { ...c, kernelConfig: { source, plans: { attend: plan } } } : c)),
    },
  });
  const tunedA = tunedCase(a, 'rows-subgroup rpi=2 wg=8 chunk=128 output=partials', 'tuned');
  const table = renderCaseTables(tunedA.results.cases.filter((c) => c.suite === 'attention-decode'));
  assert.match(
    table,
    /tuned configs \(from the run's tuning file; the other cases ran their defaults\): .*attend: rows-subgroup rpi=2 wg=8/s,
  );
  assert.doesNotMatch(renderCaseTables(a.results.cases), /tuned configs/, 'defaults only: no note');
  const differ = crossHardwareTable([tunedA, tunedCase(b, 'decode WG=64 BR=8 BK=32', 'default')]);
  const text = renderCrossHardware(differ);
  assert.match(
    text,
    /configs differ, .*Fixture RTX 4070 \(Vulkan\) tuned: attend: rows-subgroup rpi=2 .*\| Fixture Apple M2 \(Metal\) default: attend: decode WG=64/s,
  );
  const same = crossHardwareTable([tunedCase(a, 'x', 'default'), tunedCase(b, 'x', 'default')]);
  assert.doesNotMatch(renderCrossHardware(same), /configs differ/);
});

test('charts: every kind the fixtures support, generic axis choice, nothing for missing data', () => {
  const charts = buildCharts(groupByDevice([a, b]));
  const kinds = new Set(charts.map((c) => c.kind));
  for (const kind of ['latency', 'case-latency', 'tokens', 'kv-bytes', 'crossover', 'roofline', 'moe-stages', 'cross-hardware'])
    assert.ok(kinds.has(kind as never), kind);
  assert.equal(new Set(charts.map((c) => c.id)).size, charts.length, 'ids are unique');
  for (const chart of charts) assert.doesNotThrow(() => JSON.stringify(chart.config));
  // Only calibration data: a per-case chart and a roofline, nothing about KV caches or MoE.
  const calibration = buildCharts(groupByDevice([{ path: 'c.json', name: 'c', device: 'd', results: resultFixture() }]));
  assert.deepEqual(
    calibration.map((c) => c.kind),
    ['case-latency'],
  );
  assert.equal(pickXAxis(okCases(a.results.cases).filter((c) => c.suite === 'attention-prefill')), 'seq');
  assert.equal(pickXAxis(okCases(a.results.cases).filter((c) => c.suite === 'calibration')), null);
  const params = okFixture('x/batch=1', [1, 2, 3]);
  assert.equal(pickXAxis([params as OkMeasurement]), null, 'one value is no axis');
});

test('finalizeChartConfig: titles, units, log ticks at the data, legends hide CI bands', () => {
  const latency = buildCharts(groupByDevice([a])).find((c) => c.kind === 'latency');
  assert.ok(latency);
  type Finalized = {
    data: { datasets: Array<{ band?: boolean }> };
    options: {
      animation: unknown;
      scales: Record<'x' | 'y', { type: string; title: { text: string }; afterBuildTicks: unknown }>;
      plugins: { legend: { labels: { filter: (item: { datasetIndex: number }, data: unknown) => boolean } } };
    };
  };
  const config = finalizeChartConfig(latency.config, { fontFamily: 'sans-serif', responsive: false }) as unknown as Finalized;
  assert.equal(config.options.animation, false);
  assert.match(config.options.scales.y.title.text, /\(ms\)/);
  assert.match(config.options.scales.x.title.text, /tokens/);
  assert.equal(config.options.scales.x.type, 'logarithmic');
  assert.equal(typeof config.options.scales.x.afterBuildTicks, 'function');
  const bands = config.data.datasets.filter((d) => d.band);
  assert.ok(bands.length > 0);
  const filter = config.options.plugins.legend.labels.filter;
  assert.equal(filter({ datasetIndex: config.data.datasets.indexOf(bands[0]!) }, config.data), false);
});

test('charts: mla-crossover is latency against q_len per form; the KV-bytes bars are the kv-cache suite, labelled by preset', () => {
  const mla = (suite: string, params: Record<string, string | number>, ms: number, kvBytesPerToken?: number): OkMeasurement => {
    const c = okFixture(
      `${suite}/${Object.entries(params)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
      [ms, ms * 1.01, ms * 0.99],
    ) as OkMeasurement;
    return { ...c, suite, family: 'mla', params, ...(kvBytesPerToken !== undefined && { facts: { kvBytesPerToken } }) };
  };
  const cases = [1, 16, 64].flatMap((q_len) => [
    mla('mla-crossover', { preset: 'deepseek-v2-lite', form: 'naive-latent', context: 256, q_len }, 200 + q_len),
    mla('mla-crossover', { preset: 'deepseek-v2-lite', form: 'absorbed', context: 256, q_len }, 8 * q_len),
  ]);
  for (const preset of ['deepseek-v2', 'deepseek-v2-lite']) {
    cases.push(mla('kv-cache', { preset, form: 'mha', dtype: 'f16' }, 1, preset === 'deepseek-v2' ? 65536 : 8192));
    cases.push(mla('kv-cache', { preset, form: 'absorbed', dtype: 'f16' }, 1, 1152));
  }
  const charts = buildCharts(groupByDevice([{ path: 'm.json', name: 'm', device: 'd', results: resultFixture(cases) }]));
  const crossover = charts.find((c) => c.kind === 'crossover');
  assert.ok(crossover, charts.map((c) => c.kind).join(', '));
  const config = crossover.config as {
    data: { datasets: { label: string; data: { x: number }[]; band?: boolean }[] };
    options: { scales: { x: { title: { text: string } } } };
  };
  assert.match(config.options.scales.x.title.text, /query length/);
  const lines = config.data.datasets.filter((d) => !d.band);
  assert.deepEqual(lines.map((d) => d.label).sort(), ['absorbed', 'naive-latent']);
  assert.deepEqual(
    lines[0]!.data.map((p) => p.x),
    [1, 16, 64],
  );
  const kv = charts.find((c) => c.kind === 'kv-bytes');
  assert.ok(kv);
  // A group of bars per form (largest first), a bar per preset: short labels that stay apart; values above the bars.
  const { data, options } = kv.config as {
    data: { labels: string[]; datasets: Array<{ label: string; data: Array<number | null> }> };
    options: { plugins: { valueLabels: { display: boolean }; subtitle: { text: string } } };
  };
  assert.deepEqual(data.labels, ['mha', 'absorbed']);
  assert.deepEqual(
    data.datasets.map((d) => [d.label, d.data]),
    [
      ['deepseek-v2', [65536, 1152]],
      ['deepseek-v2-lite', [8192, 1152]],
    ],
  );
  assert.equal(options.plugins.valueLabels.display, true);
  assert.match(options.plugins.subtitle.text, /dtype=f16$/);
});

test('case tables: skip and error reasons are numbered footnotes under the table, each reason once', () => {
  const base = { suite: 'mla-decode', family: 'mla' };
  const cases: Measurement[] = [
    { ...okFixture('mla-decode/form=absorbed', [1, 1.1, 0.9]), ...base, params: { form: 'absorbed' } },
    { ...base, key: 'mla-decode/form=naive-latent', params: { form: 'naive-latent' }, status: 'skipped', reason: 'too slow on a CPU' },
    { ...base, key: 'mla-decode/form=naive-expanded', params: { form: 'naive-expanded' }, status: 'skipped', reason: 'too slow on a CPU' },
    { ...base, key: 'mla-decode/form=mha', params: { form: 'mha' }, status: 'error', message: 'device lost' },
  ];
  const text = renderCaseTables(cases);
  assert.equal(text.match(/skipped \[1\]/g)?.length, 2);
  assert.match(text, /error \[2\]/);
  assert.match(text, /└[^\n]*\n\[1\] too slow on a CPU\n\[2\] device lost/);
  assert.equal(text.match(/too slow on a CPU/g)?.length, 1);
});

test('findings open every report, before any table; strings from the results file are escaped in each medium', () => {
  const md = markdownReport(groupByDevice([a]));
  const findingsAt = md.indexOf('### Findings, computed from these results');
  assert.ok(findingsAt > 0 && findingsAt < md.indexOf('\n| '), 'the findings come before the first table');
  assert.match(md, /^- \*\*KV cache\*\*: not measured in this run: the kv-cache suite was not run\.$/m);
  assert.match(md, /<details><summary>The numbers and cases behind each finding<\/summary>/);
  const terminal = renderResults(a.results);
  assert.ok(terminal.indexOf('Findings, computed') < terminal.indexOf('┌'));
  // A preset name from another machine's results file: no raw HTML, link or escape sequence gets through.
  const evil = '<img src=x onerror=alert(1)>[x](http://e)';
  const absorbed = {
    ...(okFixture('mla-decode/a', [10, 10, 10]) as OkMeasurement),
    suite: 'mla-decode',
    family: 'mla',
    params: { preset: evil, form: 'absorbed' },
  };
  const mha = {
    ...(okFixture('mla-decode/m', [5, 5, 5]) as OkMeasurement),
    suite: 'mla-decode',
    family: 'mla',
    params: { preset: evil, form: 'mha' },
  };
  const devices = groupByDevice([{ path: 'e.json', name: 'e', device: 'd', results: resultFixture([absorbed, mha]) }]);
  const evilMd = markdownReport(devices);
  assert.match(evilMd, /\*\*MLA decode vs MHA, &lt;img src=x onerror=alert\(1\)&gt;\\\[x\\\]\(http:\/\/e\)\*\*/);
  assert.doesNotMatch(evilMd, /<img/);
  const page = renderHtml(devices, []);
  assert.match(page, /<strong>MLA decode vs MHA, &lt;img src=x onerror=alert\(1\)&gt;\[x\]\(http:\/\/e\)<\/strong>/);
  assert.doesNotMatch(page, /<img/);
});

test('left-out cases: one note per suite, the budget in the header, kept apart by compare, as such in CSV, not in benchmark exports', () => {
  const batch16 = (m: Measurement): boolean => m.suite === 'attention-decode' && m.params['batch'] === 16;
  const budgeted = (file: LoadedResults, name: string): LoadedResults => ({
    ...file,
    path: `${name}.json`,
    name,
    results: withLeftOut(file.results, batch16),
  });
  const candidate = budgeted(slow, 'candidate');
  const keys = a.results.cases.filter(batch16).map((m) => m.key);
  assert.equal(keys.length, 15);
  // Terminal: the header says the budget, the suite's table says what it left out, in one line, not 15 rows.
  const text = renderResults(candidate.results);
  assert.match(text.split('\n')[0] as string, / - profile quick, budget 10m: 15 of \d+ cases left out$/);
  assert.match(
    text.replace(/\n {2}/g, ' '),
    /^left out by the run's time budget: 15 of 45 cases, spanning variant mha, gqa, mqa; batch 16; context 512, 1024, 2048, 4096, 8192 \(each one in `report -f csv`\)$/m,
  );
  assert.ok(text.split('\n').every((line) => [...line].length <= 120));
  assert.doesNotMatch(text, /│ left out/);
  // compare: neither missing nor a verdict, either way round; the gate sees only what both measured.
  const cmp = compareResults(a, candidate, { noise: 0.02, resamples: 100 });
  assert.deepEqual(cmp.onlyInBase, []);
  assert.deepEqual(cmp.leftOutOnOneSide.map((x) => x.key).sort(), [...keys].sort());
  assert.ok(cmp.leftOutOnOneSide.every((x) => x.leftOutIn === 'candidate' && x.suite === 'attention-decode'));
  assert.ok(cmp.cases.every((c) => !keys.includes(c.key)));
  assert.equal(regressions(cmp, 5).length, cmp.cases.filter((c) => c.suite !== 'calibration').length, 'the rest still regress as before');
  assert.equal(cmp.suites.find((s) => s.suite === 'attention-decode')?.cases, 30);
  const reverse = compareResults(budgeted(a, 'base'), slow, { noise: 0.02, resamples: 100 });
  assert.deepEqual(reverse.onlyInCandidate, []);
  assert.ok(reverse.leftOutOnOneSide.length === 15 && reverse.leftOutOnOneSide.every((x) => x.leftOutIn === 'base'));
  assert.match(
    renderComparison(cmp, 2),
    /^left out by a budget on one side: 15 cases \(15 by the candidate's\), measured on the other; not compared, no verdict$/m,
  );
  assert.match(
    markdownComparison([cmp], 2),
    /^Left out by a budget on one side: 15 cases \(15 by the candidate's\), measured on the other; not compared, no verdict: `attention-decode\//m,
  );
  // CSV: a row each, status left-out, reason budget, no numbers.
  const lines = renderCsv([candidate]).trimEnd().split('\n').map(csvSplit);
  const head = lines[0] as string[];
  const leftRows = lines.slice(1).filter((r) => r[head.indexOf('status')] === 'left-out');
  assert.equal(leftRows.length, 15);
  assert.ok(
    leftRows.every(
      (r) => r[head.indexOf('reason')] === 'budget' && r[head.indexOf('median_ms')] === '' && r[head.indexOf('param_batch')] === '16',
    ),
  );
  // Benchmark exports: not at all.
  const { smaller, bigger } = githubActionBenchmark([candidate]);
  assert.ok([...smaller, ...bigger].every((e) => !keys.some((k) => e.name.startsWith(k))));
  assert.ok(Object.keys(bencherMetricFormat([candidate])).every((name) => !keys.includes(name)));
  assert.equal(Object.keys(bencherMetricFormat([candidate])).length, okCases(a.results.cases).length - 15);
});
