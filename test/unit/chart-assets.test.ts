import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ASSETS_DIR, chartConfigScript, reportPageScript } from '../../src/report/chart-assets.js';
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
