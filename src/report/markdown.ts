import type { Ceilings } from '../measure/rates.js';
import type { Measurement, OkMeasurement } from '../results/schema.js';
import { stageBreakdown } from './stages.js';
import { describeCase } from '../suites/expand.js';
import { machineDriftNote, type CandidateComparison, type CrossHardwareTable } from './compare.js';
import { shownRelError, suitesOf, type DeviceResults } from './data.js';
import { ceilingRows, formatCeiling, formatDuration, formatError, formatPercent, formatRate } from './format.js';
import { markdownMlaSections } from './mla.js';
import { markdownCode, markdownText } from './sanitize.js';

/** A Markdown table cell or heading from text that may come from a results file. */
export const mdCell = markdownText;

export function mdTable(head: string[], rows: string[][], align?: Array<'l' | 'r'>): string {
  const rule = head.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  return [head, rule, ...rows].map((row, i) => `| ${(i === 1 ? row : row.map(mdCell)).join(' | ')} |`).join('\n');
}

export function markdownCeilings(ceilings: Ceilings): string {
  return mdTable(['ceiling', 'value'], ceilingRows(ceilings), ['l', 'r']);
}

function caseRow(m: Measurement): string[] {
  const label = describeCase(m.params);
  const err = shownRelError(m);
  const errText = err === null ? '' : formatError(err);
  switch (m.status) {
    case 'ok': {
      const ceiling = m.rates.bound === 'compute' ? m.rates.computeFraction : m.rates.memoryFraction;
      return [
        label,
        'ok',
        formatDuration(m.timing.gpu.median),
        `±${formatPercent(m.timing.gpu.relCi95, 1)}`,
        formatRate(m.rates.gbps, 'GB/s'),
        m.work.flops ? formatRate(m.rates.gflops, 'GFLOP/s') : '-',
        formatPercent(ceiling),
        m.rates.bound,
        errText,
      ];
    }
    case 'checked':
      return [label, 'checked', 'not timed', '', '', '', '', '', errText];
    case 'numerics-failed':
      return [label, '**numerics failed**', '-', '-', '-', '-', '-', '-', errText];
    case 'skipped':
      return [label, `skipped: ${m.reason}`, '', '', '', '', '', '', ''];
    case 'error':
      return [label, `error: ${m.message}`, '', '', '', '', '', '', ''];
  }
}

export function markdownStageTable(m: OkMeasurement, ceilings: Ceilings): string {
  const breakdown = stageBreakdown(m, ceilings);
  if (!breakdown) return '';
  const rows = breakdown.rows.map(({ stage, share }) => [
    stage.name,
    String(stage.dispatches),
    formatDuration(stage.gpu.median),
    `±${formatPercent(stage.gpu.relCi95, 1)}`,
    formatPercent(share),
    formatRate(stage.rates.gbps, 'GB/s'),
    stage.work.flops ? formatRate(stage.rates.gflops, 'GFLOP/s') : '-',
    formatPercent(stage.rates.bound === 'compute' ? stage.rates.computeFraction : stage.rates.memoryFraction),
    stage.rates.bound,
  ]);
  rows.push(['sum of stages', String(m.timing.dispatches), formatDuration(breakdown.sumMs), '', '100%', '', '', '', '']);
  rows.push([breakdown.paired ? 'end to end, same rounds' : 'end to end', String(m.timing.dispatches), formatDuration(breakdown.endToEndMs), `±${formatPercent(breakdown.endToEndRelCi95, 1)}`, '', '', '', '', '']);
  return `<details><summary>${mdCell(describeCase(m.params))}: stages</summary>\n\n${mdTable(['stage', 'dispatches', 'median', 'CI95', '% of sum', 'GB/s', 'GFLOP/s', '% ceiling', 'bound'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'])}\n\n</details>`;
}

export function markdownCaseTables(cases: Measurement[], ceilings?: Ceilings): string {
  return suitesOf(cases)
    .map((suite) => {
      const own = cases.filter((c) => c.suite === suite);
      const rows = own.map(caseRow);
      const stageTables = ceilings ? own.flatMap((m) => (m.status === 'ok' && m.stages?.length ? [markdownStageTable(m, ceilings)] : [])) : [];
      return [`### ${mdCell(suite)}\n\n${mdTable(['case', 'status', 'median', 'CI95', 'GB/s', 'GFLOP/s', '% ceiling', 'bound', 'rel err'], rows, ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'l', 'r'])}`, ...stageTables].join('\n\n');
    })
    .join('\n\n');
}

