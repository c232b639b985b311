/** Fitting terminal text to a width: every line a report prints fits a 120-column terminal. */

export const TERMINAL_WIDTH = 120;

/** Columns a line takes: one per code point (report text is ASCII, box drawing and a few symbols such as ±). */
export function displayWidth(text: string): number {
  return [...text].length;
}

/**
 * Each line of `text` broken at spaces into lines of at most `width` columns, the continuations indented by
 * `indent`; a word longer than a whole line is cut where the line ends.
 */
export function wrapText(text: string, width = TERMINAL_WIDTH, indent = ''): string {
  if (!(width > displayWidth(indent))) throw new RangeError(`cannot wrap to ${width} columns after an indent of ${displayWidth(indent)}`);
  return text
    .split('\n')
    .map((line) => wrapLine(line, width, indent))
    .join('\n');
}

function wrapLine(line: string, width: number, indent: string): string {
  if (displayWidth(line) <= width) return line;
  const lead = /^ */.exec(line)?.[0] ?? '';
  const words = line.slice(lead.length).split(/ +/);
  const lines: string[] = [];
  let current = lead;
  let prefix = lead;
  for (const word of words) {
    const sep = current === prefix ? '' : ' ';
    if (displayWidth(current) + sep.length + displayWidth(word) <= width) {
      current += sep + word;
      continue;
    }
    if (current !== prefix) {
      lines.push(current);
      current = prefix = indent;
    }
    let rest = word;
    // A word wider than a line: cut it.
    while (displayWidth(current) + displayWidth(rest) > width) {
      const room = width - displayWidth(current);
      lines.push(current + [...rest].slice(0, room).join(''));
      rest = [...rest].slice(room).join('');
      current = prefix = indent;
    }
    current += rest;
  }
  if (current !== prefix || lines.length === 0) lines.push(current);
  return lines.join('\n');
}
