import type { DeviceLimits, WantedFeature } from '../../src/gpu/device.js';
import type { BuildContext } from '../../src/kernels/family.js';

/** Fixed build contexts for building cases without a GPU (the case dump, layout tests). */

export const LAVAPIPE_LIMITS: DeviceLimits = {
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 4294967295,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupSizeZ: 1024,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 16,
  maxUniformBufferBindingSize: 65536,
};

/** A discrete GPU's shape of limits, its buffers capped at 512 MiB so the host arrays stay affordable. */
export const GPU_LIMITS: DeviceLimits = {
  ...LAVAPIPE_LIMITS,
  maxStorageBufferBindingSize: 2 ** 29,
  maxBufferSize: 2 ** 29,
  maxComputeWorkgroupStorageSize: 49152,
};

const ALL: WantedFeature[] = ['timestamp-query', 'shader-f16', 'subgroups'];

export const CONTEXTS: Record<'lavapipe' | 'lavapipe-no-subgroups' | 'gpu', Omit<BuildContext, 'seed'>> = {
  lavapipe: { limits: LAVAPIPE_LIMITS, features: new Set(ALL), subgroupMinSize: 8 },
  'lavapipe-no-subgroups': { limits: LAVAPIPE_LIMITS, features: new Set<WantedFeature>(['shader-f16']) },
  gpu: { limits: GPU_LIMITS, features: new Set(ALL), subgroupMinSize: 32 },
};
