import { quantile } from '../measure/statistics.js';
import type { Measurement, OkMeasurement, PeerResult } from '../results/schema.js';
import { describeCase } from '../suites/expand.js';
import type { ChartSpec } from './charts.js';
import { okCases, type DeviceResults, type LoadedResults } from './data.js';
import { formatDuration, formatError } from './format.js';
import { splitAxes, titleWithConstants, varyingCells, type AxisSplit } from './axes.js';
import { left, right, type Cell, type TableModel } from './table-model.js';

/**
 * Peers (`run --peer`): each timed case beside another runtime's operator on the same adapter and inputs.
 * The ratio is the peer's operator-kernel time (its own GPU timestamps) over the case's GPU time per repeat: above 1,
 * mla-bench is faster. Paired by visit where both were timed in every visit (each visit's peer median over the
 * case's median of the same visit, the median of those), since a shared machine drifts between visits; else the
 * ratio of the pooled medians. A peer that failed numerics shows as failing, with no time or ratio; the
 * note under the table gives its kernels' own times where they were taken.
 */

export interface PeerRow {
  measurement: OkMeasurement;
  entry: PeerResult;
}

/** Peer names present in the cases, in first-seen order. */
export function peerNames(cases: readonly Measurement[]): string[] {
  return [...new Set(okCases(cases).flatMap((c) => (c.peers ?? []).map((p) => p.peer)))];
}

/** Each case's entries for the peer: the case's own, then one per stage where the peer compares stages. */
export function peerRows(cases: readonly Measurement[], peer: string): PeerRow[] {
  return okCases(cases).flatMap((measurement) =>
    (measurement.peers ?? []).filter((p) => p.peer === peer).map((entry) => ({ measurement, entry })),
  );
}

/** mla-bench's median for what the entry ran: the case end to end, or the entry's stage timed in the pipeline. */
export function oursMedian(measurement: OkMeasurement, entry: PeerResult): number | null {
  if (entry.stage === undefined) return measurement.timing.gpu.median;
  return measurement.stages?.find((stage) => stage.name === entry.stage)?.gpu.median ?? null;
}

/** Peer operator-kernel time / mla-bench's (the case's, or the stage's), where both exist: paired by visit where it can. */
export function peerRatio(measurement: OkMeasurement, entry: PeerResult): number | null {
  const ours = oursMedian(measurement, entry);
  if (entry.status !== 'ok' || ours === null || ours <= 0) return null;
  const oursByVisit = entry.stage === undefined ? measurement.timing.visitMediansMs : undefined;
  const peerByVisit = entry.visitMedians.map((visit) => visit.kernelMs);
  if (oursByVisit && oursByVisit.length > 1 && oursByVisit.length === peerByVisit.length && oursByVisit.every((ms) => ms > 0))
    return quantile(
      peerByVisit.map((ms, i) => ms / oursByVisit[i]!).sort((a, b) => a - b),
      0.5,
    );
  return entry.kernels.operator.stats.median / ours;
}

/** A peer entry's identity within its case: the peer, and the stage for a per-stage entry. */
export function peerEntryName(entry: PeerResult): string {
  return entry.stage === undefined ? entry.peer : `${entry.peer} ${entry.stage}`;
}

function worstError(entry: Extract<PeerResult, { numerics: unknown }>): string {
  const check = entry.numerics.checks[0];
  return check ? `max abs ${formatError(check.maxAbsError)}, rel ${formatError(check.normRelError ?? check.maxRelError)}` : '';
}

/** The check's norm-wise relative error (its max relative error in files without one). */
function shortError(entry: Extract<PeerResult, { numerics: unknown }>): string {
  const check = entry.numerics.checks[0];
  return check ? formatError(check.normRelError ?? check.maxRelError) : '';
}

const programTimes = (programs: readonly { program: string; stats: { median: number } }[]): string =>
  programs.map((p) => `${p.program} ${formatDuration(p.stats.median)}`).join(', ');

/** The error, and the failing kernels' own times where they were taken (data about them, never a result). */
function failingNote(entry: Extract<PeerResult, { status: 'numerics-failed' }>): string {
  const error = `${entry.operator}: ${worstError(entry)}`;
  const kernels = entry.failingKernels;
  if (!kernels) return error;
  const visits = kernels.visitMediansMs.map((ms) => formatDuration(ms)).join(', ');
  return `${error}; its kernels (wrong output): ${programTimes(kernels.programs)}; operator kernels per visit ${visits}`;
}

