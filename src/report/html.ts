import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chartConfigScript, reportPageScript } from './chart-assets.js';
import type { ChartSpec } from './charts.js';
import { suitesOf, type DeviceResults } from './data.js';
import { ceilingRows } from './format.js';
import { caseTable } from './results-tables.js';
import { inlineText, type Cell, type TableModel } from './table-model.js';

/** Chart.js's UMD build, read from the installed package (inlined so the report works offline). */
export function chartJsUmd(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('chart.js');
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

function htmlCell(cell: Cell): string {
  if (typeof cell === 'string') return escapeHtml(cell);
  switch (cell.kind) {
    case 'strong':
      return `<strong>${escapeHtml(cell.text)}</strong>`;
    case 'reason':
      return escapeHtml(inlineText(cell));
    case 'caveat':
      return `<span title="${escapeHtml(cell.note)}">${escapeHtml(cell.text)}</span>`;
    case 'signal':
      return `<span class="${cell.tone}">${escapeHtml(cell.text)}</span>`;
  }
}

/** A row's class: rows that explain why they have no numbers are greyed, failed numerics reddened. */
function rowClass(row: readonly Cell[]): string {
  if (row.some((cell) => typeof cell !== 'string' && cell.kind === 'strong')) return ' class="failed"';
  if (row.some((cell) => typeof cell !== 'string' && cell.kind === 'reason')) return ' class="muted"';
  return '';
}

/** A table model as an HTML table: its title the caption, its notes paragraphs under it. */
export function htmlTable(model: TableModel, className = 'cases'): string {
  const align = (i: number): string => (model.columns[i]?.align === 'right' ? ' class="num"' : '');
  const head = model.columns.map((column, i) => `<th${align(i)}>${escapeHtml(column.head)}</th>`).join('');
  const rows = model.rows.map((row) => `<tr${rowClass(row)}>${row.map((cell, i) => `<td${align(i)}>${htmlCell(cell)}</td>`).join('')}</tr>`).join('\n');
  const caption = model.title === undefined ? '' : `<caption>${escapeHtml(model.title)}</caption>`;
  const table = model.rows.length ? `<table class="${className}">${caption}<thead><tr>${head}</tr></thead>\n<tbody>${rows}</tbody></table>` : model.title === undefined ? '' : `<p class="caption">${escapeHtml(model.title)}</p>`;
  return table + (model.notes ?? []).map((note) => `<p class="note">${escapeHtml(note)}</p>`).join('');
}

function deviceSection(d: DeviceResults): string {
  const ceilings = ceilingRows(d.ceilings)
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join('');
  const suites = suitesOf(d.cases)
    .map((suite) => htmlTable(caseTable(suite, d.cases.filter((m) => m.suite === suite))))
    .join('\n');
  return `<section><h2>${escapeHtml(d.device)}</h2>
<p class="files">${d.files.map((f) => `<code>${escapeHtml(f)}</code>`).join(', ')}</p>
<table class="ceilings"><caption>Device ceilings (calibrated)</caption>${ceilings}</table>
${suites}</section>`;
}

/** One self-contained page: tables per device and suite, and every chart, drawn by the inlined Chart.js. */
export function renderHtml(devices: readonly DeviceResults[], charts: readonly ChartSpec[], opts: { title?: string; generatedAt?: string } = {}): string {
  const title = opts.title ?? 'mla-bench report';
  const chartData = charts.map((c) => ({ id: c.id, kind: c.kind, title: c.title, height: c.height, config: c.config }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI','DejaVu Sans',sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#111;background:#fff}
h1{font-size:26px}h2{font-size:21px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th.num,td.num{text-align:right}caption,.caption{text-align:left;font-weight:600;padding:4px 0}
tr.muted td{color:#777}tr.failed td{color:#b00}.good{color:#070}.bad{color:#b00}p.note{margin:-8px 0 16px;color:#444;font-size:14px}
.chart{position:relative;width:100%;margin:20px 0;border:1px solid #eee}
nav a{margin-right:12px}code{font-size:13px}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${opts.generatedAt ? `Generated ${escapeHtml(opts.generatedAt)}. ` : ''}${charts.length} charts; hover a point for its value. Times are median GPU time per repeat.</p>
<h2>Charts</h2>
<div id="charts"></div>
${devices.map(deviceSection).join('\n')}
<script>${chartJsUmd()}</script>
<script id="chart-data" type="application/json">${scriptJson(chartData)}</script>
<script>
${chartConfigScript()}</script>
<script>
${reportPageScript()}</script>
</body></html>
`;
}
