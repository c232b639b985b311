import Table from 'cli-table3';
import type { Ceilings } from '../measure/rates.js';
import type { Measurement, ResultFile } from '../results/schema.js';
import { suitesOf } from './data.js';
import { gemmTables } from './gemm.js';
import { DEFAULT_MEMORY_BUDGET_GB, mlaTables } from './mla.js';
import { caseTable, ceilingsTable, stageSections, type StageSection } from './results-tables.js';
import type { Cell, TableModel } from './table-model.js';

/** Terminal rendering: cli-table3 grids without row separators, footnotes under the table. */

const NO_DISPATCH_CEILINGS: Ceilings = { copyGBs: null, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null };

/** A bare grid: a head row, then the rows, no colours and no lines between rows. */
export function terminalGrid(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const table = new Table({ head: [...head], style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
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

/** The title line, the grid, then the footnotes its cells point to. */
export function renderTable(model: TableModel): string {
  const footnotes = new Footnotes();
  const grid = terminalGrid(
    model.columns.map((column) => column.head),
    model.rows.map((row) => row.map((cell) => terminalCell(cell, footnotes))),
  );
  const notes = footnotes.render();
  return [...(model.title === undefined ? [] : [model.title]), grid, ...(notes ? [notes] : [])].join('\n');
}

export function renderStageSection(section: StageSection): string {
  return `${section.caseLabel}: ${section.timing}\n${renderTable(section.table)}\n${section.gap}`;
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
  return mlaTables(cases, budgetGB).map(renderTable).join('\n\n');
}

/** The GEMM summaries (gemm.ts), or '' when the results hold no GEMM cases. */
export function renderGemmSections(cases: readonly Measurement[], ceilings: Ceilings): string {
  return gemmTables(cases, ceilings).map(renderTable).join('\n\n');
}

export function renderResults(results: ResultFile, options: { memoryBudgetGB?: number } = {}): string {
  const { adapter } = results.environment;
  const header = `${adapter.description || adapter.device} (${adapter.vendor || 'unknown vendor'}, ${adapter.architecture || 'unknown architecture'}) - profile ${results.config.profile}`;
  const sections = [renderMlaSections(results.cases, options.memoryBudgetGB), renderGemmSections(results.cases, results.ceilings)].filter(Boolean).flatMap((section) => ['', section]);
  return [header, '', 'Device ceilings (calibrated in this run)', renderCeilings(results.ceilings), '', renderCaseTables(results.cases, results.ceilings), ...sections].join('\n');
}
