import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import { UserError } from '../errors.js';
import { chooseHostYield, isSoftwareAdapter, niceWhileWaiting, useHostYield } from './host-priority.js';

const require = createRequire(import.meta.url);

import { DEFAULT_GPU_OPTIONS, type Backend, type GpuOptions } from '../core/gpu-options.js';

export { BACKENDS, DEFAULT_GPU_OPTIONS, type Backend, type GpuOptions, type PowerPreference } from '../core/gpu-options.js';

import { REQUESTED_LIMITS, WANTED_FEATURES, type DeviceLimits, type PrivateMemory, type WantedFeature } from '../core/device-facts.js';

export type { DeviceLimits, LimitName, WantedFeature } from '../core/device-facts.js';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: Backend | 'default';
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  features: string[];
  limits: Record<string, number>;
}

export interface DawnToggles {
  enabled: string[];
  disabled: string[];
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly features: ReadonlySet<WantedFeature>;
  readonly limits: DeviceLimits;
  readonly toggles: DawnToggles;
  readonly options: GpuOptions;
  /**
   * Bytes of device memory a case's buffers may take: on a software adapter half the host's memory (its buffers are
   * host memory, beside the host's own copies while they upload); on a GPU unknown (WebGPU does not say).
   */
  readonly memoryBytes?: number;
  /** Nice value the host thread takes while it waits for a CPU adapter (see chooseHostYield), else null. */
  readonly hostThreadNice: number | null;
  /** How the host thread waits for the adapter: asleep between Dawn's event ticks on a CPU adapter, else spinning. */
  readonly hostWait: 'spin' | 'sleep';
  /** Set once the device is lost for any reason other than our own destroy(). */
  lostReason: string | null;
  /** Errors nobody captured with an error scope; drained by whoever runs a case. */
  readonly uncapturedErrors: string[];
  close(): void;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: object;
}

let dawn: DawnModule | undefined;
function loadDawn(): DawnModule {
  if (!dawn) {
    dawn = require('webgpu') as DawnModule;
    // GPUBufferUsage, GPUMapMode, ... are globals in a browser; Dawn ships them separately.
    Object.assign(globalThis, dawn.globals);
  }
  return dawn;
}

export function dawnToggles(options: GpuOptions): DawnToggles {
  const enabled = ['vulkan_enable_f16_on_nvidia'];
  if (!options.robustness) enabled.push('disable_robustness');
  return { enabled, disabled: ['timestamp_quantization'] };
}

function dawnFlags(options: GpuOptions): string[] {
  const toggles = dawnToggles(options);
  const flags = [`enable-dawn-features=${toggles.enabled.join(',')}`, `disable-dawn-features=${toggles.disabled.join(',')}`];
  if (options.backend) flags.push(`backend=${options.backend}`);
  if (options.adapter) flags.push(`adapter=${options.adapter}`);
  return flags;
}

function describeAdapter(adapter: GPUAdapter, backend: Backend | 'default'): AdapterDescription {
  const info = adapter.info as GPUAdapterInfo & {
    isFallbackAdapter?: boolean;
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const limits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    backend,
    isFallbackAdapter: Boolean(info.isFallbackAdapter),
    ...(info.subgroupMinSize !== undefined && { subgroupMinSize: info.subgroupMinSize }),
    ...(info.subgroupMaxSize !== undefined && { subgroupMaxSize: info.subgroupMaxSize }),
    features: [...adapter.features].sort(),
    limits,
  };
}

/** Dawn answers an unmatched `adapter=` flag with a multi-line error listing what exists. */
function adapterRequestError(error: unknown, options: GpuOptions): UserError {
  const text = error instanceof Error ? error.message : String(error);
  const available = [...text.matchAll(/backend: '([^']+)', name: '([^']+)'/g)].map((m) => `${m[2]} [${m[1]}]`);
  const wanted = [options.adapter && `adapter "${options.adapter}"`, options.backend && `backend ${options.backend}`]
    .filter(Boolean)
    .join(' on ');
  return new UserError(`no WebGPU adapter matches ${wanted || 'the request'}; available: ${available.join(', ') || 'none'}`);
}

async function requestAdapter(gpu: GPU, options: GpuOptions): Promise<GPUAdapter> {
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
  } catch (error) {
    throw adapterRequestError(error, options);
  }
  if (!adapter) {
    if (options.adapter || options.backend) throw adapterRequestError('', options);
    throw new UserError(
      'no WebGPU adapter found: install a GPU driver with Vulkan, Metal or D3D12 support ' +
        '(on Linux without a GPU: Mesa lavapipe >= 24, package mesa-vulkan-drivers; `npm test` installs it on Debian/Ubuntu)',
    );
  }
  return adapter;
}

