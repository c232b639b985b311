import { getPriority, setPriority } from 'node:os';
import { isSoftwareAdapter, type AdapterKindFacts } from '../util/adapter-kind.js';

/** Also here for the code that opens devices; the report layer imports it from src/util, never from src/gpu. */
export { isSoftwareAdapter };

/** Nice value the host thread takes while it waits for a CPU adapter's kernels (the lowest priority). */
export const HOST_NICE_ON_CPU_ADAPTER = 19;

/**
 * How the host thread's priority follows its waits for the adapter.
 * - `none`: a GPU, or not Linux (there the nice value is per process: lowering it would lower the adapter's
 *   workers too).
 * - `while-waiting`: lowered around each wait and raised back after, so the host's own work (compiling pipelines,
 *   float64 references, uploads) keeps its normal priority against other processes.
 * - `always`: lowered once and left there, where raising it back is not permitted (no CAP_SYS_NICE and an
 *   RLIMIT_NICE below the normal value).
 */
export type HostYield =
  | { readonly kind: 'none' }
  | { readonly kind: 'while-waiting'; readonly nice: number; readonly normal: number }
  | { readonly kind: 'always'; readonly nice: number };

/** The calling thread's nice value (node:os, where pid 0 is the calling thread on Linux). */
export interface ThreadPriority {
  getPriority(): number;
  setPriority(nice: number): void;
}

/**
 * Dawn's node bindings wait for GPU work by spinning the main thread (a setImmediate loop that processes events
 * while any mapAsync or onSubmittedWorkDone is pending). On a CPU adapter the kernels run on worker threads that
 * share the host's cores, so that spin takes a core away from what is being measured: on 2 cores it cut the
 * calibrated ceilings to about half and made them drift from run to run. On Linux the nice value is per thread:
 * lowering the waiting thread's alone leaves the spin only idle cycles. Lowering it for good starved the host's own
 * work beside other CPU-bound processes (a calibration took 347 s beside two `yes`), hence `while-waiting`.
 */
export function chooseHostYield(
  adapter: AdapterKindFacts,
  platform = process.platform,
  thread: ThreadPriority = { getPriority, setPriority },
): HostYield {
  if (platform !== 'linux' || !isSoftwareAdapter(adapter)) return { kind: 'none' };
  let normal: number;
  try {
    normal = thread.getPriority();
    thread.setPriority(HOST_NICE_ON_CPU_ADAPTER);
  } catch {
    return { kind: 'none' };
  }
  const nice = thread.getPriority();
  try {
    thread.setPriority(normal);
    return { kind: 'while-waiting', nice, normal };
  } catch {
    return { kind: 'always', nice };
  }
}

/** The nice value the host thread has while it waits for the adapter, or null where it is left alone. */
export function niceWhileWaiting(mode: HostYield): number | null {
  return mode.kind === 'none' ? null : mode.nice;
}

let current: HostYield = { kind: 'none' };
let waiting = 0;

/** Sets how this process's host thread waits (the thread is process state, so this is too); returns it. */
export function useHostYield(mode: HostYield): HostYield {
  current = mode;
  return mode;
}

/** Awaits GPU work with the host thread lowered for the wait alone (see HostYield); nested waits lower it once. */
export async function waitForAdapter<T>(pending: Promise<T>): Promise<T> {
  const mode = current;
  if (mode.kind !== 'while-waiting') return pending;
  if (waiting++ === 0) setPriority(mode.nice);
  try {
    return await pending;
  } finally {
    if (--waiting === 0) setPriority(mode.normal);
  }
}
