import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ASSETS_DIR, chartConfigScript, finalizeChartConfig, reportPageScript } from '../../src/report/chart-assets.js';
import { renderHtml } from '../../src/report/html.js';

test('the HTML page carries the static scripts verbatim, nothing serialised from compiled code', () => {
  const page = renderHtml([], []);
  for (const script of [chartConfigScript(), reportPageScript()]) {
    assert.ok(page.includes(script));
    assert.doesNotMatch(script, /<\/script/i, 'a script inlined in the page must not close its element');
  }
  assert.equal(chartConfigScript(), readFileSync(join(ASSETS_DIR, 'chart-config.cjs'), 'utf8'));
  assert.doesNotMatch(page, /__name/);
});

test('finalizeChartConfig: plugins.valueLabels adds the plugin that writes each bar value above it, and only then', () => {
  const bars = {
    type: 'bar',
    data: { labels: ['mha'], datasets: [{ label: 'x', data: [65536] }] },
    options: { plugins: { valueLabels: { display: true } } },
  };
  const config = finalizeChartConfig(bars, { fontFamily: 'sans-serif', responsive: false }) as unknown as {
    plugins: Array<{ id: string; afterDatasetsDraw: unknown }>;
  };
  assert.deepEqual(
    config.plugins.map((p) => p.id),
    ['valueLabels'],
  );
  assert.equal(typeof config.plugins[0]?.afterDatasetsDraw, 'function');
  const plain = finalizeChartConfig(
    { type: 'bar', data: { labels: [], datasets: [] } },
    { fontFamily: 'sans-serif', responsive: false },
  ) as unknown as { plugins?: unknown };
  assert.equal(plain.plugins, undefined);
});
