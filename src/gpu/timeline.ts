import { casePhases } from '../kernels/spec.js';
import type { GpuContext } from './device.js';
import type { PreparedCase } from './executor.js';
import type { TrackedAllocator } from './memory.js';
import { TimestampQueries } from './timestamps.js';

/** One stage's own compute pass in one iteration: GPU timestamps in ns (the GPU's clock, arbitrary epoch). */
export interface StagePass {
  iteration: number;
  stage: string;
  dispatches: number;
  gpuBeginNs: number;
  gpuEndNs: number;
}

/** One iteration's submission as the host saw it (performance.now() ms). */
export interface HostSpan {
  iteration: number;
  submitMs: number;
  doneMs: number;
}

export interface Timeline {
  passes: StagePass[];
  host: HostSpan[];
}

/**
 * Runs the case `iterations` times, each stage in its own timestamped compute pass, one submission per
 * iteration: the per-stage GPU spans in sequence, for the trace. Null where the adapter has no timestamp-query.
 */
export async function recordTimeline(
  context: GpuContext,
  allocator: TrackedAllocator,
  prepared: PreparedCase,
  iterations: number,
): Promise<Timeline | null> {
  if (!context.features.has('timestamp-query')) return null;
  const { device } = context;
  const phases = casePhases(prepared.spec);
  const timestamps = TimestampQueries.create(device, allocator, phases.length, 'timeline-timestamps');
  const passes: StagePass[] = [];
  const host: HostSpan[] = [];
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      const encoder = device.createCommandEncoder();
      phases.forEach((phase, index) => {
        const pass = encoder.beginComputePass(timestamps.pass(index));
        prepared.encode(pass, 1, phase.dispatches);
        pass.end();
      });
      timestamps.encodeResolve(encoder, phases.length);
      const commands = encoder.finish();
      const submitMs = performance.now();
      device.queue.submit([commands]);
      const spans = await timestamps.read(phases.length);
      const doneMs = performance.now();
      host.push({ iteration, submitMs, doneMs });
      phases.forEach((phase, index) => {
        const span = spans[index]!;
        passes.push({
          iteration,
          stage: phase.name,
          dispatches: phase.dispatches.length,
          gpuBeginNs: Number(span.beginNs),
          gpuEndNs: Number(span.endNs),
        });
      });
    }
  } finally {
    timestamps.dispose();
  }
  return { passes, host };
}
