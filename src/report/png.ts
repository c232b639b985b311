import { readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanvas, GlobalFonts } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration } from 'chart.js';
import { UserError } from '../errors.js';
import { describeIo, ensureDir } from '../results/store.js';
import { finalizeChartConfig } from './chart-assets.js';
import type { ChartSpec } from './charts.js';

let registered = false;

/** A font family the canvas has: system fonts first (DejaVu Sans on Debian), then whatever sans-serif exists. */
function fontFamily(): string {
  const families = GlobalFonts.families.map((f) => f.family);
  const preferred = ['DejaVu Sans', 'Liberation Sans', 'Arial', 'Helvetica', 'Noto Sans'].find((f) => families.includes(f));
  return preferred ? `'${preferred}', sans-serif` : 'sans-serif';
}

/** Fills the canvas white under everything Chart.js draws (PNG has no page behind it). */
export const whiteBackground = {
  id: 'white-background',
  beforeDraw(chart: Chart): void {
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

/** Renders one chart spec to PNG bytes (animation off, device pixel ratio 1). */
export function renderChartPng(spec: ChartSpec): Buffer {
  if (!registered) {
    Chart.register(...registerables);
    registered = true;
  }
  const canvas = createCanvas(spec.width, spec.height);
  const config = finalizeChartConfig(spec.config, { fontFamily: fontFamily(), responsive: false }) as ChartConfiguration & {
    options: Record<string, unknown>;
  };
  config.options['devicePixelRatio'] = 1;
  config.plugins = [...(config.plugins ?? []), whiteBackground];
  const chart = new Chart(canvas as unknown as HTMLCanvasElement, config);
  try {
    return canvas.toBuffer('image/png');
  } finally {
    chart.destroy();
  }
}

/**
 * Writes every chart as DIR/<id>.png; returns the paths. DIR is the report's own: the charts of an earlier
 * report there (PNGs) are removed first, so what is in it is this report's charts, no stale ones beside them.
 */
export function writeChartPngs(specs: readonly ChartSpec[], dir: string): string[] {
  try {
    ensureDir(dir);
    for (const name of readdirSync(dir)) if (name.endsWith('.png')) unlinkSync(join(dir, name));
  } catch (error) {
    throw new UserError(`cannot write charts to ${dir}: ${describeIo(error)}`);
  }
  return specs.map((spec) => {
    const path = join(dir, `${spec.id}.png`);
    try {
      writeFileSync(path, renderChartPng(spec));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code) throw new UserError(`cannot write ${path}: ${describeIo(error)}`);
      throw error;
    }
    return path;
  });
}
