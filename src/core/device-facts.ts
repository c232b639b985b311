/** The adapter limits a benchmark needs, requested at the adapter's own maximum. */
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
] as const;
export type LimitName = (typeof REQUESTED_LIMITS)[number];
export type DeviceLimits = Record<LimitName, number>;

/** The optional features a benchmark uses where the adapter has them. */
export const WANTED_FEATURES = ['timestamp-query', 'shader-f16', 'subgroups'] as const;
export type WantedFeature = (typeof WANTED_FEATURES)[number];

/** Where an invocation's private arrays live: a GPU's register file, or a CPU adapter's thread stack. */
export type PrivateMemory = 'registers' | 'stack';

/** What every buffer is for, as the memory tracker and the results report it. */
export const MEMORY_ROLES = ['weights', 'kv-cache', 'activations', 'scratch'] as const;
export type MemoryRole = (typeof MEMORY_ROLES)[number];