function peerCells(row: PeerRow, split: AxisSplit, staged: boolean): Cell[] {
  const { measurement, entry } = row;
  const median = oursMedian(measurement, entry);
  const ours = median === null ? '-' : formatDuration(median);
  const label = [...varyingCells(measurement.params, split), ...(staged ? [entry.stage ?? 'whole case'] : [])];
  switch (entry.status) {
    case 'ok': {
      const ratio = peerRatio(measurement, entry);
      const programs = programTimes(entry.kernels.programs);
      return [
        ...label,
        ours,
        { kind: 'caveat', text: formatDuration(entry.kernels.operator.stats.median), note: `${entry.operator}: ${programs}` },
        entry.kernels.beyond ? formatDuration(entry.kernels.beyond.stats.median) : '-',
        formatDuration(entry.wall.netMedianMs),
        ratio === null ? '-' : { kind: 'signal', text: `${ratio.toFixed(2)}x`, tone: ratio >= 1 ? 'good' : 'bad' },
        { kind: 'signal', text: `ok ${shortError(entry)}`, tone: 'good' },
      ];
    }
    case 'numerics-failed':
      return [...label, ours, '-', '-', '-', '-', { kind: 'reason', text: 'FAILS NUMERICS', note: failingNote(entry) }];
    case 'unsupported':
      return [...label, ours, '-', '-', '-', '-', { kind: 'reason', text: 'no counterpart', note: entry.reason }];
    case 'error':
      return [...label, ours, '-', '-', '-', '-', { kind: 'reason', text: 'error', note: entry.message }];
  }
}

const PEER_COLUMNS = [
  right('mla-bench'),
  right('peer kernels'),
  right('peer other'),
  right('peer wall'),
  right('peer/ours'),
  left('peer check'),
];
const STAGE_NOTE =
  "stage: a row per stage compares the peer's MatMul nodes for the stage's GEMMs (each checked against float64 of its own operands) with mla-bench's stage timed in its pipeline, which can also hold a small non-GEMM dispatch (RMSNorm, a RoPE copy)";
const PEER_NOTE =
  "peer kernels: the peer operator's own kernels (attention, MatMul; its own GPU timestamps); peer other: its kernels beyond them (e.g. a cache copy); peer wall: wall time per run less an identity model's; peer/ours: peer kernels / mla-bench median (above 1, mla-bench is faster); peer check: its output against the case's float64 reference (norm-wise error)";

/**
 * One table per peer and suite: mla-bench median, the peer's kernel / beyond-operator / wall medians, the ratio,
 * numerics; the axes that vary across the suite's cases as columns, the constant ones in the title.
 */
export function peerTables(cases: readonly Measurement[]): TableModel[] {
  return peerNames(cases).flatMap((peer) => {
    const rows = peerRows(cases, peer);
    const version = rows[0]?.entry.version ?? '';
    const suites = [...new Set(rows.map((row) => row.measurement.suite))];
    return suites.map((suite): TableModel => {
      const own = rows.filter((row) => row.measurement.suite === suite);
      const split = splitAxes(own.map((row) => row.measurement.params));
      const staged = own.some((row) => row.entry.stage !== undefined);
      return {
        title: titleWithConstants(`Peer ${peer} ${version} on ${suite}`, split),
        columns: [...split.varying.map(left), ...(staged ? [left('stage')] : []), ...PEER_COLUMNS],
        rows: own.map((row) => peerCells(row, split, staged)),
        keyColumns: split.varying.length + (staged ? 1 : 0),
        notes: staged ? [PEER_NOTE, STAGE_NOTE] : [PEER_NOTE],
      };
    });
  });
}

