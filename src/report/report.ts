import { join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../results/store.js';
import { buildCharts, type ChartKind, type ChartSpec } from './charts.js';
import { renderCsv } from './csv.js';
import { groupByDevice, type DeviceResults, type LoadedResults } from './data.js';
import { bencherMetricFormat, githubActionBenchmark } from './exports.js';
import { findings, type Finding } from './findings.js';
import { renderHtml } from './html.js';
import { markdownReport } from './markdown.js';
import { writeChartPngs } from './png.js';
import { renderResults } from './table.js';

export const REPORT_FORMATS = ['table', 'md', 'csv', 'html', 'png', 'gab', 'bmf'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
/** Formats that are files by nature; without --out they go to DEFAULT_REPORT_DIR. */
export const FILE_FORMATS: readonly ReportFormat[] = ['html', 'png', 'gab'];
export const DEFAULT_REPORT_DIR = join('results', 'report');

export interface ReportOutput {
  format: ReportFormat;
  /** Files written (none when the output went to stdout). */
  paths: string[];
}

export interface ReportResult {
  files: string[];
  devices: string[];
  /** Per device, what its results answer (findings.ts), as every format opens with it. */
  findings: Array<{ device: string; findings: Finding[] }>;
  outDir: string | null;
  charts: Array<{ id: string; kind: ChartKind; title: string }>;
  outputs: ReportOutput[];
}

/** Per file, the findings and then the terminal tables, through the run command's renderer. */
export function renderTerminal(files: readonly LoadedResults[]): string {
  return files.map((f) => `${f.path}\n${renderResults(f.results)}`).join('\n\n');
}

export interface ReportOptions {
  formats: ReportFormat[];
  outDir?: string;
  /** Where stdout-bound text goes (tables, and md/csv/bmf without --out). */
  print: (text: string) => void;
}

export function writeReport(files: readonly LoadedResults[], opts: ReportOptions): ReportResult {
  const formats = [...new Set(opts.formats.length ? opts.formats : (['table'] as ReportFormat[]))];
  const devices: DeviceResults[] = groupByDevice(files);
  const needsDir = formats.some((f) => FILE_FORMATS.includes(f)) || (opts.outDir !== undefined && formats.some((f) => f !== 'table'));
  const outDir = opts.outDir ?? (needsDir ? DEFAULT_REPORT_DIR : null);
  let charts: ChartSpec[] | undefined;
  const chartsOnce = (): ChartSpec[] => (charts ??= buildCharts(devices));
  const outputs: ReportOutput[] = [];
  const emit = (format: ReportFormat, name: string, text: string, toStdout: boolean): void => {
    if (toStdout || outDir === null) {
      opts.print(text);
      outputs.push({ format, paths: [] });
    } else {
      const path = join(outDir, name);
      writeFileAtomic(path, text);
      outputs.push({ format, paths: [path] });
    }
  };
  for (const format of formats) {
    switch (format) {
      case 'table':
        emit(format, '', renderTerminal(files), true);
        break;
      case 'md':
        emit(format, 'report.md', markdownReport(devices), opts.outDir === undefined);
        break;
      case 'csv':
        emit(format, 'report.csv', renderCsv(files), opts.outDir === undefined);
        break;
      case 'bmf':
        emit(format, 'bmf.json', JSON.stringify(bencherMetricFormat(files), null, 2) + '\n', opts.outDir === undefined);
        break;
      case 'gab': {
        const { smaller, bigger } = githubActionBenchmark(files);
        const dir = outDir as string;
        writeFileAtomic(join(dir, 'gab-latency.json'), JSON.stringify(smaller, null, 2) + '\n');
        writeFileAtomic(join(dir, 'gab-throughput.json'), JSON.stringify(bigger, null, 2) + '\n');
        outputs.push({ format, paths: [join(dir, 'gab-latency.json'), join(dir, 'gab-throughput.json')] });
        break;
      }
      case 'html': {
        const path = join(outDir as string, 'report.html');
        writeFileAtomic(path, renderHtml(devices, chartsOnce(), { generatedAt: new Date().toISOString() }));
        outputs.push({ format, paths: [path] });
        break;
      }
      case 'png': {
        const specs = chartsOnce();
        if (!specs.length) throw new UserError('no charts to draw: the results hold no successful cases');
        outputs.push({ format, paths: writeChartPngs(specs, join(outDir as string, 'charts')) });
        break;
      }
    }
  }
  return {
    files: files.map((f) => f.path),
    devices: devices.map((d) => d.device),
    findings: devices.map((d) => ({ device: d.device, findings: findings(d) })),
    outDir,
    charts: (charts ?? []).map((c) => ({ id: c.id, kind: c.kind, title: c.title })),
    outputs,
  };
}
