import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChartConfiguration } from 'chart.js';

/**
 * The HTML report's static scripts (assets/, shipped beside dist/ as kernels/ and suites/ are): plain
 * JavaScript that no compiler touches, so the page runs the very code the PNG renderer runs.
 */
export const ASSETS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets');
const CHART_CONFIG = join(ASSETS_DIR, 'chart-config.cjs');
const REPORT_PAGE = join(ASSETS_DIR, 'report-page.js');

export interface FinalizeOptions {
  fontFamily: string;
  responsive: boolean;
}

interface ChartConfigModule {
  finalizeChartConfig(config: Record<string, unknown>, opts: FinalizeOptions): ChartConfiguration;
}

let chartConfigModule: ChartConfigModule | undefined;

/** A chart spec's configuration with readable defaults and the callbacks JSON cannot carry (assets/chart-config.cjs). */
export function finalizeChartConfig(config: Record<string, unknown>, opts: FinalizeOptions): ChartConfiguration {
  chartConfigModule ??= createRequire(import.meta.url)(CHART_CONFIG) as ChartConfigModule;
  return chartConfigModule.finalizeChartConfig(config, opts);
}

/** assets/chart-config.cjs as text: in the page it defines the global finalizeChartConfig. */
export function chartConfigScript(): string {
  return readFileSync(CHART_CONFIG, 'utf8');
}

/** assets/report-page.js as text: draws the page's charts with Chart.js and finalizeChartConfig. */
export function reportPageScript(): string {
  return readFileSync(REPORT_PAGE, 'utf8');
}