/** Opens the adapter the options select and a device with its full limits and the features we use. */
export async function openGpu(options: GpuOptions = DEFAULT_GPU_OPTIONS): Promise<GpuContext> {
  const { create } = loadDawn();
  let gpu: GPU | undefined = create(dawnFlags(options));
  const adapter = await requestAdapter(gpu, options);
  const description = describeAdapter(adapter, options.backend ?? 'default');
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const limits = {} as DeviceLimits;
  for (const name of REQUESTED_LIMITS) limits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits });
  const hostYield = useHostYield(chooseHostYield(description));
  const hostThreadNice = niceWhileWaiting(hostYield);
  const hostWait = hostYield.sleeps ? 'sleep' : 'spin';
  const context: GpuContext = {
    device,
    adapter: description,
    features: new Set(features),
    limits,
    ...(isSoftwareAdapter(description) && { memoryBytes: Math.floor(totalmem() / 2) }),
    toggles: dawnToggles(options),
    options,
    hostThreadNice,
    hostWait,
    lostReason: null,
    uncapturedErrors: [],
    close() {
      closed = true;
      device.destroy();
      // Node stays alive while Dawn's instance is referenced.
      gpu = undefined;
    },
  };
  let closed = false;
  void device.lost.then((info) => {
    if (!closed) context.lostReason = `${info.reason}: ${info.message}`.trim();
  });
  device.onuncapturederror = (event) => {
    context.uncapturedErrors.push(event.error.message);
  };
  return context;
}

export function platformBackends(platform: NodeJS.Platform = process.platform): Backend[] {
  if (platform === 'darwin') return ['metal'];
  if (platform === 'win32') return ['d3d12', 'vulkan'];
  return ['vulkan', 'opengl'];
}

/** Every adapter reachable on this platform, one per backend and power preference, deduplicated. */
export async function listAdapters(): Promise<AdapterDescription[]> {
  const { create } = loadDawn();
  const found = new Map<string, AdapterDescription>();
  for (const backend of platformBackends()) {
    for (const powerPreference of ['high-performance', 'low-power'] as const) {
      let gpu: GPU | undefined = create([`backend=${backend}`]);
      try {
        const adapter = await gpu.requestAdapter({ powerPreference });
        if (!adapter) continue;
        const description = describeAdapter(adapter, backend);
        const key = `${backend}/${description.description}/${description.device}`;
        if (!found.has(key)) found.set(key, description);
      } catch {
        // A backend with no driver is not an error for a listing.
      } finally {
        gpu = undefined;
      }
    }
  }
  return [...found.values()];
}

export interface ScopedErrors {
  validation: string[];
  outOfMemory: string[];
  internal: string[];
}

export function hasErrors(errors: ScopedErrors): boolean {
  return errors.validation.length + errors.outOfMemory.length + errors.internal.length > 0;
}

export function describeErrors(errors: ScopedErrors): string {
  const parts = [
    ...errors.outOfMemory.map((m) => `out of memory: ${m}`),
    ...errors.validation.map((m) => `validation: ${m}`),
    ...errors.internal.map((m) => `internal: ${m}`),
  ];
  return parts.map((p) => p.replace(/\s+/g, ' ').trim()).join('; ');
}

/** Runs `body` inside validation, out-of-memory and internal error scopes and returns what they caught. */
export async function withErrorScopes<T>(
  device: GPUDevice,
  body: () => Promise<T>,
): Promise<{ value: T | undefined; thrown: unknown; errors: ScopedErrors }> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('internal');
  let value: T | undefined;
  let thrown: unknown;
  try {
    value = await body();
  } catch (error) {
    thrown = error;
  }
  const internal = await device.popErrorScope();
  const outOfMemory = await device.popErrorScope();
  const validation = await device.popErrorScope();
  return {
    value,
    thrown,
    errors: {
      validation: validation ? [validation.message] : [],
      outOfMemory: outOfMemory ? [outOfMemory.message] : [],
      internal: internal ? [internal.message] : [],
    },
  };
}

/**
 * What plans need to know of the adapter (for BuildContext): its smallest subgroup, where the device has the
 * subgroups feature, and where private arrays live (a software adapter's invocations are SIMD lanes of a CPU thread).
 */
export function adapterBuildFacts(context: Pick<GpuContext, 'adapter' | 'features'>): {
  subgroupMinSize?: number;
  privateMemory: PrivateMemory;
} {
  const size = context.adapter.subgroupMinSize;
  const privateMemory: PrivateMemory = isSoftwareAdapter(context.adapter) ? 'stack' : 'registers';
  return context.features.has('subgroups') && size !== undefined && size > 0 ? { subgroupMinSize: size, privateMemory } : { privateMemory };
}
