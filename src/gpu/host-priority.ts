import { getPriority, setPriority } from 'node:os';
import { isSoftwareAdapter, type AdapterKindFacts } from '../util/adapter-kind.js';

/** Also here for the code that opens devices; the report layer imports it from src/util, never from src/gpu. */
export { isSoftwareAdapter };

/** Nice value the host thread takes while a CPU adapter runs the kernels (the lowest priority). */
export const HOST_NICE_ON_CPU_ADAPTER = 19;

/**
 * Dawn's node bindings wait for GPU work by spinning the main thread (a setImmediate loop that processes
 * events while any mapAsync or onSubmittedWorkDone is pending). On a CPU adapter the kernels run on worker
 * threads that share the host's cores, so that spin takes a core away from what is being measured: on 2 cores
 * it cut the calibrated ceilings to about half (copy 3.7 vs 6.9 GB/s, f32 FMA 22 vs 37-44 GFLOP/s) and made them
 * drift from run to run. On Linux the nice value is per thread: lowering the calling thread's alone (after the
 * device, and with it the adapter's worker threads, exists) leaves the spin only idle cycles. Elsewhere (macOS,
 * Windows) it would lower the whole process, workers included, so it is left alone there.
 *
 * Returns the host thread's nice value when it was lowered, else null.
 */
export function yieldHostThread(adapter: AdapterKindFacts, platform = process.platform): number | null {
  if (platform !== 'linux' || !isSoftwareAdapter(adapter)) return null;
  try {
    setPriority(HOST_NICE_ON_CPU_ADAPTER);
    return getPriority();
  } catch {
    return null;
  }
}
