import { BaseCommand, gpuFlags, gpuOptionsFrom } from '../cli/base.js';
import { listAdapters, openGpu, type AdapterDescription } from '../gpu/device.js';
import { formatBytes } from '../report/format.js';

export interface InfoResult {
  selected: AdapterDescription & {
    deviceFeatures: string[];
    deviceLimits: Record<string, number>;
    toggles: { enabled: string[]; disabled: string[] };
    hostThreadNice: number | null;
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
  static override examples = ['<%= config.bin %> info', '<%= config.bin %> info --backend vulkan --json'];
  static override flags = { ...gpuFlags };

  async run(): Promise<InfoResult> {
    const { flags } = await this.parse(Info);
    const context = await openGpu(gpuOptionsFrom(flags));
    let selected: InfoResult['selected'];
    try {
      selected = {
        ...context.adapter,
        deviceFeatures: [...context.device.features].sort(),
        deviceLimits: { ...context.limits },
        toggles: context.toggles,
        hostThreadNice: context.hostThreadNice,
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
    if (selected.hostThreadNice !== null) {
      this.log(
        `  host thread  nice ${selected.hostThreadNice} while kernels run (the adapter's threads share these CPU cores; Dawn's wait spins)`,
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
