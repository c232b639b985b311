import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { buildCharts, type ChartSpec } from '../../src/report/charts.js';
import { groupByDevice, loadResults } from '../../src/report/data.js';
import { writeChartPngs } from '../../src/report/png.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

test('every chart kind renders to a valid PNG of its size, white background, with drawn pixels', async () => {
  const charts = buildCharts(groupByDevice(loadResults([`${FIX}results-device-a.json`, `${FIX}results-device-b.json`])));
  const oneOfEach = [...new Map(charts.map((c) => [c.kind, c] as [string, ChartSpec])).values()];
  assert.equal(oneOfEach.length, 8);
  const dir = mkdtempSync(join(tmpdir(), 'mla-bench-png-'));
  const paths = writeChartPngs(oneOfEach, dir);
  for (const [i, path] of paths.entries()) {
    const spec = oneOfEach[i] as ChartSpec;
    const bytes = readFileSync(path);
    assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE, `${path} is a PNG`);
    assert.equal(bytes.toString('latin1', 12, 16), 'IHDR');
    assert.equal(bytes.readUInt32BE(16), spec.width, `${spec.kind} width`);
    assert.equal(bytes.readUInt32BE(20), spec.height, `${spec.kind} height`);
    const image = await loadImage(bytes);
    const canvas = createCanvas(image.width, image.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(image, 0, 0);
    const { data } = ctx.getImageData(0, 0, image.width, image.height);
    let white = 0;
    let ink = 0;
    let colored = 0;
    for (let p = 0; p < data.length; p += 4) {
      const [r, g, b, a] = [data[p] as number, data[p + 1] as number, data[p + 2] as number, data[p + 3] as number];
      assert.equal(a, 255, 'opaque (white background, no transparency)');
      if (r > 250 && g > 250 && b > 250) white++;
      else ink++;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colored++;
    }
    const pixels = data.length / 4;
    assert.ok(white / pixels > 0.5, `${spec.kind}: mostly white background`);
    assert.ok(ink / pixels > 0.01, `${spec.kind}: something drawn (${ink} pixels)`);
    assert.ok(colored > 200, `${spec.kind}: coloured data drawn (${colored} pixels)`);
  }
});
