import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chartConfigScript, reportPageScript } from './chart-assets.js';
import type { ChartSpec } from './charts.js';
import { suitesOf, type DeviceResults } from './data.js';
import { findings, FINDINGS_TITLE, type Finding } from './findings.js';
import { mlaTables } from './mla.js';
import { caseTable, ceilingsTable, stageSections, type StageSection } from './results-tables.js';
import { describeRun } from './run-summary.js';
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
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
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

/** A table model as an HTML table: its title above it, its notes paragraphs under it. */
export function htmlTable(model: TableModel, className = 'cases'): string {
  const align = (i: number): string => (model.columns[i]?.align === 'right' ? ' class="num"' : '');
  const head = model.columns.map((column, i) => `<th${align(i)}>${escapeHtml(column.head)}</th>`).join('');
  const rows = model.rows
    .map((row) => `<tr${rowClass(row)}>${row.map((cell, i) => `<td${align(i)}>${htmlCell(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  // The title above the table, not its caption: a caption is only as wide as its table, and titles run long.
  const title = model.title === undefined ? '' : `<p class="caption">${escapeHtml(model.title)}</p>`;
  const table = model.rows.length ? `<table class="${className}"><thead><tr>${head}</tr></thead>\n<tbody>${rows}</tbody></table>` : '';
  return title + table + (model.notes ?? []).map((note) => `<p class="note">${escapeHtml(note)}</p>`).join('');
}

/** The findings as a list, each with its numbers and cases folded under it. */
export function htmlFindings(list: readonly Finding[]): string {
  const items = list.map((f) => {
    const numbers = f.numbers.length
      ? `<table class="basis"><tbody>${f.numbers.map((n) => `<tr><td>${escapeHtml(n.label)}</td><td class="num">${escapeHtml(n.value)}</td></tr>`).join('')}</tbody></table>`
      : '';
    const cases = f.sources.length ? `<p class="cases">${f.sources.map((key) => `<code>${escapeHtml(key)}</code>`).join(' ')}</p>` : '';
    const basis = numbers || cases ? `<details><summary>numbers and cases</summary>${numbers}${cases}</details>` : '';
    return `<li${f.measured ? '' : ' class="unmeasured"'}><strong>${escapeHtml(f.subject)}</strong>${f.where ? ` (${escapeHtml(f.where)})` : ''}: ${escapeHtml(f.headline)}${basis}</li>`;
  });
  return `<section class="findings"><h3>${escapeHtml(FINDINGS_TITLE)}</h3><ul>${items.join('\n')}</ul></section>`;
}

/** A multi-stage case's stage table, folded under its name: detail under its suite's table. */
function htmlStageSection(section: StageSection): string {
  return `<details class="stages"><summary>${escapeHtml(section.caseLabel)}: stages</summary><p class="note">${escapeHtml(section.timing)}</p>${htmlTable(section.table, 'stages')}<p class="note">${escapeHtml(section.gap)}</p></details>`;
}

/** A device: its run, its findings, the MLA summaries, its ceilings, then a table per suite with its stages. */
function deviceSection(d: DeviceResults): string {
  const suites = suitesOf(d.cases)
    .map((suite) => {
      const own = d.cases.filter((m) => m.suite === suite);
      return [htmlTable(caseTable(suite, own)), ...stageSections(own, d.ceilings).map(htmlStageSection)].join('\n');
    })
    .join('\n');
  return `<section class="device"><h2>${escapeHtml(d.device)}</h2>
<p class="files">${d.runs.map((run) => `<code>${escapeHtml(run.file)}</code> (${escapeHtml(describeRun(run))})`).join(', ')}</p>
${htmlFindings(findings(d))}
${mlaTables(d.cases)
  .map((table) => htmlTable(table, 'summary'))
  .join('\n')}
${htmlTable({ ...ceilingsTable(d.ceilings), title: 'Device ceilings (calibrated in this run)' }, 'ceilings')}
${suites}</section>`;
}

/** One self-contained page: per device the findings, then the tables; then every chart, drawn by the inlined Chart.js. */
export function renderHtml(
  devices: readonly DeviceResults[],
  charts: readonly ChartSpec[],
  opts: { title?: string; generatedAt?: string } = {},
): string {
  const title = opts.title ?? 'mla-bench report';
  const chartData = charts.map((c) => ({ id: c.id, kind: c.kind, title: c.title, height: c.height, config: c.config }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,'Segoe UI','DejaVu Sans',sans-serif;margin:0 auto;max-width:1200px;padding:16px 24px;color:#111;background:#fff}
h1{font-size:26px}h2{font-size:21px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:17px;margin:20px 0 8px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
th.num,td.num{text-align:right}caption,.caption{text-align:left;font-weight:600;padding:4px 0}p.caption{margin:16px 0 0}
tr.muted td{color:#777}tr.failed td{color:#b00}.good{color:#070}.bad{color:#b00}p.note{margin:-8px 0 16px;color:#444;font-size:14px}
.findings ul{padding-left:20px;line-height:1.45}.findings li{margin:4px 0}.findings li.unmeasured{color:#666;font-style:italic}
.findings details{font-size:13px;color:#333}.findings table.basis{margin:4px 0}.cases code{margin-right:8px}
details.stages{margin:-8px 0 16px}details.stages table{margin-top:4px}
.chart{position:relative;width:100%;margin:20px 0;border:1px solid #eee}
code{font-size:13px}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${opts.generatedAt ? `Generated ${escapeHtml(opts.generatedAt)}. ` : ''}The findings, then the tables, then ${charts.length} charts (hover a point for its value). Times are median GPU time per repeat.</p>
${devices.map(deviceSection).join('\n')}
<h2>Charts</h2>
<div id="charts"></div>
<script>${chartJsUmd()}</script>
<script id="chart-data" type="application/json">${scriptJson(chartData)}</script>
<script>
${chartConfigScript()}</script>
<script>
${reportPageScript()}</script>
</body></html>
`;
}
