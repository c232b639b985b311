import type { GpuContext } from '../gpu/device.js';
import type { PreparedCase } from '../gpu/executor.js';
import type { TrackedAllocator } from '../gpu/memory.js';
import { casePhases } from '../kernels/spec.js';

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
export async function recordTimeline(context: GpuContext, allocator: TrackedAllocator, prepared: PreparedCase, iterations: number): Promise<Timeline | null> {
  if (!context.features.has('timestamp-query')) return null;
  const { device } = context;
  const phases = casePhases(prepared.spec);
  const count = phases.length * 2;
  const querySet = device.createQuerySet({ type: 'timestamp', count });
  const resolve = allocator.createBuffer('scratch', { label: 'timeline-timestamps', size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const readback = allocator.createBuffer('scratch', { label: 'timeline-readback', size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const passes: StagePass[] = [];
  const host: HostSpan[] = [];
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      const encoder = device.createCommandEncoder();
      phases.forEach((phase, index) => {
        const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 } });
        prepared.encode(pass, 1, phase.dispatches);
        pass.end();
      });
      encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, readback, 0, count * 8);
      const commands = encoder.finish();
      const submitMs = performance.now();
      device.queue.submit([commands]);
      await readback.mapAsync(GPUMapMode.READ);
      const doneMs = performance.now();
      const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
      readback.unmap();
      host.push({ iteration, submitMs, doneMs });
      phases.forEach((phase, index) => {
        passes.push({
          iteration,
          stage: phase.name,
          dispatches: phase.dispatches.length,
          gpuBeginNs: Number(stamps[2 * index] ?? 0n),
          gpuEndNs: Number(stamps[2 * index + 1] ?? 0n),
        });
      });
    }
  } finally {
    querySet.destroy();
    allocator.destroy(resolve);
    allocator.destroy(readback);
  }
  return { passes, host };
}
