import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { REQUESTED_LIMITS, WANTED_FEATURES, type DeviceLimits, type WantedFeature } from '../core/device-facts.js';
import { UserError } from '../errors.js';

/**
 * Another device, described for planning (`list --limits FILE`): its GPUSupportedLimits (as `info --json` or a
 * browser's adapter.limits prints them; extra limits are ignored), its features, its smallest subgroup and the
 * device memory a case may take. limits/*.json ship a few, each with its source.
 */
export interface DeviceFile {
  name: string;
  source?: string;
  limits: DeviceLimits;
  features: ReadonlySet<WantedFeature>;
  subgroupMinSize?: number;
  memoryBytes: number;
}

const positive = z.number({ error: 'must be a number' }).int('must be an integer').positive('must be positive');

const DeviceFileSchema = z.object({
  name: z.string({ error: 'must be a string naming the device' }).min(1),
  source: z.string().optional(),
  memoryBytes: positive,
  features: z.array(z.string(), { error: 'must be a list of feature names' }).default([]),
  subgroupMinSize: positive.optional(),
  limits: z.object(Object.fromEntries(REQUESTED_LIMITS.map((name) => [name, positive])) as Record<keyof DeviceLimits, typeof positive>, {
    error: 'must be an object of GPUSupportedLimits',
  }),
});

/** limits/ at the package root (two levels above src/run and dist/run): the shipped device files. */
export const LIMITS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'limits');

/**
 * A limits file, validated: a path, or the name of a shipped one (limits/NAME.json); a bad one is a UserError naming
 * the file, the field and what is wrong.
 */
export function loadDeviceFile(pathOrName: string): DeviceFile {
  const shipped = join(LIMITS_DIR, `${pathOrName}.json`);
  const path = !existsSync(pathOrName) && /^[a-z0-9-]+$/.test(pathOrName) && existsSync(shipped) ? shipped : pathOrName;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError(`limits file ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`limits file ${path}: not JSON (${(error as Error).message})`);
  }
  const parsed = DeviceFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
    throw new UserError(`limits file ${path}: ${field} ${issue.message}`);
  }
  const { features, subgroupMinSize, source, ...rest } = parsed.data;
  return {
    ...rest,
    ...(source !== undefined && { source }),
    ...(subgroupMinSize !== undefined && { subgroupMinSize }),
    features: new Set(WANTED_FEATURES.filter((feature) => features.includes(feature))),
  };
}

/** What a live device's file holds: its description, limits, features, smallest subgroup and memory. */
export interface LiveDevice {
  description: string;
  /** The backend asked for, or 'default' (Dawn's choice for the platform: Vulkan on Linux, Metal on macOS, D3D12 on Windows). */
  backend: string;
  limits: DeviceLimits;
  features: ReadonlySet<WantedFeature>;
  subgroupMinSize?: number;
}

/**
 * A limits file of the device a run opened (`info --limits-out`), in the shape `list --limits` reads: what Dawn
 * reports for it here and now. WebGPU does not report device memory, so it comes from the caller (nvidia-smi, or
 * half the host's memory on a software adapter, as runs take it).
 */
export function liveDeviceFile(device: LiveDevice, memoryBytes: number, source: string): Record<string, unknown> {
  return {
    name: `${device.description} (Dawn, ${device.backend === 'default' ? 'its default backend' : device.backend})`,
    source,
    memoryBytes,
    features: [...device.features].sort(),
    ...(device.subgroupMinSize !== undefined && { subgroupMinSize: device.subgroupMinSize }),
    limits: Object.fromEntries(REQUESTED_LIMITS.map((name) => [name, device.limits[name]])),
  };
}
