import type { GpuContext } from './device.js';
import type { PreparedCase } from './executor.js';
import type { TrackedAllocator } from './memory.js';
import { getPipeline } from './pipelines.js';

/**
 * batch: N back-to-back repeats of the case in one timed compute pass (caches warm).
 * cold: one repeat after a pass that streams a scratch buffer larger than the last-level cache.
 */
export type TimingMode = 'batch' | 'cold';

export interface TimedSample {
  /** GPU time of one repeat, from timestamp queries; null where the adapter has no timestamp-query. */
  gpuMs: number | null;
  /** Host time from submit to the results being readable, for the whole submission. */
  wallMs: number;
}

const FLUSH_WORKGROUP = 256;

/** Streams a scratch buffer through the caches (read-modify-write of every word). */
class CacheFlusher {
  private constructor(
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroup: GPUBindGroup,
    private readonly workgroups: [number, number],
    readonly bytes: number,
  ) {}

  static async create(context: GpuContext, allocator: TrackedAllocator, bytes: number): Promise<CacheFlusher> {
    const words = Math.floor(bytes / 16) * 4;
    const buffer = allocator.createBuffer('scratch', { label: 'cache-flush', size: words * 4, usage: GPUBufferUsage.STORAGE });
    const { pipeline } = await getPipeline(context.device, {
      name: 'cache-flush',
      shader: 'cache_flush.wgsl',
      dtype: 'f32',
      bindings: ['scratch'],
      workgroups: [1],
      work: { flops: 0, bytesRead: 0, bytesWritten: 0 },
      constants: { WORKGROUP_SIZE: FLUSH_WORKGROUP },
    });
    const bindGroup = context.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer } }],
    });
    const groups = Math.ceil(words / 4 / FLUSH_WORKGROUP);
    const maxPerDim = context.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, maxPerDim);
    return new CacheFlusher(pipeline, bindGroup, [x, Math.ceil(groups / x)], words * 4);
  }

  encode(encoder: GPUCommandEncoder): void {
    const pass = encoder.beginComputePass();
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(this.workgroups[0], this.workgroups[1]);
    pass.end();
  }
}

/** Bytes of the cold-mode flush buffer: bigger than any last-level cache we know, within the device's limits. */
export function flushBytes(context: GpuContext): number {
  return Math.min(256 * 2 ** 20, context.limits.maxStorageBufferBindingSize, context.limits.maxBufferSize);
}

export class GpuTimer {
  private flusher: CacheFlusher | undefined;

  private constructor(
    private readonly context: GpuContext,
    private readonly allocator: TrackedAllocator,
    private readonly querySet: GPUQuerySet | undefined,
    private readonly resolve: GPUBuffer | undefined,
    private readonly readback: GPUBuffer | undefined,
  ) {}

  static create(context: GpuContext, allocator: TrackedAllocator): GpuTimer {
    if (!context.features.has('timestamp-query')) return new GpuTimer(context, allocator, undefined, undefined, undefined);
    // Two passes' worth: a step with a host tail has a second pass after the readback.
    const querySet = context.device.createQuerySet({ type: 'timestamp', count: 4 });
    const resolve = allocator.createBuffer('scratch', {
      label: 'timestamps',
      size: 32,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readback = allocator.createBuffer('scratch', {
      label: 'timestamps-readback',
      size: 32,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    return new GpuTimer(context, allocator, querySet, resolve, readback);
  }

  get hasTimestamps(): boolean {
    return this.querySet !== undefined;
  }

  /** One timed submission: the whole case, or only the dispatches listed in `only` (one stage timed on its own). */
  async sample(prepared: PreparedCase, mode: TimingMode, repeats: number, only?: readonly number[]): Promise<TimedSample> {
    const { device } = this.context;
    if (mode === 'cold' && !this.flusher) {
      this.flusher = await CacheFlusher.create(this.context, this.allocator, flushBytes(this.context));
    }
    if (prepared.spec.hostTail && !only) return this.sampleHostTailStep(prepared, mode);
    const encoder = device.createCommandEncoder();
    if (mode === 'cold') this.flusher?.encode(encoder);
    const timestampWrites = this.querySet
      ? { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 }
      : undefined;
    const pass = encoder.beginComputePass(timestampWrites ? { timestampWrites } : {});
    const count = mode === 'cold' ? 1 : repeats;
    prepared.encode(pass, count, only);
    pass.end();
    if (this.querySet && this.resolve && this.readback) {
      encoder.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      encoder.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
    }
    const commands = encoder.finish();
    const start = performance.now();
    device.queue.submit([commands]);
    let gpuMs: number | null = null;
    if (this.readback) {
      await this.readback.mapAsync(GPUMapMode.READ);
      const [begin, end] = new BigUint64Array(this.readback.getMappedRange().slice(0));
      this.readback.unmap();
      gpuMs = Number((end ?? 0n) - (begin ?? 0n)) / 1e6 / count;
    } else {
      await device.queue.onSubmittedWorkDone();
    }
    return { gpuMs, wallMs: performance.now() - start };
  }

  /**
   * One step of a case with a host tail: stages + readback copy, submit, map the readback, plan, the tail's pass,
   * submit, wait. wallMs spans all of it; gpuMs is the two passes' GPU time (the round trip between them excluded).
   */
  private async sampleHostTailStep(prepared: PreparedCase, mode: TimingMode): Promise<TimedSample> {
    const { device } = this.context;
    const pass = (encoder: GPUCommandEncoder, first: number): GPUComputePassEncoder =>
      encoder.beginComputePass(
        this.querySet ? { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: first, endOfPassWriteIndex: first + 1 } } : {},
      );
    const head = device.createCommandEncoder();
    if (mode === 'cold') this.flusher?.encode(head);
    const headPass = pass(head, 0);
    prepared.encode(headPass);
    headPass.end();
    prepared.encodeTailReadback(head);
    const headCommands = head.finish();
    const start = performance.now();
    device.queue.submit([headCommands]);
    const dispatches = await prepared.planTail();
    const tail = device.createCommandEncoder();
    const tailPass = pass(tail, 2);
    prepared.encodeTail(tailPass, dispatches);
    tailPass.end();
    if (this.querySet && this.resolve && this.readback) {
      tail.resolveQuerySet(this.querySet, 0, 4, this.resolve, 0);
      tail.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 32);
    }
    device.queue.submit([tail.finish()]);
    let gpuMs: number | null = null;
    if (this.readback) {
      await this.readback.mapAsync(GPUMapMode.READ);
      const [b0 = 0n, e0 = 0n, b1 = 0n, e1 = 0n] = new BigUint64Array(this.readback.getMappedRange().slice(0));
      this.readback.unmap();
      gpuMs = Number(e0 - b0 + (e1 - b1)) / 1e6;
    } else {
      await device.queue.onSubmittedWorkDone();
    }
    return { gpuMs, wallMs: performance.now() - start };
  }

  dispose(): void {
    this.querySet?.destroy();
    if (this.resolve) this.allocator.destroy(this.resolve);
    if (this.readback) this.allocator.destroy(this.readback);
  }
}
