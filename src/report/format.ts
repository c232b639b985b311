import type { Ceilings } from '../measure/rates.js';

/** Human units for a duration in milliseconds: ns, us, ms or s with three significant digits. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const abs = Math.abs(ms);
  if (abs < 1e-3) return `${(ms * 1e6).toPrecision(3)} ns`;
  if (abs < 1) return `${(ms * 1e3).toPrecision(3)} us`;
  if (abs < 1e3) return `${ms.toPrecision(3)} ms`;
  return `${(ms / 1e3).toPrecision(3)} s`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toPrecision(3)} ${units[unit]}`;
}

export function formatRate(value: number, unit: string): string {
  const number = formatRateValue(value);
  return number === '-' ? number : `${number} ${unit}`;
}

/** A rate's number alone, for a column whose head names the unit. */
export function formatRateValue(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

export function formatPercent(fraction: number | null | undefined, digits = 0): string {
  return fraction === null || fraction === undefined || !Number.isFinite(fraction) ? '-' : `${(fraction * 100).toFixed(digits)}%`;
}

export function formatError(value: number | string): string {
  return typeof value === 'string' ? value : value === 0 ? '0' : value.toExponential(1);
}

/** A calibrated ceiling in its own unit: GB/s, GFLOP/s, or a duration for the dispatch overhead (us). */
export function formatCeiling(ceiling: keyof Ceilings, value: number): string {
  if (ceiling === 'dispatchUs') return formatDuration(value / 1e3);
  return formatRate(value, ceiling.endsWith('GBs') ? 'GB/s' : 'GFLOP/s');
}

export const CEILING_LABELS: Record<keyof Ceilings, string> = {
  copyGBs: 'copy bandwidth',
  readGBs: 'read bandwidth',
  fmaF32Gflops: 'f32 FMA',
  fmaF16Gflops: 'f16 FMA',
  dispatchUs: 'dispatch overhead',
};

/** [label, value] of every ceiling, in report order; 'not measured' where the run has none. */
export function ceilingRows(ceilings: Ceilings): [string, string][] {
  return (Object.keys(CEILING_LABELS) as (keyof Ceilings)[]).map((name) => {
    const value = ceilings[name];
    return [CEILING_LABELS[name], value === null ? 'not measured' : formatCeiling(name, value)];
  });
}
