import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isSoftwareAdapter, type AdapterKindFacts } from '../../util/adapter-kind.js';

/**
 * ORT's WebGPU EP brings its own Dawn, which picks its own adapter (Vulkan on Linux, the first high-performance
 * one; onnxruntime-node exposes no adapter choice). Where mla-bench runs on lavapipe, the Vulkan loader is told
 * to list only lavapipe's ICD (VK_ICD_FILENAMES, read when ORT's Dawn creates its instance, after ours exists),
 * so ORT cannot land on another adapter. Elsewhere ORT's default is recorded as such.
 */

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

export function lavapipeIcd(dirs: readonly string[] = ICD_DIRS): string | null {
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const file = readdirSync(dir).find((name) => /^lvp_icd.*\.json$/.test(name));
    if (file) return join(dir, file);
  }
  return null;
}

/** How ORT's adapter was made the case's: a line for the results. Sets VK_ICD_FILENAMES where that is how. */
export function pinPeerAdapter(adapter: AdapterKindFacts & { description: string }, env: NodeJS.ProcessEnv = process.env): string {
  if (env['VK_ICD_FILENAMES'] || env['VK_DRIVER_FILES'])
    return `the Vulkan ICDs this process was given (${env['VK_DRIVER_FILES'] ?? env['VK_ICD_FILENAMES']})`;
  if (process.platform === 'linux' && isSoftwareAdapter(adapter) && /llvmpipe|lavapipe/i.test(adapter.description)) {
    const icd = lavapipeIcd();
    if (icd) {
      env['VK_ICD_FILENAMES'] = icd;
      return `lavapipe only (VK_ICD_FILENAMES=${icd})`;
    }
  }
  return "ORT's default adapter (onnxruntime-node cannot pick one)";
}
