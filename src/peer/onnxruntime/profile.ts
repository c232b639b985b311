/**
 * ONNX Runtime's profiling output (Chrome trace JSON, written by endProfiling()) read for the WebGPU EP's GPU
 * kernel times: with session profiling on, the EP brackets every program it dispatches with timestamp queries
 * and adds one event per program, category "Api", named "<node>&<op>&<program>", duration in microseconds.
 */

/** A kernel's part in a peer step: the operator's own work (attention, the MatMul), or work around it (cache copies, layout transposes). */
export type KernelRole = 'operator' | 'beyond';

/**
 * Programs that are not the operator's own work: CopyKVCache copies past K/V (and the new tokens) into the present
 * cache the attention kernels read; TransferBSDToBNSH / SplitPackedQKV / Transpose move layouts.
 */
const BEYOND_OPERATOR = /^(CopyKVCache|TransferBSDToBNSH|SplitPackedQKV|Transpose|Concat)/;

export function kernelRole(program: string): KernelRole {
  return BEYOND_OPERATOR.test(program) ? 'beyond' : 'operator';
}

export interface KernelEvent {
  /** The program's name (third part of the event name), e.g. FlashAttentionDecodeQKV. */
  program: string;
  durationMs: number;
}

/** One run's kernels, in dispatch order. */
export type KernelRun = readonly KernelEvent[];

interface TraceEvent {
  cat?: unknown;
  name?: unknown;
  dur?: unknown;
}

/** The GPU kernel events of a profile, in the order written (dispatch order). */
export function kernelEvents(profile: unknown): KernelEvent[] {
  if (!Array.isArray(profile)) throw new Error('ORT profile is not a JSON array of trace events');
  return (profile as TraceEvent[]).flatMap((event): KernelEvent[] => {
    if (event.cat !== 'Api' || typeof event.name !== 'string' || typeof event.dur !== 'number') return [];
    const parts = event.name.split('&');
    return [{ program: parts[parts.length - 1] ?? event.name, durationMs: event.dur / 1000 }];
  });
}

/**
 * The events split into `runs` runs of equal, identical program sequences (every run of a one-node model
 * dispatches the same programs); an error where they do not split so.
 */
export function splitRuns(events: readonly KernelEvent[], runs: number): KernelRun[] {
  if (runs < 1 || events.length === 0 || events.length % runs !== 0) {
    throw new Error(`ORT's profile has ${events.length} GPU kernel events for ${runs} runs: cannot tell the runs apart`);
  }
  const perRun = events.length / runs;
  const split = Array.from({ length: runs }, (_, r) => events.slice(r * perRun, (r + 1) * perRun));
  const names = (run: KernelRun): string => run.map((e) => e.program).join(',');
  const first = names(split[0] as KernelRun);
  const odd = split.find((run) => names(run) !== first);
  if (odd) throw new Error(`ORT's runs dispatched different programs (${first} against ${names(odd)})`);
  return split;
}

export interface KernelSeries {
  /** Program names of one run, in dispatch order (a program dispatched twice appears twice). */
  programs: string[];
  /** Per run: the summed durations of the operator's own kernels, and of the rest. */
  operatorMs: number[];
  beyondMs: number[];
  /** Per program slot (index into programs): its duration in each run. */
  perKernelMs: number[][];
}

export function kernelSeries(runs: readonly KernelRun[]): KernelSeries {
  const programs = (runs[0] ?? []).map((e) => e.program);
  const sum = (run: KernelRun, role: KernelRole): number =>
    run.reduce((s, e) => (kernelRole(e.program) === role ? s + e.durationMs : s), 0);
  return {
    programs,
    operatorMs: runs.map((run) => sum(run, 'operator')),
    beyondMs: runs.map((run) => sum(run, 'beyond')),
    perKernelMs: programs.map((_, i) => runs.map((run) => (run[i] as KernelEvent).durationMs)),
  };
}
