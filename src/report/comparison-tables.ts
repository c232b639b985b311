import type { CandidateComparison, CaseComparison, CrossHardwareTable } from './compare.js';
import { formatCeiling, formatDuration } from './format.js';
import { left, right, type Cell, type TableModel } from './table-model.js';

/** The tables of a comparison (compare.ts): per suite, per case, the calibrated ceilings; and the cross-hardware medians. */

const ratioText = (ratio: number): string => (Number.isFinite(ratio) ? `${ratio.toFixed(3)}x` : '-');

export function suiteVerdictsTable(c: CandidateComparison): TableModel {
  return {
    columns: [left('suite'), right('cases'), right('geomean ratio'), right('faster'), right('slower'), right('same'), right('inconclusive')],
    rows: c.suites.map((s) => [s.suite, String(s.cases), ratioText(s.geomeanRatio), String(s.faster), String(s.slower), String(s.same), String(s.inconclusive)]),
  };
}

function verdictCell(verdict: CaseComparison['verdict']): Cell {
  if (verdict === 'faster') return { kind: 'signal', text: verdict, tone: 'good' };
  if (verdict === 'slower') return { kind: 'signal', text: verdict, tone: 'bad' };
  return verdict;
}

export function caseVerdictsTable(c: CandidateComparison): TableModel {
  return {
    columns: [left('case'), right('base'), right('candidate'), right('ratio'), right('CI95'), right('p'), right('visits p'), left('verdict')],
    rows: c.cases.map((x) => [
      x.key,
      formatDuration(x.baseMs),
      formatDuration(x.candidateMs),
      ratioText(x.ratio),
      `${x.ci95.lo.toFixed(3)}-${x.ci95.hi.toFixed(3)}`,
      x.p < 1e-4 ? x.p.toExponential(1) : x.p.toFixed(4),
      // The visit-level test in the ratio's direction.
      x.visits === null ? '-' : (x.ratio >= 1 ? x.visits.slowerP : x.visits.fasterP).toFixed(3),
      verdictCell(x.verdict),
    ]),
  };
}

/** Null when the two runs share no calibrated ceiling. */
export function ceilingShiftsTable(c: CandidateComparison): TableModel | null {
  if (!c.ceilings.length) return null;
  return {
    columns: [left('calibrated ceiling'), right('base'), right('candidate'), right('time ratio')],
    rows: c.ceilings.map((x) => [x.label, formatCeiling(x.ceiling, x.base), formatCeiling(x.ceiling, x.candidate), ratioText(x.timeRatio)]),
  };
}

/** One column per device: each case's median GPU time per repeat, '-' where the device did not measure it. */
export function deviceMediansTable(t: CrossHardwareTable): TableModel {
  return {
    columns: [left('case'), ...t.devices.map((d) => right(d.device))],
    rows: t.rows.map((r) => [r.key, ...r.medians.map((m) => (m === null ? '-' : formatDuration(m)))]),
  };
}
