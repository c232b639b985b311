import { configDifferenceNotes } from './configs.js';
import type { CandidateComparison, CaseComparison, CrossHardwareTable } from './compare.js';
import { splitAxes, titleWithConstants, varyingCells } from './axes.js';
import { formatCeiling, formatDuration } from './format.js';
import { left, right, type Cell, type TableModel } from './table-model.js';

/** The tables of a comparison (compare.ts): per suite, per case, the calibrated ceilings; and the cross-hardware medians. */

const ratioText = (ratio: number): string => (Number.isFinite(ratio) ? `${ratio.toFixed(3)}x` : '-');

/** What the columns of a comparison mean, for the line above its tables. */
export function comparisonLegend(c: CandidateComparison, noisePct: number): string {
  const ratio =
    c.machine === null
      ? 'ratio = candidate / base median, as measured'
      : `ratio = candidate / base median divided by the machine's own shift, ${ratioText(c.machine)} (the median over the calibration kernels of their time ratio, pooled over every visit; --no-machine-correction judges raw ratios)`;
  return `${ratio}; band: ±${noisePct}%, widened to the spread of either run's own visit medians; visits p: one-sided rank test of the per-visit medians in the ratio's direction, which slower / faster also need where both runs have visits`;
}

export function suiteVerdictsTable(c: CandidateComparison): TableModel {
  return {
    columns: [
      left('suite'),
      right('cases'),
      right('geomean ratio'),
      right('faster'),
      right('slower'),
      right('same'),
      right('inconclusive'),
    ],
    rows: c.suites.map((s) => [
      s.suite,
      String(s.cases),
      ratioText(s.geomeanRatio),
      String(s.faster),
      String(s.slower),
      String(s.same),
      String(s.inconclusive),
    ]),
  };
}

function verdictCell(verdict: CaseComparison['verdict']): Cell {
  if (verdict === 'faster') return { kind: 'signal', text: verdict, tone: 'good' };
  if (verdict === 'slower') return { kind: 'signal', text: verdict, tone: 'bad' };
  return verdict;
}

/** Per suite, each case's verdict: a column per axis that varies in the suite, the constant ones in the title. */
export function caseVerdictTables(c: CandidateComparison): TableModel[] {
  return suitesIn(c.cases).map((suite) => {
    const own = c.cases.filter((x) => x.suite === suite);
    const split = splitAxes(own.map((x) => x.params));
    return {
      title: titleWithConstants(suite, split),
      columns: [
        ...split.varying.map(left),
        right('base'),
        right('candidate'),
        right('ratio'),
        right('CI95'),
        right('p'),
        right('visits p'),
        right('band'),
        left('verdict'),
      ],
      rows: own.map((x) => [
        ...varyingCells(x.params, split),
        formatDuration(x.baseMs),
        formatDuration(x.candidateMs),
        ratioText(x.ratio),
        `${x.ci95.lo.toFixed(3)}-${x.ci95.hi.toFixed(3)}`,
        x.p < 1e-4 ? x.p.toExponential(1) : x.p.toFixed(4),
        // The visit-level test in the ratio's direction.
        x.visits === null ? '-' : (x.ratio >= 1 ? x.visits.slowerP : x.visits.fasterP).toFixed(3),
        `±${Math.round(x.band * 100)}%`,
        verdictCell(x.verdict),
      ]),
      keyColumns: split.varying.length,
    };
  });
}

function suitesIn(items: ReadonlyArray<{ suite: string }>): string[] {
  return [...new Set(items.map((x) => x.suite))];
}

/** `left out by a budget on one side: 3 cases (2 by the base's, 1 by the candidate's)`, or null for none. */
export function leftOutLine(c: CandidateComparison): string | null {
  const n = c.leftOutOnOneSide.length;
  if (n === 0) return null;
  const by = (side: 'base' | 'candidate'): number => c.leftOutOnOneSide.filter((x) => x.leftOutIn === side).length;
  const sides = [by('base') && `${by('base')} by the base's`, by('candidate') && `${by('candidate')} by the candidate's`]
    .filter(Boolean)
    .join(', ');
  return `left out by a budget on one side: ${n} case${n === 1 ? '' : 's'} (${sides}), measured on the other; not compared, no verdict`;
}

/** Null when the two runs share no calibrated ceiling. */
export function ceilingShiftsTable(c: CandidateComparison): TableModel | null {
  if (!c.ceilings.length) return null;
  return {
    columns: [left('calibrated ceiling'), right('base'), right('candidate'), right('time ratio')],
    rows: c.ceilings.map((x) => [x.label, formatCeiling(x.ceiling, x.base), formatCeiling(x.ceiling, x.candidate), ratioText(x.timeRatio)]),
  };
}

/** Per suite, one column per device: each case's median GPU time per repeat, '-' where the device did not measure it. */
export function deviceMediansTables(t: CrossHardwareTable): TableModel[] {
  return suitesIn(t.rows).map((suite) => {
    const own = t.rows.filter((r) => r.suite === suite);
    const split = splitAxes(own.map((r) => r.params));
    const notes = configDifferenceNotes(
      own,
      t.devices.map((d) => d.device),
      split,
    );
    return {
      title: titleWithConstants(suite, split),
      columns: [...split.varying.map(left), ...t.devices.map((d) => right(d.device))],
      rows: own.map((r) => [...varyingCells(r.params, split), ...r.medians.map((m) => (m === null ? '-' : formatDuration(m)))]),
      keyColumns: split.varying.length,
      ...(notes.length && { notes }),
    };
  });
}
