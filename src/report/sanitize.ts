/**
 * Strings in reports come from results files, and results files come from other machines: what a string may
 * do is decided here, once per output kind.
 */

/** C0 and C1 controls (ESC among them) and the bidirectional overrides, which reorder what a reader sees. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** For a terminal: no escape sequence, bell or bidi override reaches it; newlines and tabs stay. */
export function terminalText(text: string): string {
  return text.replace(CONTROL, '');
}

/**
 * For a Markdown table cell or heading: no raw HTML, no link or code span opened by the text, no table cell
 * broken out of, on one line.
 */
export function markdownText(text: string): string {
  return text
    .replace(CONTROL, '')
    .replace(/\r?\n|\t/g, ' ')
    .replace(/[\\`[\]|]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/** Cells that spreadsheets would run as a formula (=, +, -, @, and tab or CR before them). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * A CSV field, RFC 4180 quoted where needed; a text cell that a spreadsheet would evaluate is prefixed with
 * an apostrophe (OWASP's CSV-injection advice). Numbers are written as numbers.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = String(value).replace(CONTROL, '');
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A Markdown code span holding any text: its fence is longer than any run of backticks in it (CommonMark 6.1). */
export function markdownCode(text: string): string {
  const clean = text.replace(CONTROL, '').replace(/\r?\n|\t/g, ' ');
  const longest = Math.max(0, ...(clean.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  const pad = clean.startsWith('`') || clean.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${clean}${pad}${fence}`;
}