/** A bar per case: the peer / mla-bench ratio (log scale; 1 is parity), one chart per peer and device. */
export function peerRatioCharts(d: DeviceResults): ChartSpec[] {
  return peerNames(d.cases).flatMap((peer): ChartSpec[] => {
    const timed = peerRows(d.cases, peer).flatMap((row) => {
      const ratio = peerRatio(row.measurement, row.entry);
      return ratio === null ? [] : [{ measurement: row.measurement, ratio, stage: row.entry.stage }];
    });
    if (timed.length === 0) return [];
    // Labels name only the axes that differ between the bars (and the suite): long keys would crowd the bars out.
    const axes = [...new Set(timed.flatMap((r) => Object.keys(r.measurement.params)))];
    const differing = axes.filter((axis) => new Set(timed.map((r) => r.measurement.params[axis])).size > 1);
    const varying = differing.length ? differing : axes;
    const rows = timed.map((r) => ({
      label: `${r.measurement.suite}: ${describeCase(Object.fromEntries(varying.flatMap((axis) => (r.measurement.params[axis] === undefined ? [] : [[axis, r.measurement.params[axis] as string | number]]))))}${r.stage === undefined ? '' : ` (${r.stage})`}`,
      ratio: r.ratio,
    }));
    const title = `${peer} / mla-bench per case (above 1: mla-bench faster)`;
    return [
      {
        id: `peer-ratio-${peer}-${d.device}`
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .slice(0, 80),
        kind: 'peer-ratio',
        title,
        width: 1100,
        height: Math.max(300, 140 + rows.length * 28),
        config: {
          type: 'bar',
          data: {
            labels: rows.map((r) => r.label),
            datasets: [
              {
                label: `${peer} operator kernels / mla-bench median`,
                data: rows.map((r) => r.ratio),
                backgroundColor: rows.map((r) => (r.ratio >= 1 ? '#2ca02c' : '#d62728')),
              },
            ],
          },
          options: {
            indexAxis: 'y',
            plugins: { title: { display: true, text: title }, subtitle: { display: true, text: d.device }, legend: { display: false } },
            scales: {
              x: {
                type: 'logarithmic',
                min: 0.8 * Math.min(1, ...rows.map((r) => r.ratio)),
                title: { display: true, text: 'ratio (1 = parity)' },
              },
              y: { title: { display: true, text: 'case' } },
            },
          },
        },
      },
    ];
  });
}

/** The ratio per case and peer, for the CI exports (github-action-benchmark and Bencher): smaller is better for mla-bench's rivals. */
export function peerRatioExports(file: LoadedResults, nameOf: (key: string) => string): { name: string; peer: string; ratio: number }[] {
  return okCases(file.results.cases).flatMap((c) =>
    (c.peers ?? []).flatMap((entry) => {
      const ratio = peerRatio(c, entry);
      const what = entry.stage === undefined ? nameOf(c.key) : `${nameOf(c.key)} ${entry.stage}`;
      return ratio === null ? [] : [{ name: `${what} (${entry.peer} / mla-bench)`, peer: entry.peer, ratio }];
    }),
  );
}

export interface PeerRatioPair {
  key: string;
  peer: string;
  base: number | null;
  candidate: number | null;
}

/** Per case and peer, the peer / mla-bench ratio in the base and in the candidate (compare), where either has one. */
export function peerRatioPairs(base: LoadedResults, candidate: LoadedResults): PeerRatioPair[] {
  const ratios = (file: LoadedResults): Map<string, number> =>
    new Map(
      okCases(file.results.cases).flatMap((c) =>
        (c.peers ?? []).flatMap((e) => ((r) => (r === null ? [] : [[`${c.key}\u0000${peerEntryName(e)}`, r] as const]))(peerRatio(c, e))),
      ),
    );
  const a = ratios(base);
  const b = ratios(candidate);
  return [...new Set([...a.keys(), ...b.keys()])].map((id) => {
    const [key = '', peer = ''] = id.split('\u0000');
    return { key, peer, base: a.get(id) ?? null, candidate: b.get(id) ?? null };
  });
}

/** compare's peer section: the ratio on each side, so a kernel change shows against the same peer. */
export function peerComparisonTable(pairs: readonly PeerRatioPair[]): TableModel | null {
  if (pairs.length === 0) return null;
  const cell = (r: number | null): string => (r === null ? '-' : `${r.toFixed(2)}x`);
  return {
    title: 'Peers: peer operator kernels / mla-bench median (above 1, mla-bench is faster)',
    columns: [left('case'), left('peer'), right('base'), right('candidate')],
    rows: pairs.map((p) => [p.key, p.peer, cell(p.base), cell(p.candidate)]),
  };
}
