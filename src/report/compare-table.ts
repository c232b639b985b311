import Table from 'cli-table3';
import { machineDriftNote, type CandidateComparison, type CrossHardwareTable } from './compare.js';
import { formatCeiling, formatDuration } from './format.js';

function table(head: string[]): Table.Table {
  return new Table({ head, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
}

const ratio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(3)}x` : '-');

/** Terminal tables of a comparison: per-suite geomeans, then every case with its verdict. */
export function renderComparison(c: CandidateComparison, noisePct: number): string {
  const suites = table(['suite', 'cases', 'geomean ratio', 'faster', 'slower', 'same', 'inconclusive']);
  for (const s of c.suites) suites.push([s.suite, s.cases, ratio(s.geomeanRatio), s.faster, s.slower, s.same, s.inconclusive]);
  const cases = table(['case', 'base', 'candidate', 'ratio', 'CI95', 'p', 'visits p', 'verdict']);
  for (const x of c.cases) {
    const visitsP = x.visits === null ? '-' : (x.ratio >= 1 ? x.visits.slowerP : x.visits.fasterP).toFixed(3);
    cases.push([x.key, formatDuration(x.baseMs), formatDuration(x.candidateMs), ratio(x.ratio), `${x.ci95.lo.toFixed(3)}-${x.ci95.hi.toFixed(3)}`, x.p < 1e-4 ? x.p.toExponential(1) : x.p.toFixed(4), visitsP, x.verdict]);
  }
  const lines = [
    `${c.candidate} vs ${c.base} (ratio = candidate / base median; noise band ±${noisePct}%; visits p: one-sided rank test of the per-visit medians in the ratio's direction, which slower / faster also need where both runs have visits)`, suites.toString(), cases.toString()];
  if (c.ceilings.length) {
    const ceilings = table(['calibrated ceiling', 'base', 'candidate', 'time ratio']);
    for (const s of c.ceilings) ceilings.push([s.label, formatCeiling(s.ceiling, s.base), formatCeiling(s.ceiling, s.candidate), ratio(s.timeRatio)]);
    lines.push(ceilings.toString());
  }
  const drift = machineDriftNote(c.ceilings, noisePct);
  if (drift) lines.push(`Warning: ${drift}`);
  if (c.onlyInBase.length) lines.push(`only in base: ${c.onlyInBase.length} case(s)`);
  if (c.onlyInCandidate.length) lines.push(`only in candidate: ${c.onlyInCandidate.length} case(s)`);
  if (c.timedOnOneSide.length) lines.push(`timed on one side only (checked, not timed, on the other): ${c.timedOnOneSide.length} case(s)`);
  return lines.join('\n');
}

export function renderCrossHardware(t: CrossHardwareTable): string {
  const out = table(['case', ...t.devices.map((d) => d.device)]);
  for (const row of t.rows) out.push([row.key, ...row.medians.map((m) => (m === null ? '-' : formatDuration(m)))]);
  return `median GPU time per repeat, per device\n${out.toString()}`;
}
