import { writeFileSync } from 'node:fs';
import { Flags } from '@oclif/core';
import { BaseCommand, gpuFlags, gpuOptionsFrom } from '../cli/base.js';
import { UserError } from '../errors.js';
import { listAdapters, openGpu, type AdapterDescription, type GpuContext } from '../gpu/device.js';
import { formatBytes } from '../report/format.js';
import { liveDeviceFile } from '../run/device-file.js';

export interface InfoResult {
  selected: AdapterDescription & {
    deviceFeatures: string[];
    deviceLimits: Record<string, number>;
    toggles: { enabled: string[]; disabled: string[] };
    hostThreadNice: number | null;
    hostWait: GpuContext['hostWait'];
  };
  adapters: AdapterDescription[];
}

const SHOWN_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

export default class Info extends BaseCommand {
  static override summary = 'Show the WebGPU adapter a run would use, its features and limits, and every adapter found.';
  static override examples = [
    '<%= config.bin %> info',
    '<%= config.bin %> info --backend vulkan --json',
    '<%= config.bin %> info --limits-out limits/my-gpu.json --memory-gib 80',
  ];
  static override flags = {
    ...gpuFlags,
    'limits-out': Flags.string({
      description:
        "write the device's limits, features and memory as a limits file for `list --limits` (plan another machine's runs from it)",
    }),
    'memory-gib': Flags.string({
      description:
        'device memory for --limits-out, in GiB (WebGPU does not report it; nvidia-smi does); default on a software adapter: half the host memory',
      dependsOn: ['limits-out'],
    }),
  };

  async run(): Promise<InfoResult> {
    const { flags } = await this.parse(Info);
    const memoryBytes = flags['memory-gib'] === undefined ? undefined : gibBytes(flags['memory-gib']);
    const context = await openGpu(gpuOptionsFrom(flags));
    let selected: InfoResult['selected'];
    try {
      if (flags['limits-out'] !== undefined)
        writeLimitsFile(flags['limits-out'], context, memoryBytes ?? context.memoryBytes, this.config.version);
      selected = {
        ...context.adapter,
        deviceFeatures: [...context.device.features].sort(),
        deviceLimits: { ...context.limits },
        toggles: context.toggles,
        hostThreadNice: context.hostThreadNice,
        hostWait: context.hostWait,
      };
    } finally {
      context.close();
    }
    const adapters = await listAdapters();
    if (!this.jsonEnabled()) this.printInfo(selected, adapters);
    return { selected, adapters };
  }

  private printInfo(selected: InfoResult['selected'], adapters: AdapterDescription[]): void {
    const limit = (name: string): string => {
      const value = selected.limits[name];
      if (value === undefined) return '-';
      return /Size$/.test(name) ? `${value} (${formatBytes(value)})` : String(value);
    };
    this.log(`Adapter      ${selected.description || selected.device}`);
    this.log(`  vendor       ${selected.vendor || '-'}`);
    this.log(`  architecture ${selected.architecture || '-'}`);
    this.log(`  device       ${selected.device || '-'}`);
    this.log(`  fallback     ${selected.isFallbackAdapter ? 'yes (software or fallback adapter: runs use the quick profile)' : 'no'}`);
    if (selected.subgroupMinSize !== undefined) this.log(`  subgroups    ${selected.subgroupMinSize}..${selected.subgroupMaxSize} lanes`);
    this.log(`  features     ${selected.deviceFeatures.join(', ')}`);
    this.log(`  adapter has  ${selected.features.join(', ')}`);
    this.log(`  toggles      enabled ${selected.toggles.enabled.join(', ')}; disabled ${selected.toggles.disabled.join(', ')}`);
    if (selected.hostWait === 'sleep' || selected.hostThreadNice !== null) {
      const nice = selected.hostThreadNice === null ? '' : `, nice ${selected.hostThreadNice}`;
      this.log(
        `  host thread  ${selected.hostWait === 'sleep' ? 'asleep' : 'spinning'}${nice} while kernels run (the adapter's threads share these CPU cores)`,
      );
    }
    this.log('  limits');
    for (const name of SHOWN_LIMITS) this.log(`    ${name.padEnd(36)} ${limit(name)}`);
    this.log('');
    this.log('Adapters found');
    for (const adapter of adapters) {
      this.log(
        `  [${adapter.backend}] ${adapter.description || adapter.device} (${adapter.vendor || '-'}, ${adapter.architecture || '-'}${adapter.isFallbackAdapter ? ', fallback' : ''})`,
      );
    }
  }
}

function gibBytes(text: string): number {
  const gib = Number(text);
  if (!Number.isFinite(gib) || gib <= 0) throw new UserError(`--memory-gib ${text}: must be a positive number of GiB`);
  return Math.floor(gib * 2 ** 30);
}

/** The opened device as a limits file (`list --limits`); a GPU needs its memory given, since WebGPU does not say. */
function writeLimitsFile(path: string, context: GpuContext, memoryBytes: number | undefined, version: string): void {
  if (memoryBytes === undefined) {
    throw new UserError(
      '--limits-out on a GPU needs --memory-gib: WebGPU does not report device memory (nvidia-smi --query-gpu=memory.total does)',
    );
  }
  const { adapter } = context;
  const device = {
    description: adapter.description || adapter.device,
    backend: adapter.backend,
    limits: context.limits,
    features: context.features,
    ...(adapter.subgroupMinSize !== undefined && { subgroupMinSize: adapter.subgroupMinSize }),
  };
  const source = `mla-bench ${version} info --limits-out on ${new Date().toISOString().slice(0, 10)}: what Dawn reported for this adapter (vendor ${adapter.vendor || '-'}, architecture ${adapter.architecture || '-'})`;
  try {
    writeFileSync(path, `${JSON.stringify(liveDeviceFile(device, memoryBytes, source), null, 2)}\n`);
  } catch (error) {
    throw new UserError(`--limits-out ${path}: cannot write it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
