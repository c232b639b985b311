import { MEMORY_ROLES } from '../gpu/memory.js';
import { formatBytes, formatDuration, formatError, formatPercent, formatRate } from '../report/format.js';
import { describeAllowance } from '../report/results-tables.js';
import { renderCeilings, terminalGrid } from '../report/table.js';
import type { CaptureOutcome, ProfiledCase } from './profiler.js';
import type { Timeline } from '../gpu/timeline.js';

/** Rows gathered as the profile goes, drawn as one terminal grid in the report's style. */
function table(head: string[]): { push(row: string[]): void; toString(): string } {
  const rows: string[][] = [];
  return { push: (row) => void rows.push(row), toString: () => terminalGrid(head, rows) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median GPU time of each stage's own pass across the timeline's iterations. */
export function timelineMedians(timeline: Timeline | null): Map<string, number> {
  const byStage = new Map<string, number[]>();
  for (const pass of timeline?.passes ?? []) {
    const list = byStage.get(pass.stage) ?? [];
    list.push((pass.gpuEndNs - pass.gpuBeginNs) / 1e6);
    byStage.set(pass.stage, list);
  }
  return new Map([...byStage].map(([stage, ms]) => [stage, median(ms)]));
}

/** Sum of the stages' own-pass medians (from timelineMedians), or null unless every stage has one. */
export function ownPassSumMs(stageNames: readonly string[], inPass: ReadonlyMap<string, number>): number | null {
  if (stageNames.length === 0 || !stageNames.every((name) => inPass.has(name))) return null;
  return stageNames.reduce((sum, name) => sum + (inPass.get(name) as number), 0);
}

type OkProfiled = Extract<ProfiledCase['measurement'], { status: 'ok' }>;
type Breakdown = NonNullable<ProfiledCase['breakdown']>;

function stageRow(row: Breakdown['rows'][number], own: number | undefined): string[] {
  const { stage, share } = row;
  const ceiling = stage.rates.bound === 'compute' ? stage.rates.computeFraction : stage.rates.memoryFraction;
  return [
    stage.name,
    String(stage.dispatches),
    formatDuration(stage.gpu.median),
    `±${formatPercent(stage.gpu.relCi95, 1)}`,
    formatPercent(share),
    stage.work.flops ? formatRate(stage.rates.gflops, 'GFLOP/s') : '-',
    formatRate(stage.rates.gbps, 'GB/s'),
    formatPercent(ceiling),
    stage.rates.bound,
    own === undefined ? '-' : formatDuration(own),
  ];
}

/** The stage table: each stage, their sum, end to end (and end to end in the same rounds), with the own-pass times. */
function stageTable(
  m: OkProfiled,
  breakdown: ProfiledCase['breakdown'],
  inPass: ReadonlyMap<string, number>,
  ownSum: number | null,
): string {
  const t = table(['stage', 'dispatches', 'median', 'CI95', '% of total', 'GFLOP/s', 'GB/s', '% ceiling', 'bound', 'own pass']);
  const rows = breakdown?.rows ?? [];
  for (const row of rows) t.push(stageRow(row, inPass.get(row.stage.name)));
  const dispatches = String(m.timing.dispatches);
  if (breakdown)
    t.push([
      'sum of stages',
      dispatches,
      formatDuration(breakdown.sumMs),
      '',
      '100%',
      '',
      '',
      '',
      '',
      ownSum === null ? '' : formatDuration(ownSum),
    ]);
  const ceiling = m.rates.bound === 'compute' ? m.rates.computeFraction : m.rates.memoryFraction;
  const ownWhole = rows.length === 0 ? inPass.values().next().value : undefined;
  t.push([
    'end to end',
    dispatches,
    formatDuration(m.timing.gpu.median),
    `±${formatPercent(m.timing.gpu.relCi95, 1)}`,
    '',
    m.work.flops ? formatRate(m.rates.gflops, 'GFLOP/s') : '-',
    formatRate(m.rates.gbps, 'GB/s'),
    formatPercent(ceiling),
    m.rates.bound,
    ownWhole === undefined ? '' : formatDuration(ownWhole),
  ]);
  if (breakdown?.paired) {
    const ci = `±${formatPercent(breakdown.endToEndRelCi95, 1)}`;
    t.push(['end to end, same rounds', dispatches, formatDuration(breakdown.endToEndMs), ci, '', '', '', '', '', '']);
  }
  return t.toString();
}

/** End to end minus the stages, the pass floor, and whether the gap lies within what timing apart allows. */
function gapLines(m: OkProfiled, breakdown: Breakdown, ownSum: number | null): string[] {
  const allowance = breakdown.allowance;
  const verdict =
    breakdown.endToEndTimer === 'wall'
      ? 'not comparable: end to end is wall time (submit to done, host round trip included), the stages GPU time'
      : breakdown.withinOverhead === null
        ? 'no dispatch overhead calibrated'
        : breakdown.withinOverhead
          ? 'the stages add up to end to end within it'
          : 'the stages do NOT add up to end to end within it';
  const lines = [
    `end to end - sum of stages = ${formatDuration(breakdown.gapMs)} ±${formatDuration(breakdown.gapUncertaintyMs)} (${breakdown.paired ? 'median per-round difference, 95% CI' : '95% CIs'})`,
  ];
  if (breakdown.passFloorMs !== null) {
    lines.push(
      `a minimal dispatch in its own timestamped pass takes ${formatDuration(breakdown.passFloorMs)} (same rounds): the floor of a stage's time here; a stage near it is mostly pass overhead`,
    );
  }
  lines.push(
    allowance === null
      ? `allowed gap: -: ${verdict}`
      : `allowed gap: ${describeAllowance(allowance, m.timing.dispatches, breakdown.rows.length)}: ${verdict}`,
  );
  // One cause: a stage repeated alone keeps its own working set in the caches, which the whole case may not
  // fit; the timeline runs the stages in sequence, as end to end does, so its sum is the cross-check.
  if (breakdown.withinOverhead === false && breakdown.placement === 'alone' && breakdown.endToEndTimer !== 'wall' && ownSum !== null) {
    lines.push(
      `timeline (stages in sequence, each in its own pass): own passes sum to ${formatDuration(ownSum)} against ${formatDuration(breakdown.endToEndMs)} end to end; a stage repeated alone may run with warmer caches than inside the whole case (--mode cold evicts them between samples)`,
    );
  }
  return lines;
}

function timingSection(m: OkProfiled, result: ProfiledCase): string[] {
  const { breakdown, timeline } = result;
  const inPass = timelineMedians(timeline);
  const ownSum = ownPassSumMs(
    (breakdown?.rows ?? []).map((r) => r.stage.name),
    inPass,
  );
  const iterations = timeline ? new Set(timeline.passes.map((p) => p.iteration)).size : 0;
  const how =
    breakdown?.placement === 'alone'
      ? 'each timed alone (its dispatches repeated by themselves'
      : 'each timed in its own pass inside the pipeline (every stage runs, the others untimed';
  return [
    `Stages: ${how}, ${m.timing.mode} mode, N repeats per sample)${breakdown?.paired ? ', in rounds with end to end (one sample of each per round)' : ''}; end to end: every stage in one pass; own pass: median of ${iterations} timeline iterations with each stage in its own timestamped pass`,
    stageTable(m, breakdown, inPass, ownSum),
    ...(breakdown ? gapLines(m, breakdown, ownSum) : []),
    '',
  ];
}

/** Compile times, transfers, memory by role and the numerics of a checked case. */
function resourceSections(m: Extract<ProfiledCase['measurement'], { status: 'ok' | 'numerics-failed' | 'checked' }>): string[] {
  const lines: string[] = [];
  const compile = table(['pipeline', 'compile']);
  const compileMs = m.status === 'ok' ? m.compileMs : {};
  for (const [shader, ms] of Object.entries(compileMs)) compile.push([shader, formatDuration(ms)]);
  if (Object.keys(compileMs).length)
    lines.push('Pipeline compile time (0 = already compiled by an earlier case in this process)', compile.toString(), '');
  if (m.status === 'ok') {
    const io = table(['transfer', 'bytes', 'time']);
    io.push(['upload (inputs, canaries)', formatBytes(m.transfers.uploadBytes), formatDuration(m.transfers.uploadMs)]);
    io.push(['readback (checked outputs)', formatBytes(m.transfers.readbackBytes), formatDuration(m.transfers.readbackMs)]);
    lines.push(io.toString(), '');
  }
  const mem = table(['memory role', 'at peak', 'max held']);
  for (const role of MEMORY_ROLES) mem.push([role, formatBytes(m.memory.peakByRole[role]), formatBytes(m.memory.maxByRole[role])]);
  mem.push(['total peak', formatBytes(m.memory.peakBytes), '']);
  lines.push(mem.toString(), '');
  const num = table(['output', 'passed', 'max abs err', 'max rel err', 'max err / max |ref|', 'tolerance']);
  for (const check of m.numerics.checks)
    num.push([
      check.buffer,
      check.passed ? 'yes' : 'NO',
      formatError(check.maxAbsError),
      formatError(check.maxRelError),
      check.normRelError === null ? '-' : formatError(check.normRelError),
      `atol ${check.tolerance.atol.toExponential(1)} rtol ${check.tolerance.rtol.toExponential(1)}`,
    ]);
  lines.push(num.toString());
  return lines;
}

export function renderProfile(result: ProfiledCase): string {
  const { measurement: m, environment, ceilings } = result;
  const adapter = environment.adapter.description || environment.adapter.device;
  const lines = [`${m.key} on ${adapter}`, ''];
  if (m.status === 'skipped') return [...lines, `skipped: ${m.reason}`].join('\n');
  if (m.status === 'error') return [...lines, `error: ${m.message}`].join('\n');
  if (m.status === 'left-out') return [...lines, 'left out: the budget ran out'].join('\n');
  if (ceilings.copyGBs !== null || ceilings.dispatchUs !== null)
    lines.push('Device ceilings (calibrated in this run)', renderCeilings(ceilings), '');
  if (m.status === 'ok') lines.push(...timingSection(m, result));
  else lines.push('NUMERICS FAILED: timing skipped', '');
  lines.push(...resourceSections(m));
  if (result.tracePath) lines.push('', `trace: ${result.tracePath} (open in https://ui.perfetto.dev or chrome://tracing)`);
  return lines.join('\n');
}

export function renderCapture(outcome: CaptureOutcome): string {
  const adapter = outcome.environment.adapter.description || outcome.environment.adapter.device;
  const t = table(['case', 'status', 'dispatches', 'GFLOP', 'MB moved', 'detail']);
  for (const c of outcome.cases)
    t.push([c.key, c.status, String(c.dispatches), (c.flops / 1e9).toPrecision(3), (c.bytes / 1e6).toPrecision(3), c.detail]);
  return [`Captured on ${adapter}: each case ran once in one submission, with no timestamp queries`, t.toString()].join('\n');
}
