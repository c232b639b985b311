import type { BytesByRole } from '../gpu/memory.js';
import type { Timeline } from '../gpu/timeline.js';

/** Chrome trace-event format (the JSON object form), as chrome://tracing and Perfetto read it. Times in us. */
export type TraceEvent =
  | {
      ph: 'M';
      name: 'process_name' | 'thread_name' | 'process_sort_index' | 'thread_sort_index';
      pid: number;
      tid: number;
      ts: 0;
      args: { name?: string; sort_index?: number };
    }
  | { ph: 'X'; name: string; cat: string; pid: number; tid: number; ts: number; dur: number; args?: Record<string, string | number> }
  | { ph: 'C'; name: string; pid: number; tid: number; ts: number; args: Record<string, number> };

export interface TraceFile {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, string | number>;
}

export interface MemorySample {
  ms: number;
  bytes: BytesByRole;
}

export interface HostPhase {
  name: string;
  startMs: number;
  endMs: number;
}

export interface TraceInput {
  caseKey: string;
  adapter: string;
  /** performance.now() of the trace's zero. */
  originMs: number;
  timeline: Timeline | null;
  memory: MemorySample[];
  phases: HostPhase[];
  otherData?: Record<string, string | number>;
}

const GPU_PID = 1;
const HOST_PID = 2;
const MEMORY_PID = 3;

const us = (ms: number): number => Math.round(ms * 1e3 * 1000) / 1000;

/**
 * GPU and host clocks are not synchronised in WebGPU: each iteration's GPU spans keep their measured
 * durations and gaps, placed from that iteration's host submit time.
 */
export function buildTrace(input: TraceInput): TraceFile {
  const meta: TraceEvent[] = [];
  const events: TraceEvent[] = [];
  const name = (pid: number, tid: number, kind: 'process_name' | 'thread_name', text: string): void => {
    meta.push({ ph: 'M', name: kind, pid, tid, ts: 0, args: { name: text } });
  };
  name(GPU_PID, 0, 'process_name', `GPU: ${input.adapter}`);
  name(HOST_PID, 0, 'process_name', 'host');
  name(MEMORY_PID, 0, 'process_name', 'GPU memory');
  meta.push({ ph: 'M', name: 'process_sort_index', pid: GPU_PID, tid: 0, ts: 0, args: { sort_index: 1 } });
  meta.push({ ph: 'M', name: 'process_sort_index', pid: HOST_PID, tid: 0, ts: 0, args: { sort_index: 2 } });
  meta.push({ ph: 'M', name: 'process_sort_index', pid: MEMORY_PID, tid: 0, ts: 0, args: { sort_index: 3 } });

  if (input.timeline) {
    const stages = [...new Set(input.timeline.passes.map((p) => p.stage))];
    stages.forEach((stage, i) => {
      name(GPU_PID, i + 1, 'thread_name', stage);
      meta.push({ ph: 'M', name: 'thread_sort_index', pid: GPU_PID, tid: i + 1, ts: 0, args: { sort_index: i + 1 } });
    });
    name(HOST_PID, 2, 'thread_name', 'submit to done');
    for (const span of input.timeline.host) {
      const passes = input.timeline.passes.filter((p) => p.iteration === span.iteration);
      const gpuOrigin = Math.min(...passes.map((p) => p.gpuBeginNs));
      for (const pass of passes) {
        events.push({
          ph: 'X',
          name: pass.stage,
          cat: 'gpu',
          pid: GPU_PID,
          tid: stages.indexOf(pass.stage) + 1,
          ts: us(span.submitMs - input.originMs + (pass.gpuBeginNs - gpuOrigin) / 1e6),
          dur: us(Math.max(0, pass.gpuEndNs - pass.gpuBeginNs) / 1e6),
          args: { iteration: pass.iteration, dispatches: pass.dispatches, gpu_ms: (pass.gpuEndNs - pass.gpuBeginNs) / 1e6 },
        });
      }
      events.push({
        ph: 'X',
        name: `iteration ${span.iteration}`,
        cat: 'host',
        pid: HOST_PID,
        tid: 2,
        ts: us(span.submitMs - input.originMs),
        dur: us(span.doneMs - span.submitMs),
        args: { iteration: span.iteration },
      });
    }
  }
  name(HOST_PID, 1, 'thread_name', 'profiler');
  for (const phase of input.phases) {
    events.push({
      ph: 'X',
      name: phase.name,
      cat: 'host',
      pid: HOST_PID,
      tid: 1,
      ts: us(phase.startMs - input.originMs),
      dur: us(phase.endMs - phase.startMs),
    });
  }
  for (const sample of input.memory) {
    events.push({
      ph: 'C',
      name: 'GPU memory by role (bytes)',
      pid: MEMORY_PID,
      tid: 0,
      ts: us(Math.max(0, sample.ms - input.originMs)),
      args: { ...sample.bytes },
    });
  }
  events.sort((a, b) => a.ts - b.ts);
  return {
    traceEvents: [...meta, ...events],
    displayTimeUnit: 'ms',
    otherData: { tool: 'mla-bench profile', case: input.caseKey, adapter: input.adapter, ...input.otherData },
  };
}
