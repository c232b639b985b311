import type { GpuContext } from './device.js';
import type { PreparedCase } from './executor.js';
import { waitForAdapter } from './host-priority.js';
import type { TrackedAllocator } from './memory.js';
import { getPipeline } from './pipelines.js';
import { TimestampQueries, totalMs } from './timestamps.js';

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

/** A minimal dispatch (one workgroup, one store per lane) for the pass probe (samplePassProbe). */
class PassProbe {
  private constructor(
    private readonly pipeline: GPUComputePipeline,
    private readonly bindGroup: GPUBindGroup,
  ) {}

  static async create(context: GpuContext, allocator: TrackedAllocator): Promise<PassProbe> {
    const lanes = 64;
    const params = allocator.createBuffer('scratch', { label: 'pass-probe-params', size: 16, usage: GPUBufferUsage.UNIFORM });
    const result = allocator.createBuffer('scratch', { label: 'pass-probe-result', size: lanes * 4, usage: GPUBufferUsage.STORAGE });
    const { pipeline } = await getPipeline(context.device, {
      name: 'pass-probe',
      shader: 'dispatch.wgsl',
      dtype: 'f32',
      bindings: ['params', 'result'],
      workgroups: [1],
      work: { flops: 0, bytesRead: 0, bytesWritten: lanes * 4 },
      constants: { WORKGROUP_SIZE: lanes },
    });
    const bindGroup = context.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: params } },
        { binding: 1, resource: { buffer: result } },
      ],
    });
    return new PassProbe(pipeline, bindGroup);
  }

  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(1);
  }
}

/** What one timed submission holds: the whole case in one pass, one stage in its pipeline, or the pass probe. */
export type TimedSeries = { kind: 'case' } | { kind: 'stage'; dispatches: readonly number[] } | { kind: 'pass-probe' };
export const WHOLE_CASE: TimedSeries = { kind: 'case' };
export const PASS_PROBE: TimedSeries = { kind: 'pass-probe' };

/** Bytes of the cold-mode flush buffer: bigger than any last-level cache we know, within the device's limits. */
export function flushBytes(context: GpuContext): number {
  return Math.min(256 * 2 ** 20, context.limits.maxStorageBufferBindingSize, context.limits.maxBufferSize);
}

/**
 * Most repeats of a stage timed in its pipeline per sample: each repeat is its own timestamped pass, two
 * queries each, and a query set holds at most 4096.
 */
export const MAX_STAGE_REPEATS = 1024;

export class GpuTimer {
  private flusher: CacheFlusher | undefined;
  private probe: PassProbe | undefined;

  private constructor(
    private readonly context: GpuContext,
    private readonly allocator: TrackedAllocator,
    private readonly timestamps: TimestampQueries | undefined,
  ) {}

  static create(context: GpuContext, allocator: TrackedAllocator): GpuTimer {
    if (!context.features.has('timestamp-query')) return new GpuTimer(context, allocator, undefined);
    // A stage timed in its pipeline: one pass per repeat (a host-tail step needs two passes, fewer).
    return new GpuTimer(context, allocator, TimestampQueries.create(context.device, allocator, MAX_STAGE_REPEATS, 'timestamps'));
  }

  get hasTimestamps(): boolean {
    return this.timestamps !== undefined;
  }

  /** Where a stage is timed: inside its pipeline (needs timestamp queries), else alone by wall time. */
  get stagePlacement(): 'in-pipeline' | 'alone' {
    return this.hasTimestamps ? 'in-pipeline' : 'alone';
  }

  /**
   * One timed submission: the whole case in one pass (N repeats), one stage timed in its pipeline
   * (sampleStageInPipeline), or the pass probe (samplePassProbe).
   */
  async sample(prepared: PreparedCase, mode: TimingMode, repeats: number, series: TimedSeries = WHOLE_CASE): Promise<TimedSample> {
    if (mode === 'cold' && !this.flusher) {
      this.flusher = await CacheFlusher.create(this.context, this.allocator, flushBytes(this.context));
    }
    switch (series.kind) {
      case 'pass-probe':
        return this.samplePassProbe(repeats);
      case 'stage':
        // Without timestamp queries a stage can only be timed alone, by the wall time of N repeats of it.
        return this.timestamps
          ? this.sampleStageInPipeline(prepared, mode, repeats, series.dispatches)
          : this.sampleOnePass(prepared, mode, repeats, series.dispatches);
      case 'case':
        return prepared.spec.hostTail ? this.sampleHostTailStep(prepared, mode) : this.sampleOnePass(prepared, mode, repeats);
    }
  }

  /** Every stage (or only `dispatches`) N times in one timed pass; gpuMs per repeat. */
  private async sampleOnePass(
    prepared: PreparedCase,
    mode: TimingMode,
    repeats: number,
    dispatches?: readonly number[],
  ): Promise<TimedSample> {
    const encoder = this.context.device.createCommandEncoder();
    if (mode === 'cold') this.flusher?.encode(encoder);
    const pass = encoder.beginComputePass(this.timestampWrites(0));
    const count = mode === 'cold' ? 1 : repeats;
    prepared.encode(pass, count, dispatches);
    pass.end();
    const sample = await this.submitAndReadPasses(encoder, 1);
    return { gpuMs: sample.gpuMs === null ? null : sample.gpuMs / count, wallMs: sample.wallMs };
  }

