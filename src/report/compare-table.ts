import { machineDriftNote, type CandidateComparison, type CrossHardwareTable } from './compare.js';
import { caseVerdictsTable, ceilingShiftsTable, deviceMediansTable, suiteVerdictsTable } from './comparison-tables.js';
import { renderTable } from './table.js';

/** Terminal tables of a comparison: per-suite geomeans, then every case with its verdict. */
export function renderComparison(c: CandidateComparison, noisePct: number): string {
  const lines = [
    `${c.candidate} vs ${c.base} (ratio = candidate / base median; noise band ±${noisePct}%; visits p: one-sided rank test of the per-visit medians in the ratio's direction, which slower / faster also need where both runs have visits)`,
    renderTable(suiteVerdictsTable(c)),
    renderTable(caseVerdictsTable(c)),
  ];
  const ceilings = ceilingShiftsTable(c);
  if (ceilings) lines.push(renderTable(ceilings));
  const drift = machineDriftNote(c.ceilings, noisePct);
  if (drift) lines.push(`Warning: ${drift}`);
  if (c.onlyInBase.length) lines.push(`only in base: ${c.onlyInBase.length} case(s)`);
  if (c.onlyInCandidate.length) lines.push(`only in candidate: ${c.onlyInCandidate.length} case(s)`);
  if (c.timedOnOneSide.length) lines.push(`timed on one side only (checked, not timed, on the other): ${c.timedOnOneSide.length} case(s)`);
  return lines.join('\n');
}

export function renderCrossHardware(t: CrossHardwareTable): string {
  return `median GPU time per repeat, per device\n${renderTable(deviceMediansTable(t))}`;
}
