import { machineDriftNote, type CandidateComparison, type CrossHardwareTable } from './compare.js';
import {
  caseVerdictTables,
  ceilingShiftsTable,
  comparisonLegend,
  deviceMediansTables,
  leftOutLine,
  suiteVerdictsTable,
} from './comparison-tables.js';
import { renderTable } from './table.js';
import { TERMINAL_WIDTH, wrapText } from './wrap.js';

/** Terminal tables of a comparison: per-suite geomeans, every case with its verdict per suite, then what was not compared. */
export function renderComparison(c: CandidateComparison, noisePct: number): string {
  const sections = [
    `${wrapText(`${c.candidate} vs ${c.base} (${comparisonLegend(c, noisePct)})`, TERMINAL_WIDTH, '  ')}\n${renderTable(suiteVerdictsTable(c))}`,
    ...caseVerdictTables(c).map((table) => renderTable(table)),
  ];
  const ceilings = ceilingShiftsTable(c);
  if (ceilings) sections.push(renderTable(ceilings));
  const drift = machineDriftNote(c.ceilings, noisePct, c.machine !== null);
  const notes = [
    ...(drift ? [`Warning: ${drift}`] : []),
    ...(c.onlyInBase.length ? [`only in base: ${c.onlyInBase.length} case(s)`] : []),
    ...(c.onlyInCandidate.length ? [`only in candidate: ${c.onlyInCandidate.length} case(s)`] : []),
    ...(c.timedOnOneSide.length ? [`timed on one side only (checked, not timed, on the other): ${c.timedOnOneSide.length} case(s)`] : []),
    ...[leftOutLine(c) ?? []].flat(),
  ];
  if (notes.length) sections.push(notes.map((note) => wrapText(note, TERMINAL_WIDTH, '  ')).join('\n'));
  return sections.join('\n\n');
}

export function renderCrossHardware(t: CrossHardwareTable): string {
  return ['median GPU time per repeat, per device', ...deviceMediansTables(t).map((table) => renderTable(table))].join('\n\n');
}
