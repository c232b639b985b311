/**
 * A report table as built from results, once per section: the terminal (table.ts, compare-table.ts), Markdown
 * (markdown.ts) and the HTML page (html.ts) each render this model their own way.
 */

export interface Column {
  readonly head: string;
  /** Markdown's column alignment; terminal tables are left-aligned throughout. */
  readonly align: 'left' | 'right';
}

export const left = (head: string): Column => ({ head, align: 'left' });
export const right = (head: string): Column => ({ head, align: 'right' });

/**
 * One cell: plain text, or text carrying something each medium shows its own way.
 * - strong: a state nobody may miss (terminal: upper case; Markdown: bold).
 * - reason: why the row has no numbers (terminal: a numbered footnote under the table; Markdown, HTML: after
 *   the text).
 * - caveat: how the value was obtained (terminal: a numbered footnote; Markdown, HTML: left out).
 * - signal: a verdict that is good or bad news (Markdown: a coloured mark before it).
 */
export type Cell =
  | string
  | { readonly kind: 'strong'; readonly text: string }
  | { readonly kind: 'reason'; readonly text: string; readonly note: string }
  | { readonly kind: 'caveat'; readonly text: string; readonly note: string }
  | { readonly kind: 'signal'; readonly text: string; readonly tone: 'good' | 'bad' };

export interface TableModel {
  /** The section's heading (terminal: a line above the table; Markdown: a level-3 heading). */
  readonly title?: string;
  readonly columns: readonly Column[];
  readonly rows: ReadonlyArray<readonly Cell[]>;
  /**
   * How many leading columns name a row (a case's varying axes, a stage): where a terminal is too narrow for
   * every column, the table is cut into parts that each repeat these. 0 or absent: the first column.
   */
  readonly keyColumns?: number;
  /** Prose under the table, one paragraph each (cases left out by a budget, what a column means). */
  readonly notes?: readonly string[];
}

/** A cell's text with any reason written after it: how media without footnotes show a cell. */
export function inlineText(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  return cell.kind === 'reason' ? `${cell.text}: ${cell.note}` : cell.text;
}
