import type { Measurement } from '../results/schema.js';
import { kvBytesPerToken, tokensPerRepeat, worstRelError, type LoadedResults } from './data.js';
import { csvField } from './sanitize.js';

export { csvField };

const FIXED = [
  'file',
  'device',
  'suite',
  'key',
  'family',
  'status',
  'dtype',
  'median_ms',
  'ci95_lo_ms',
  'ci95_hi_ms',
  'mean_ms',
  'min_ms',
  'max_ms',
  'stdev_ms',
  'rel_ci95',
  'samples',
  'repeats',
  'stop_reason',
  'gbps',
  'gflops',
  'intensity_flop_per_byte',
  'memory_fraction',
  'compute_fraction',
  'bound',
  'flops',
  'bytes_read',
  'bytes_written',
  'peak_bytes',
  'kv_cache_bytes',
  'kv_bytes_per_token',
  'tokens_per_s',
  'numerics_passed',
  'max_rel_error',
  'norm_rel_error',
  'reason',
] as const;

function fixedFields(file: LoadedResults, m: Measurement): unknown[] {
  const ok = m.status === 'ok' ? m : null;
  const gpu = ok?.timing.gpu;
  const tokens = tokensPerRepeat(m);
  const withWork = 'work' in m ? m : null;
  return [
    file.path,
    file.device,
    m.suite,
    m.key,
    m.family,
    m.status,
    'dtype' in m ? m.dtype : m.params['dtype'],
    gpu?.median,
    gpu?.ci95.lo,
    gpu?.ci95.hi,
    gpu?.mean,
    gpu?.min,
    gpu?.max,
    gpu?.stdev,
    gpu?.relCi95,
    gpu?.n,
    ok?.timing.repeats,
    ok?.timing.stopReason,
    ok?.rates.gbps,
    ok?.rates.gflops,
    ok?.rates.intensity,
    ok?.rates.memoryFraction,
    ok?.rates.computeFraction,
    ok?.rates.bound,
    withWork?.work.flops,
    withWork?.work.bytesRead,
    withWork?.work.bytesWritten,
    withWork?.memory.peakBytes,
    withWork?.memory.peakByRole['kv-cache'],
    kvBytesPerToken(m),
    ok && gpu && tokens !== null && gpu.median > 0 ? tokens / (gpu.median / 1e3) : null,
    'numerics' in m ? m.numerics.passed : null,
    worstRelError(m),
    worstRelError(m, true),
    reasonOf(m),
  ];
}

/** Why a case has no numbers: a skip's reason, an error's message, `budget` for a case a time budget left out. */
function reasonOf(m: Measurement): string | null {
  switch (m.status) {
    case 'skipped':
    case 'left-out':
      return m.reason;
    case 'error':
      return m.message;
    default:
      return null;
  }
}

/** One row per case of every file (left-out cases too, status `left-out`, reason `budget`); flat columns, then one `param_<axis>` column per axis seen. */
export function renderCsv(files: readonly LoadedResults[]): string {
  const axes = [...new Set(files.flatMap((f) => f.results.cases.flatMap((c) => Object.keys(c.params))))];
  const head = [...FIXED, ...axes.map((a) => `param_${a}`)];
  const lines = [head.join(',')];
  for (const file of files) {
    for (const m of file.results.cases) lines.push([...fixedFields(file, m), ...axes.map((a) => m.params[a])].map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}
