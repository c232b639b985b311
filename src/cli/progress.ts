import type { Measurement } from '../results/schema.js';
import type { RunHooks } from '../run/runner.js';
import type { PlannedCase } from '../suites/expand.js';
import { formatDuration, formatPercent } from '../report/format.js';

export type ProgressStyle = 'bar' | 'lines' | 'none';

/** A live bar on a terminal, one plain line per case in CI or when piped, nothing with --json. */
export function progressStyle(json: boolean, stdoutIsTty: boolean, env: NodeJS.ProcessEnv): ProgressStyle {
  if (json) return 'none';
  if (stdoutIsTty && !env['CI']) return 'bar';
  return 'lines';
}

function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1e3));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${h ? `${h}:` : ''}${String(m).padStart(h ? 2 : 1, '0')}:${String(sec).padStart(2, '0')}`;
}

export function summarizeMeasurement(measurement: Measurement): string {
  switch (measurement.status) {
    case 'ok':
      return `ok ${formatDuration(measurement.timing.gpu.median)} ±${formatPercent(measurement.timing.gpu.relCi95, 1)} (${measurement.timing.gpu.n} samples, ${measurement.timing.stopReason})`;
    case 'checked':
      return 'checked (not timed)';
    case 'skipped':
      return `skipped: ${measurement.reason}`;
    case 'numerics-failed':
      return 'NUMERICS FAILED';
    case 'error':
      return `error: ${measurement.message}`;
    case 'left-out':
      return 'left out: the budget ran out';
  }
}

export function progressHooks(style: ProgressStyle, write: { out: (s: string) => void; err: (s: string) => void }): RunHooks {
  if (style === 'none') return {};
  let total = 0;
  let done = 0;
  let started = 0;
  let budgetMs: number | undefined;
  let current: PlannedCase | undefined;
  let currentVisit = '';
  let timer: NodeJS.Timeout | undefined;
  const width = 24;
  const drawBar = (): void => {
    const elapsed = performance.now() - started;
    const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
    const filled = total ? Math.round((done / total) * width) : 0;
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const name = current ? current.key + currentVisit : '';
    // A budgeted run shows its clock against the budget (process time: what the budget counts).
    const time =
      budgetMs !== undefined
        ? `${clock(performance.now())} / ${clock(budgetMs)}`
        : `${clock(elapsed)} ETA ${Number.isFinite(eta) ? clock(eta) : '?'}`;
    const line = `${bar} ${done + (current ? 1 : 0)}/${total} ${time} ${name}`;
    const columns = process.stdout.columns || 100;
    write.out(`\r\x1b[2K${line.slice(0, columns - 1)}`);
  };
  return {
    onStart(info) {
      total = info.total;
      started = performance.now();
      budgetMs = info.budgetMs;
      const plan =
        budgetMs !== undefined ? `${info.total} case visits planned to fit a budget of ${clock(budgetMs)}` : `${info.total} cases`;
      const lines = `${info.environment.adapter.description || info.environment.adapter.device}: ${plan}, profile ${info.profile}; journal ${info.journalPath}`;
      if (style === 'lines') write.err(lines + '\n');
      else {
        write.out(lines + '\n');
        timer = setInterval(drawBar, 500);
        timer.unref();
      }
    },
    onCaseStart(_index, planned, visit) {
      current = planned;
      currentVisit = visit.of > 1 ? ` (visit ${visit.visit}/${visit.of})` : '';
      if (style === 'bar') drawBar();
    },
    onCaseEnd(index, measurement, visit) {
      done++;
      current = undefined;
      if (visit.total !== undefined) total = visit.total;
      const which = visit.of > 1 ? ` (visit ${visit.visit}/${visit.of})` : '';
      const pooled = visit.visit > 1 && measurement.status === 'ok' ? ', pooled' : visit.visit > 1 ? '; earlier visits kept' : '';
      if (style === 'lines')
        write.err(`[${index + 1}/${total}] ${measurement.key}${which}: ${summarizeMeasurement(measurement)}${pooled}\n`);
      else {
        drawBar();
        if (done === total) {
          if (timer) clearInterval(timer);
          write.out('\r\x1b[2K');
        }
      }
    },
  };
}