  private timestampWrites(pass: number): GPUComputePassDescriptor {
    return this.timestamps?.pass(pass) ?? {};
  }

  /**
   * One stage timed where it runs: each repeat is the case's whole pipeline, the stage in its own timestamped
   * pass and the dispatches before and after it in untimed passes, so the stage starts from the state its
   * producers leave (their outputs just written, the caches as the pipeline leaves them), as it does end to
   * end. A stage repeated alone instead finds its own inputs and working set warm: on lavapipe a decode reduce
   * took 0.13 ms alone against 0.22-0.25 ms right after its attend. gpuMs is the mean of the stage's passes;
   * wallMs spans the whole submission, every stage included. A host tail's dispatches are not part of it.
   */
  private async sampleStageInPipeline(
    prepared: PreparedCase,
    mode: TimingMode,
    repeats: number,
    stage: readonly number[],
  ): Promise<TimedSample> {
    const { device } = this.context;
    const first = Math.min(...stage);
    const last = Math.max(...stage);
    const all = prepared.stages.map((_, index) => index);
    const before = all.filter((index) => index < first);
    const after = all.filter((index) => index > last);
    const count = mode === 'cold' ? 1 : Math.min(repeats, MAX_STAGE_REPEATS);
    const encoder = device.createCommandEncoder();
    if (mode === 'cold') this.flusher?.encode(encoder);
    const untimed = (dispatches: readonly number[]): void => {
      if (dispatches.length === 0) return;
      const pass = encoder.beginComputePass();
      prepared.encode(pass, 1, dispatches);
      pass.end();
    };
    untimed(before);
    for (let r = 0; r < count; r++) {
      const pass = encoder.beginComputePass(this.timestampWrites(r));
      prepared.encode(pass, 1, stage);
      pass.end();
      // The rest of this repeat and the start of the next in one pass: the stage's neighbours as end to end has them.
      untimed(r + 1 < count ? [...after, ...before] : after);
    }
    return this.submitAndReadPasses(encoder, count);
  }

  /**
   * The pass probe: `repeats` timestamped passes of one minimal dispatch each, gpuMs their mean: the floor of a
   * stage's time when it is timed in its own pass (on lavapipe ~90 us, against ~30 us per dispatch inside one
   * pass; how much of that a stage pays depends on the stage, so it is reported, not subtracted).
   */
  private async samplePassProbe(repeats: number): Promise<TimedSample> {
    const { device } = this.context;
    this.probe ??= await PassProbe.create(this.context, this.allocator);
    const count = Math.min(repeats, MAX_STAGE_REPEATS);
    const encoder = device.createCommandEncoder();
    for (let r = 0; r < count; r++) {
      const pass = encoder.beginComputePass(this.timestampWrites(r));
      this.probe.encode(pass);
      pass.end();
    }
    return this.submitAndReadPasses(encoder, count);
  }

  /** Submits, then reads the first `count` passes' timestamp pairs back: gpuMs is their mean duration. */
  private async submitAndReadPasses(encoder: GPUCommandEncoder, count: number): Promise<TimedSample> {
    const { device } = this.context;
    this.timestamps?.encodeResolve(encoder, count);
    const commands = encoder.finish();
    const start = performance.now();
    device.queue.submit([commands]);
    let gpuMs: number | null = null;
    if (this.timestamps) gpuMs = totalMs(await this.timestamps.read(count)) / count;
    else await waitForAdapter(device.queue.onSubmittedWorkDone());
    return { gpuMs, wallMs: performance.now() - start };
  }

  /**
   * One step of a case with a host tail: stages + readback copy, submit, map the readback, plan, the tail's pass,
   * submit, wait. wallMs spans all of it; gpuMs is the two passes' GPU time (the round trip between them excluded).
   */
  private async sampleHostTailStep(prepared: PreparedCase, mode: TimingMode): Promise<TimedSample> {
    const { device } = this.context;
    const pass = (encoder: GPUCommandEncoder, index: number): GPUComputePassEncoder =>
      encoder.beginComputePass(this.timestampWrites(index));
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
    const tailPass = pass(tail, 1);
    prepared.encodeTail(tailPass, dispatches);
    tailPass.end();
    this.timestamps?.encodeResolve(tail, 2);
    device.queue.submit([tail.finish()]);
    let gpuMs: number | null = null;
    if (this.timestamps) gpuMs = totalMs(await this.timestamps.read(2));
    else await waitForAdapter(device.queue.onSubmittedWorkDone());
    return { gpuMs, wallMs: performance.now() - start };
  }

  dispose(): void {
    this.timestamps?.dispose();
  }
}