/** A report for CI job summaries: per device, its ceilings and one table per suite. */
export function markdownReport(devices: DeviceResults[]): string {
  const parts = ['# mla-bench report', ''];
  for (const d of devices) {
    parts.push(`## ${mdCell(d.device)}`, '', `Results: ${d.files.map(markdownCode).join(', ')}`, '');
    parts.push('Device ceilings (calibrated)', '', markdownCeilings(d.ceilings), '', markdownCaseTables(d.cases, d.ceilings), '');
    const mla = markdownMlaSections(d.cases);
    if (mla) parts.push(mla, '');
  }
  return parts.join('\n');
}

const VERDICT_MARK: Record<string, string> = { faster: '🟢 faster', slower: '🔴 slower', same: 'same', inconclusive: 'inconclusive' };

function ratioText(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(3)}x` : '-';
}

export function markdownComparison(comparisons: CandidateComparison[], noisePct: number): string {
  const parts = ['# mla-bench comparison', ''];
  for (const c of comparisons) {
    parts.push(`## ${markdownCode(c.candidate)} vs ${markdownCode(c.base)}`, '', `Ratio = candidate / base median GPU time (above 1 is slower); noise band ±${noisePct}%; visits p: one-sided rank test of the per-visit medians, which slower / faster also need where both runs have visits.`, '');
    parts.push(
      mdTable(
        ['suite', 'cases', 'geomean ratio', 'faster', 'slower', 'same', 'inconclusive'],
        c.suites.map((s) => [s.suite, String(s.cases), ratioText(s.geomeanRatio), String(s.faster), String(s.slower), String(s.same), String(s.inconclusive)]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
      '',
      mdTable(
        ['case', 'base', 'candidate', 'ratio', 'CI95', 'p', 'visits p', 'verdict'],
        c.cases.map((x) => [
          x.key,
          formatDuration(x.baseMs),
          formatDuration(x.candidateMs),
          ratioText(x.ratio),
          `${x.ci95.lo.toFixed(3)}-${x.ci95.hi.toFixed(3)}`,
          x.p < 1e-4 ? x.p.toExponential(1) : x.p.toFixed(4),
          x.visits === null ? '-' : (x.ratio >= 1 ? x.visits.slowerP : x.visits.fasterP).toFixed(3),
          VERDICT_MARK[x.verdict] ?? x.verdict,
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
      ),
      '',
    );
    if (c.ceilings.length) {
      parts.push(
        mdTable(
          ['calibrated ceiling', 'base', 'candidate', 'time ratio'],
          c.ceilings.map((x) => [x.label, formatCeiling(x.ceiling, x.base), formatCeiling(x.ceiling, x.candidate), ratioText(x.timeRatio)]),
          ['l', 'r', 'r', 'r'],
        ),
        '',
      );
    }
    const drift = machineDriftNote(c.ceilings, noisePct);
    if (drift) parts.push(`> **Warning:** ${drift}.`, '');
    if (c.onlyInBase.length) parts.push(`Only in base: ${c.onlyInBase.map((k) => `\`${k}\``).join(', ')}`, '');
    if (c.onlyInCandidate.length) parts.push(`Only in candidate: ${c.onlyInCandidate.map((k) => `\`${k}\``).join(', ')}`, '');
    if (c.timedOnOneSide.length) parts.push(`Timed on one side only (checked, not timed, on the other): ${c.timedOnOneSide.map((k) => `\`${k}\``).join(', ')}`, '');
  }
  return parts.join('\n');
}

export function markdownCrossHardware(table: CrossHardwareTable): string {
  return [
    '# mla-bench cross-hardware comparison',
    '',
    'Median GPU time per repeat.',
    '',
    mdTable(
      ['case', ...table.devices.map((d) => d.device)],
      table.rows.map((r) => [r.key, ...r.medians.map((m) => (m === null ? '-' : formatDuration(m)))]),
      ['l', ...table.devices.map(() => 'r' as const)],
    ),
    '',
  ].join('\n');
}
