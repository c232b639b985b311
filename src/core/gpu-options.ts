/** The graphics APIs Dawn runs on. */
export const BACKENDS = ['vulkan', 'metal', 'd3d12', 'opengl'] as const;
export type Backend = (typeof BACKENDS)[number];
export const POWER_PREFERENCES = ['low-power', 'high-performance'] as const;
export type PowerPreference = (typeof POWER_PREFERENCES)[number];

/**
 * How to open the GPU: one shape from the command line to the results file (config.gpu) and back (a resumed
 * run opens the adapter its journal names).
 */
export interface GpuOptions {
  /** Substring of the adapter name, as Dawn's `adapter=` flag matches it. */
  adapter: string | null;
  backend: Backend | null;
  powerPreference: PowerPreference | null;
  /** Bounds-checking of buffer accesses in shaders (Dawn's default). Off: `disable_robustness`. */
  robustness: boolean;
}

export const DEFAULT_GPU_OPTIONS: GpuOptions = { adapter: null, backend: null, powerPreference: null, robustness: true };
