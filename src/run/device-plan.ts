import { caseMisfit } from '../kernels/fit.js';
import { kernelFamily } from '../kernels/registry.js';
import { caseBytes } from '../kernels/spec.js';
import type { PlannedCase } from '../suites/expand.js';
import type { DeviceFile } from './device-file.js';

/**
 * A case as it would go on another device: run, with the memory its buffers take; skipped, and why; or not planned
 * (a family whose buffers follow its data), and why.
 */
export type DevicePlan =
  | { key: string; fits: true; bytes: number; kvCacheBytes: number }
  | { key: string; fits: false; reason: string }
  | { key: string; fits: null; reason: string };

/**
 * Each case built against the device's limits and features (declarations only: no host data, no GPU) and checked as
 * the runner checks it before allocating anything: what would run there, what would be a recorded skip.
 */
export function planOnDevice(cases: readonly PlannedCase[], familyOf: (suite: string) => string, device: DeviceFile): DevicePlan[] {
  return cases.map((planned): DevicePlan => {
    const { key } = planned;
    if (planned.skip) return { key, fits: false, reason: planned.skip };
    const family = kernelFamily(familyOf(planned.suite));
    if (!family) return { key, fits: false, reason: `unknown kernel family ${familyOf(planned.suite)}` };
    if (family.sizedByData) return { key, fits: null, reason: family.sizedByData };
    const context = {
      limits: device.limits,
      features: device.features,
      ...(device.subgroupMinSize !== undefined && { subgroupMinSize: device.subgroupMinSize }),
      seed: 0,
    };
    let built;
    try {
      built = family.build(planned.params, context);
    } catch (error) {
      return { key, fits: false, reason: `cannot build case: ${(error as Error).message}` };
    }
    if (built.kind === 'skip') return { key, fits: false, reason: built.reason };
    const misfit = caseMisfit(built.kernelCase, device);
    if (misfit) return { key, fits: false, reason: misfit };
    const buffers = built.kernelCase.buffers;
    return { key, fits: true, bytes: caseBytes(buffers), kvCacheBytes: caseBytes(buffers.filter((b) => b.role === 'kv-cache')) };
  });
}
