import type { KernelConfig, Measurement } from '../results/schema.js';
import { describeAgainst, type AxisSplit, type Params } from './axes.js';

/**
 * The kernel configurations behind the numbers (results v5 `kernelConfig`): which cases ran plans from a tuning
 * file, and, across devices, which cases ran different plans. A time is a configuration's as much as a device's.
 */

/** `attend: rows-subgroup rpi=2 wg=8 ...; up-project: subgroup wg=64 tm=8 tn=2`. */
export function describeConfig(config: KernelConfig): string {
  if (!config.plans) return '(defaults, not recorded)';
  return Object.entries(config.plans)
    .map(([slot, plan]) => `${slot}: ${plan}`)
    .join('; ');
}

function configOf(measurement: Measurement): KernelConfig | undefined {
  return 'kernelConfig' in measurement ? measurement.kernelConfig : undefined;
}

/** One note for a suite's cases that ran tuned plans (each case and its plans), or null where none did. */
export function tunedConfigNote(cases: readonly Measurement[], split: AxisSplit): string | null {
  const tuned = cases.flatMap((m) => {
    const config = configOf(m);
    return config?.source === 'tuned' ? [`${describeAgainst(m.params, split) || '(the case)'}: ${describeConfig(config)}`] : [];
  });
  if (!tuned.length) return null;
  return `tuned configs (from the run's tuning file; the other cases ran their defaults): ${tuned.join(' | ')}`;
}

/** A case's configuration on each device (null: not measured there). */
export interface DeviceConfigs {
  params: Params;
  configs: ReadonlyArray<KernelConfig | null>;
}

/** Notes for the cases whose devices ran them with different plans: each device's plans and where they came from. */
export function configDifferenceNotes(rows: readonly DeviceConfigs[], devices: readonly string[], split: AxisSplit): string[] {
  return rows.flatMap((row) => {
    const present = row.configs.flatMap((config, i) => (config ? [{ device: devices[i] ?? '', config }] : []));
    const texts = new Set(present.map(({ config }) => describeConfig(config)));
    if (texts.size < 2) return [];
    const each = present.map(({ device, config }) => `${device} ${config.source}: ${describeConfig(config)}`);
    return [`configs differ, ${describeAgainst(row.params, split) || '(the case)'}: ${each.join(' | ')}`];
  });
}
