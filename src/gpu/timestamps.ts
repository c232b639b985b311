import { waitForAdapter } from './host-priority.js';
import type { TrackedAllocator } from './memory.js';

/** One timestamped compute pass: GPU clock, ns, arbitrary epoch. */
export interface PassSpan {
  beginNs: bigint;
  endNs: bigint;
}

/**
 * What a run of passes' timestamps may not be: a pass ending before it began (a clock that wrapped or was
 * reset, or timestamps never written), or passes that together took no time at all (work below the timer's
 * resolution). Such a sample is no measurement; the case says why instead of reporting a zero or negative time.
 */
export function timestampProblem(spans: readonly PassSpan[]): string | null {
  const backwards = spans.filter((s) => s.endNs < s.beginNs).length;
  if (backwards)
    return `GPU timestamps went backwards in ${backwards} of ${spans.length} pass(es): the adapter's timer cannot be trusted here`;
  if (spans.length && spans.every((s) => s.endNs === s.beginNs))
    return `GPU timestamps stood still over ${spans.length} pass(es): the work is below the timer's resolution`;
  return null;
}

/** Sum of the passes' durations in ms. */
export function totalMs(spans: readonly PassSpan[]): number {
  let total = 0n;
  for (const s of spans) total += s.endNs - s.beginNs;
  return Number(total) / 1e6;
}

export class TimestampError extends Error {}

/**
 * A timestamp query set with its resolve and readback buffers: up to `passes` compute passes, each writing its
 * begin and end. The one place that resolves and reads GPU timestamps back (timing and the profile's timeline).
 */
export class TimestampQueries {
  private constructor(
    private readonly allocator: TrackedAllocator,
    private readonly querySet: GPUQuerySet,
    private readonly resolve: GPUBuffer,
    private readonly readback: GPUBuffer,
    readonly passes: number,
  ) {}

  static create(device: GPUDevice, allocator: TrackedAllocator, passes: number, label: string): TimestampQueries {
    const count = 2 * passes;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolve = allocator.createBuffer('scratch', {
      label,
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readback = allocator.createBuffer('scratch', {
      label: `${label}-readback`,
      size: count * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    return new TimestampQueries(allocator, querySet, resolve, readback, passes);
  }

  /** The descriptor of timestamped pass `index`. */
  pass(index: number): GPUComputePassDescriptor {
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 } };
  }

  /** Resolves the first `count` passes' timestamps into the readback buffer, in the same submission. */
  encodeResolve(encoder: GPUCommandEncoder, count: number): void {
    encoder.resolveQuerySet(this.querySet, 0, 2 * count, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16 * count);
  }

  /** After the submission with encodeResolve: each pass's span; a TimestampError where they cannot be a time. */
  async read(count: number): Promise<PassSpan[]> {
    await waitForAdapter(this.readback.mapAsync(GPUMapMode.READ, 0, 16 * count));
    const stamps = new BigUint64Array(this.readback.getMappedRange(0, 16 * count).slice(0));
    this.readback.unmap();
    const spans = Array.from({ length: count }, (_, i) => ({ beginNs: stamps[2 * i] ?? 0n, endNs: stamps[2 * i + 1] ?? 0n }));
    const problem = timestampProblem(spans);
    if (problem) throw new TimestampError(problem);
    return spans;
  }

  dispose(): void {
    this.querySet.destroy();
    this.allocator.destroy(this.resolve);
    this.allocator.destroy(this.readback);
  }
}
