import Table from 'cli-table3';
import type { Ceilings } from '../measure/rates.js';
import type { Measurement, ResultFile } from '../results/schema.js';
import { suitesOf } from './data.js';
import { findingLine, findings, FINDINGS_TITLE, type Finding } from './findings.js';
import { gemmTables } from './gemm.js';
import { DEFAULT_MEMORY_BUDGET_GB, mlaTables } from './mla.js';
import { caseTable, ceilingsTable, stageSections, type StageSection } from './results-tables.js';
import { describeRun, runSummary } from './run-summary.js';
import type { Cell, TableModel } from './table-model.js';
import { peerTables } from './peers.js';
import { displayWidth, TERMINAL_WIDTH, wrapText } from './wrap.js';

/** Terminal rendering: cli-table3 grids without row separators, footnotes under the table. */

const NO_DISPATCH_CEILINGS: Ceilings = { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null };

/** A bare grid: a head row, then the rows, no colours and no lines between rows. */
export function terminalGrid(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const table = new Table({
    head: [...head],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push([...row]);
  return table.toString();
}

/** Numbers the distinct notes of a table, so that its columns stay narrow. */
class Footnotes {
  private readonly notes: string[] = [];
  mark(text: string): string {
    const at = this.notes.indexOf(text);
    return `[${at < 0 ? this.notes.push(text) : at + 1}]`;
  }
  render(): string {
    return this.notes.map((note, i) => `[${i + 1}] ${note}`).join('\n');
  }
}

function terminalCell(cell: Cell, footnotes: Footnotes): string {
  if (typeof cell === 'string') return cell;
  switch (cell.kind) {
    case 'strong':
      return cell.text.toUpperCase();
    case 'reason':
    case 'caveat':
      return `${cell.text} ${footnotes.mark(cell.note)}`;
    case 'signal':
      return cell.text;
  }
}

/** Columns a grid cell takes: its text and one space of padding each side. */
function cellWidth(text: string): number {
  return Math.max(...text.split('\n').map(displayWidth)) + 2;
}

/**
 * The columns of each part a table is cut into so that every part fits `width`: all of them where they fit,
 * else the key columns in every part with as many of the rest as fit beside them.
 */
export function columnParts(
  head: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  keyColumns: number,
  width: number,
): number[][] {
  const widths = head.map((h, i) => Math.max(cellWidth(h), ...rows.map((row) => cellWidth(row[i] ?? ''))));
  const gridWidth = (columns: readonly number[]): number => columns.reduce((sum, i) => sum + (widths[i] as number), 0) + columns.length + 1;
  const all = head.map((_, i) => i);
  const keys = all.slice(0, Math.min(Math.max(1, keyColumns), head.length));
  if (gridWidth(all) <= width || keys.length >= head.length) return [all];
  const parts: number[][] = [];
  let part = [...keys];
  for (const column of all.slice(keys.length)) {
    if (part.length > keys.length && gridWidth([...part, column]) > width) {
      parts.push(part);
      part = [...keys];
    }
    part.push(column);
  }
  parts.push(part);
  return parts;
}

/**
 * The title line, the grid, then the notes and the footnotes its cells point to; prose wrapped to `width`,
 * and a grid wider than `width` cut into parts that each repeat the key columns.
 */
export function renderTable(model: TableModel, width = TERMINAL_WIDTH): string {
  const footnotes = new Footnotes();
  const head = model.columns.map((column) => column.head);
  const rows = model.rows.map((row) => row.map((cell) => terminalCell(cell, footnotes)));
  const grids =
    rows.length === 0
      ? []
      : columnParts(head, rows, model.keyColumns ?? 1, width).map((columns) =>
          terminalGrid(
            columns.map((i) => head[i] as string),
            rows.map((row) => columns.map((i) => row[i] ?? '')),
          ),
        );
  const notes = footnotes.render();
  return [
    ...(model.title === undefined ? [] : [wrapText(model.title, width, '  ')]),
    ...grids,
    ...(model.notes ?? []).map((note) => wrapText(note, width, '  ')),
    ...(notes ? [wrapText(notes, width, '    ')] : []),
  ].join('\n');
}

export function renderStageSection(section: StageSection): string {
  return [
    wrapText(`${section.caseLabel}: ${section.timing}`, TERMINAL_WIDTH, '  '),
    renderTable(section.table),
    wrapText(section.gap, TERMINAL_WIDTH, '  '),
  ].join('\n');
}

/** One table per suite, each followed by the stage tables of its multi-stage cases. */
export function renderCaseTables(cases: Measurement[], ceilings: Ceilings = NO_DISPATCH_CEILINGS): string {
  return suitesOf(cases)
    .map((suite) => {
      const own = cases.filter((c) => c.suite === suite);
      return [renderTable(caseTable(suite, own)), ...stageSections(own, ceilings).map(renderStageSection)].join('\n\n');
    })
    .join('\n\n');
}

export function renderCeilings(ceilings: Ceilings): string {
  return renderTable(ceilingsTable(ceilings));
}

/** The MLA summaries (mla.ts), or '' when the results hold no MLA cases. */
export function renderMlaSections(cases: readonly Measurement[], budgetGB = DEFAULT_MEMORY_BUDGET_GB): string {
  return mlaTables(cases, budgetGB)
    .map((table) => renderTable(table))
    .join('\n\n');
}

/** The GEMM summaries (gemm.ts), or '' when the results hold no GEMM cases. */
export function renderGemmSections(cases: readonly Measurement[], ceilings: Ceilings): string {
  return gemmTables(cases, ceilings)
    .map((table) => renderTable(table))
    .join('\n\n');
}

/** The findings as a list, each one or two lines. */
export function renderFindings(list: readonly Finding[], width = TERMINAL_WIDTH): string {
  return [FINDINGS_TITLE, ...list.map((f) => wrapText(`- ${findingLine(f)}`, width, '  '))].join('\n');
}

/** The device, how the run was set up and what it left out: the report's first line. */
export function runHeader(results: ResultFile, file = ''): string {
  const { adapter } = results.environment;
  return `${adapter.description || adapter.device} (${adapter.vendor || 'unknown vendor'}, ${adapter.architecture || 'unknown architecture'}) - ${describeRun(runSummary(file, results))}`;
}

/** A results file for the terminal: the findings first, then the MLA summaries, the ceilings and a table per suite. */
export function renderResults(results: ResultFile, options: { memoryBudgetGB?: number } = {}): string {
  const sections = [renderMlaSections(results.cases, options.memoryBudgetGB), renderGemmSections(results.cases, results.ceilings)].filter(
    Boolean,
  );
  return [
    wrapText(runHeader(results), TERMINAL_WIDTH, '  '),
    '',
    renderFindings(findings(results, options.memoryBudgetGB)),
    ...sections.flatMap((section) => ['', section]),
    '',
    'Device ceilings (calibrated in this run)',
    renderCeilings(results.ceilings),
    '',
    renderCaseTables(results.cases, results.ceilings),
    ...peerTables(results.cases).flatMap((table) => ['', renderTable(table)]),
  ].join('\n');
}
