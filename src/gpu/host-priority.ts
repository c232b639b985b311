import { getPriority, setPriority } from 'node:os';
import { isSoftwareAdapter, type AdapterKindFacts } from '../util/adapter-kind.js';

/** Also here for the code that opens devices; the report layer imports it from src/util, never from src/gpu. */
export { isSoftwareAdapter };

/** Nice value the host thread takes while it waits for a CPU adapter's kernels (the lowest priority). */
export const HOST_NICE_ON_CPU_ADAPTER = 19;

/**
 * How the host thread's priority follows its waits for the adapter (`kind`), and whether it sleeps through them.
 * - `none`: a GPU, or not Linux (there the nice value is per process: lowering it would lower the adapter's
 *   workers too).
 * - `while-waiting`: lowered around each wait and raised back after, so the host's own work (compiling pipelines,
 *   float64 references, uploads) keeps its normal priority against other processes.
 * - `always`: lowered once and left there, where raising it back is not permitted (no CAP_SYS_NICE and an
 *   RLIMIT_NICE below the normal value).
 * - `sleeps` (every CPU adapter): the thread sleeps between Dawn's event ticks instead of spinning through the wait.
 */
export type HostYield = { readonly sleeps: boolean } & (
  | { readonly kind: 'none' }
  | { readonly kind: 'while-waiting'; readonly nice: number; readonly normal: number }
  | { readonly kind: 'always'; readonly nice: number }
);

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
 * lowering the waiting thread's leaves the spin fewer cycles. Lowering it for good starved the host's own work
 * beside other CPU-bound processes (a calibration took 347 s beside two `yes`), hence `while-waiting`. Even at nice
 * 19 the spin still slowed a 2-core lavapipe kernel by a third (Llama-3-8B prefill: 12.3 ms of GPU time against
 * 8.4 ms with the thread blocked, paired), so a CPU adapter's waits also sleep (`sleeps`, on every platform).
 */
export function chooseHostYield(
  adapter: AdapterKindFacts,
  platform = process.platform,
  thread: ThreadPriority = { getPriority, setPriority },
): HostYield {
  const sleeps = isSoftwareAdapter(adapter);
  if (platform !== 'linux' || !sleeps) return { kind: 'none', sleeps };
  let normal: number;
  try {
    normal = thread.getPriority();
    thread.setPriority(HOST_NICE_ON_CPU_ADAPTER);
  } catch {
    return { kind: 'none', sleeps };
  }
  const nice = thread.getPriority();
  try {
    thread.setPriority(normal);
    return { kind: 'while-waiting', nice, normal, sleeps };
  } catch {
    return { kind: 'always', nice, sleeps };
  }
}

/** The nice value the host thread has while it waits for the adapter, or null where it is left alone. */
export function niceWhileWaiting(mode: HostYield): number | null {
  return mode.kind === 'none' ? null : mode.nice;
}

/** Bounds of a sleep between two event ticks: short waits stay responsive, long ones wake rarely. */
const MIN_SLEEP_MS = 0.02;
const MAX_SLEEP_MS = 1;

/**
 * How long the waiting host thread sleeps before its next event tick, `elapsedMs` into a wait: a tenth of it
 * (so a wait ends at most ~10% late), within MIN_SLEEP_MS and MAX_SLEEP_MS.
 */
export function sleepSliceMs(elapsedMs: number): number {
  return Math.min(MAX_SLEEP_MS, Math.max(MIN_SLEEP_MS, elapsedMs / 10));
}

let current: HostYield = { kind: 'none', sleeps: false };
let waiting = 0;
let waitStartedAt = 0;
let sleeping = false;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Sets how this process's host thread waits (the thread is process state, so this is too); returns it. */
export function useHostYield(mode: HostYield): HostYield {
  current = mode;
  return mode;
}

/**
 * While any wait is pending: block the thread for a slice (Atomics.wait, no CPU), then let one turn of the event
 * loop run (Dawn's tick, which settles what finished), and again. One loop serves every concurrent wait.
 */
async function sleepThroughWaits(): Promise<void> {
  sleeping = true;
  try {
    while (waiting > 0) {
      Atomics.wait(sleepCell, 0, 0, sleepSliceMs(performance.now() - waitStartedAt));
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    sleeping = false;
  }
}

/**
 * Awaits GPU work as the host yields to the adapter (see HostYield): the thread lowered for the wait alone (nested
 * waits lower it once), and asleep between event ticks where it sleeps.
 */
export async function waitForAdapter<T>(pending: Promise<T>): Promise<T> {
  const mode = current;
  if (mode.kind !== 'while-waiting' && !mode.sleeps) return pending;
  if (waiting++ === 0) {
    waitStartedAt = performance.now();
    if (mode.kind === 'while-waiting') setPriority(mode.nice);
  }
  if (mode.sleeps && !sleeping) void sleepThroughWaits();
  try {
    return await pending;
  } finally {
    if (--waiting === 0 && mode.kind === 'while-waiting') setPriority(mode.normal);
  }
}
