import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { cli } from '../helpers/cli.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
const FIX = new URL('../fixtures/', import.meta.url).pathname;

test('the HTML report draws every chart offline in headless Chromium, without console errors', async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run node scripts/ensure-chromium.mjs (apt-get install -y chromium)`);
  const out = mkdtempSync(join(tmpdir(), 'mla-bench-html-'));
  const { code, stdout, stderr } = await cli([
    'report',
    join(FIX, 'results-device-a.json'),
    join(FIX, 'results-device-b.json'),
    '--format',
    'html',
    '--out',
    out,
    '--json',
  ]);
  assert.equal(code, 0, stderr);
  const expected = JSON.parse(stdout).charts.length as number;
  assert.ok(expected >= 8);
  const profile = mkdtempSync(join(tmpdir(), 'mla-bench-chromium-'));
  // A fresh profile (--user-data-dir) through playwright's persistent context.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith('file:')) requests.push(request.url());
    });
    await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
    // Runs in the page (no DOM types in this project's lib).
    const state = (await page.evaluate(() => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the page's DOM, untyped here
      const g = globalThis as any;
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
      const canvases: any[] = [...g.document.querySelectorAll('canvas')];
      const drawn = canvases.map((canvas) => {
        canvas.scrollIntoView();
        const ctx = canvas.getContext('2d');
        if (!ctx || canvas.width === 0 || canvas.height === 0) return 0;
        const data: Uint8ClampedArray = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let ink = 0;
        for (let p = 0; p < data.length; p += 4)
          if ((data[p + 3] as number) > 0 && ((data[p] as number) < 240 || (data[p + 1] as number) < 240 || (data[p + 2] as number) < 240))
            ink++;
        return ink;
      });
      return {
        canvases: canvases.length,
        drawn,
        instances: g.Chart ? Object.keys(g.Chart.instances).length : -1,
        created: g.mlaBenchCharts?.length ?? -1,
      };
    })) as { canvases: number; drawn: number[]; instances: number; created: number };
    assert.deepEqual(errors, [], 'no console errors');
    assert.deepEqual(requests, [], 'nothing fetched from the network');
    assert.equal(state.canvases, expected);
    assert.equal(state.instances, expected, 'a Chart instance per canvas');
    assert.equal(state.created, expected);
    state.drawn.forEach((ink, i) => assert.ok(ink > 500, `chart ${i} is drawn (${ink} non-blank pixels)`));
    // The page opens with the findings, then the tables (shown, not folded), then the charts.
    const layout = (await page.evaluate(() => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the page's DOM, untyped here
      const g = globalThis as any;
      g.scrollTo(0, 0);
      // No named functions in here: tsx would wrap them in a helper the page does not have.
      const [findings, table, charts] = ['.findings', 'table.cases', '#charts'].map(
        (selector) => g.document.querySelector(selector).getBoundingClientRect().top,
      );
      return { findings, table, charts, tableShown: g.document.querySelector('table.cases').offsetHeight > 0 };
    })) as { findings: number; table: number; charts: number; tableShown: boolean };
    assert.ok(layout.findings < 400, `the findings open the page (at ${layout.findings}px)`);
    assert.ok(layout.findings < layout.table && layout.table < layout.charts, JSON.stringify(layout));
    assert.ok(layout.tableShown, 'case tables are shown, not folded away');
  } finally {
    await browser.close();
  }
});
