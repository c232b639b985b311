import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpuContext } from '../gpu/device.js';
import type { Environment } from './schema.js';

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function packageVersion(name?: string): string {
  const path = name ? join(PACKAGE_ROOT, 'node_modules', name, 'package.json') : join(PACKAGE_ROOT, 'package.json');
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function toolVersion(): string {
  return packageVersion();
}

export function gitSha(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export function environmentOf(context: GpuContext): Environment {
  const cpuList = cpus();
  return {
    adapter: context.adapter,
    device: { features: [...context.device.features].sort(), limits: { ...context.limits } },
    toggles: context.toggles,
    robustness: context.options.robustness !== false,
    hostThreadNice: context.hostThreadNice,
    hostWait: context.hostWait,
    node: process.version,
    dawn: `webgpu@${packageVersion('webgpu')}`,
    os: { platform: process.platform, release: release(), arch: process.arch },
    cpu: { model: cpuList[0]?.model.trim() ?? 'unknown', cores: cpuList.length },
    memoryBytes: totalmem(),
  };
}

/** A file-name-safe name for the device, e.g. `llvmpipe-llvm-15-0-6-256-bits`. */
export function deviceSlug(context: Pick<GpuContext, 'adapter'>): string {
  const { adapter } = context;
  const name = adapter.device || adapter.description || adapter.vendor || 'gpu';
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'gpu';
}
