/** The adapter facts that say what kind of device it is: as WebGPU reports them and as results files record them. */
export interface AdapterKindFacts {
  isFallbackAdapter: boolean;
  architecture: string;
}

/** Software and fallback adapters (lavapipe, SwiftShader, WARP): their "GPU" is threads on the host's cores. */
export function isSoftwareAdapter(adapter: AdapterKindFacts): boolean {
  return adapter.isFallbackAdapter || adapter.architecture === 'software';
}
