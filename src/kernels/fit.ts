import type { DeviceLimits } from '../core/device-facts.js';
import { bindingsMisfit, buffersMisfit, caseBytes, memoryMisfit, type KernelCase } from './spec.js';

/** What a case is checked against: the device's limits and, where known, the memory its buffers may take. */
export interface DeviceBudget {
  limits: DeviceLimits;
  /** Bytes of device memory a case's buffers may take; unknown (WebGPU does not say): not checked. */
  memoryBytes?: number;
}

/**
 * Why a declared case cannot run on a device, naming what it would need, or null: a buffer past a binding or the
 * largest buffer, a dispatch past the workgroups per dimension, a stage binding more storage buffers than a stage
 * may (a cache spread over many buffers), all buffers together past the device's memory.
 */
export function caseMisfit(kernelCase: Pick<KernelCase, 'buffers' | 'stages' | 'hostTail'>, device: DeviceBudget): string | null {
  const { limits } = device;
  const buffers = buffersMisfit(kernelCase.buffers, limits);
  if (buffers) return buffers;
  for (const stage of kernelCase.stages) {
    const over = stage.workgroups.find((n) => (n ?? 1) > limits.maxComputeWorkgroupsPerDimension);
    if (over !== undefined) {
      return `stage ${stage.name} needs ${over} workgroups in one dimension, above the device's maxComputeWorkgroupsPerDimension (${limits.maxComputeWorkgroupsPerDimension})`;
    }
  }
  const stages = [...kernelCase.stages, ...(kernelCase.hostTail?.templates ?? [])];
  return bindingsMisfit(stages, kernelCase.buffers, limits) ?? memoryMisfit(caseBytes(kernelCase.buffers), device.memoryBytes);
}
