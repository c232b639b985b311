import type { Ceilings } from '../measure/rates.js';
import type { Measurement } from '../results/schema.js';
import { machineDriftNote, type CandidateComparison, type CrossHardwareTable } from './compare.js';
import {
  caseVerdictTables,
  ceilingShiftsTable,
  comparisonLegend,
  deviceMediansTables,
  leftOutLine,
  suiteVerdictsTable,
} from './comparison-tables.js';
import { suitesOf, type DeviceResults } from './data.js';
import { findings, FINDINGS_TITLE, type Finding } from './findings.js';
import { gemmTables } from './gemm.js';
import { DEFAULT_MEMORY_BUDGET_GB, mlaTables } from './mla.js';
import { peerTables } from './peers.js';
import { caseTable, ceilingsTable, stageSections, type StageSection } from './results-tables.js';
import { describeRun } from './run-summary.js';
import { markdownCode, markdownText } from './sanitize.js';
import { inlineText, type Cell, type TableModel } from './table-model.js';

/** A Markdown table cell or heading from text that may come from a results file. */
export const mdCell = markdownText;

export function mdTable(head: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const rule = head.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [head, rule, ...rows].map((row, i) => `| ${(i === 1 ? row : row.map(mdCell)).join(' | ')} |`).join('\n');
}

const TONE_MARK = { good: '🟢', bad: '🔴' } as const;

function markdownCell(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  if (cell.kind === 'strong') return `**${cell.text}**`;
  if (cell.kind === 'signal') return `${TONE_MARK[cell.tone]} ${cell.text}`;
  return inlineText(cell);
}

/** A level-3 heading (with a title), the table (none without rows), then its notes as paragraphs. */
export function markdownTable(model: TableModel): string {
  const table = model.rows.length
    ? mdTable(
        model.columns.map((column) => column.head),
        model.rows.map((row) => row.map(markdownCell)),
        model.columns.map((column) => (column.align === 'right' ? 'r' : 'l')),
      )
    : '';
  return [...(model.title === undefined ? [] : [`### ${mdCell(model.title)}`]), table, ...(model.notes ?? []).map(mdCell)]
    .filter(Boolean)
    .join('\n\n');
}

export function markdownCeilings(ceilings: Ceilings): string {
  return markdownTable(ceilingsTable(ceilings));
}

/** Folded under its case's name: the stage tables are detail. */
export function markdownStageSection(section: StageSection): string {
  return `<details><summary>${mdCell(section.caseLabel)}: stages</summary>\n\n${markdownTable(section.table)}\n\n</details>`;
}

export function markdownCaseTables(cases: Measurement[], ceilings: Ceilings): string {
  return suitesOf(cases)
    .map((suite) => {
      const own = cases.filter((c) => c.suite === suite);
      return [markdownTable(caseTable(suite, own)), ...stageSections(own, ceilings).map(markdownStageSection)].join('\n\n');
    })
    .join('\n\n');
}

/** The MLA summaries (mla.ts), or '' when the cases hold no MLA data. */
export function markdownMlaSections(cases: readonly Measurement[], budgetGB = DEFAULT_MEMORY_BUDGET_GB): string {
  return mlaTables(cases, budgetGB).map(markdownTable).join('\n\n');
}

/** One finding as a list item: subject, where it holds, headline. */
export function markdownFinding(finding: Finding): string {
  return `- **${mdCell(finding.subject)}**${finding.where ? ` (${mdCell(finding.where)})` : ''}: ${mdCell(finding.headline)}`;
}

/** What a finding was computed from: its numbers and its cases. */
function markdownFindingBasis(finding: Finding): string {
  const numbers = finding.numbers.length
    ? mdTable(
        ['number', 'value'],
        finding.numbers.map((n) => [n.label, n.value]),
        ['l', 'r'],
      )
    : '';
  const cases = finding.sources.length ? `Cases: ${finding.sources.map(markdownCode).join(', ')}` : '';
  return [`**${mdCell(finding.subject)}**`, numbers, cases].filter(Boolean).join('\n\n');
}

/** The findings as a list, then, folded, the numbers and cases behind each. */
export function markdownFindings(list: readonly Finding[]): string {
  const based = list.filter((f) => f.numbers.length || f.sources.length);
  const basis = based.length
    ? [
        '',
        '<details><summary>The numbers and cases behind each finding</summary>',
        '',
        based.map(markdownFindingBasis).join('\n\n'),
        '',
        '</details>',
      ]
    : [];
  return [`### ${FINDINGS_TITLE}`, '', ...list.map(markdownFinding), ...basis].join('\n');
}

/** A report for CI job summaries: per device, the findings first, then the MLA summaries, its ceilings and a table per suite. */
export function markdownReport(devices: DeviceResults[]): string {
  const parts = ['# mla-bench report', ''];
  for (const d of devices) {
    parts.push(
      `## ${mdCell(d.device)}`,
      '',
      `Results: ${d.runs.map((run) => `${markdownCode(run.file)} (${mdCell(describeRun(run))})`).join(', ')}`,
      '',
    );
    parts.push(markdownFindings(findings(d)), '');
    const mla = markdownMlaSections(d.cases);
    if (mla) parts.push(mla, '');
    parts.push('### Device ceilings (calibrated)', '', markdownCeilings(d.ceilings), '', markdownCaseTables(d.cases, d.ceilings), '');
    for (const table of peerTables(d.cases)) parts.push(markdownTable(table), '');
    const gemm = gemmTables(d.cases, d.ceilings).map(markdownTable).join('\n\n');
    if (gemm) parts.push(gemm, '');
  }
  return parts.join('\n');
}

const capitalised = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

export function markdownComparison(comparisons: CandidateComparison[], noisePct: number): string {
  const parts = ['# mla-bench comparison', ''];
  for (const c of comparisons) {
    parts.push(
      `## ${markdownCode(c.candidate)} vs ${markdownCode(c.base)}`,
      '',
      `${mdCell(capitalised(comparisonLegend(c, noisePct)))}.`,
      '',
    );
    parts.push(markdownTable(suiteVerdictsTable(c)), '', ...caseVerdictTables(c).flatMap((table) => [markdownTable(table), '']));
    const ceilings = ceilingShiftsTable(c);
    if (ceilings) parts.push(markdownTable(ceilings), '');
    const drift = machineDriftNote(c.ceilings, noisePct, c.machine !== null);
    if (drift) parts.push(`> **Warning:** ${drift}.`, '');
    if (c.onlyInBase.length) parts.push(`Only in base: ${c.onlyInBase.map(markdownCode).join(', ')}`, '');
    if (c.onlyInCandidate.length) parts.push(`Only in candidate: ${c.onlyInCandidate.map(markdownCode).join(', ')}`, '');
    if (c.timedOnOneSide.length)
      parts.push(`Timed on one side only (checked, not timed, on the other): ${c.timedOnOneSide.map(markdownCode).join(', ')}`, '');
    const leftOut = leftOutLine(c);
    if (leftOut) parts.push(`${mdCell(capitalised(leftOut))}: ${c.leftOutOnOneSide.map((x) => markdownCode(x.key)).join(', ')}`, '');
  }
  return parts.join('\n');
}

export function markdownCrossHardware(table: CrossHardwareTable): string {
  return [
    '# mla-bench cross-hardware comparison',
    '',
    'Median GPU time per repeat.',
    '',
    ...deviceMediansTables(table).flatMap((suite) => [markdownTable(suite), '']),
  ].join('\n');
}
