import { toF16Array, fromF16Array } from '../util/f16.js';
import {
  bufferBytes,
  elementBytes,
  stageBindings,
  type BufferDecl,
  type KernelCase,
  type StageDecl,
  type TailDispatch,
} from '../kernels/spec.js';
import type { GpuContext } from './device.js';
import { waitForAdapter } from './host-priority.js';
import type { TrackedAllocator } from './memory.js';
import { getPipeline } from './pipelines.js';

const F32_NAN_BITS = 0x7fc00000;
const F16_NAN_BITS = 0x7e00;
const INT_CANARY = 0xffffffff;

/** Buffer contents as uploaded: canary everywhere, then the valid data over the front. */
export function encodeBufferContents(decl: BufferDecl): Uint8Array {
  const bytes = new Uint8Array(bufferBytes(decl));
  if (decl.type === 'f16') {
    const halves = new Uint16Array(bytes.buffer, 0, Math.floor(bytes.byteLength / 2));
    halves.fill(F16_NAN_BITS);
    if (decl.data) halves.set(toF16Array(decl.data));
  } else {
    const words = new Uint32Array(bytes.buffer);
    words.fill(decl.type === 'f32' ? F32_NAN_BITS : INT_CANARY);
    if (decl.data) new Uint8Array(bytes.buffer).set(new Uint8Array(decl.data.buffer, decl.data.byteOffset, decl.data.byteLength));
  }
  return bytes;
}

/** Bytes of a filled upload written at a time: the host holds one chunk, never the buffer's whole contents. */
const FILL_CHUNK_BYTES = 64 * 2 ** 20;

/** Writes a `fill` buffer's contents (canary past its valid elements) into its mapped range, chunk by chunk. */
function uploadFilled(buffer: GPUBuffer, decl: BufferDecl, bytes: number): void {
  const fill = decl.fill!;
  const size = elementBytes(decl.type);
  if (decl.type !== 'f16' && decl.type !== 'f32') throw new Error(`buffer ${decl.name}: fill is for float buffers`);
  for (let offset = 0; offset < bytes; offset += FILL_CHUNK_BYTES) {
    const chunk = Math.min(FILL_CHUNK_BYTES, bytes - offset);
    const range = buffer.getMappedRange(offset, chunk);
    const first = offset / size;
    const valid = Math.max(0, Math.min(chunk / size, decl.length - first));
    const values = new Float32Array(valid);
    if (valid > 0) fill(first, values);
    if (decl.type === 'f16') {
      const halves = new Uint16Array(range);
      halves.fill(F16_NAN_BITS);
      halves.set(toF16Array(values));
    } else {
      const words = new Float32Array(range);
      new Uint32Array(range).fill(F32_NAN_BITS);
      words.set(values);
    }
  }
}

export interface TransferStats {
  uploadBytes: number;
  uploadMs: number;
  readbackBytes: number;
  readbackMs: number;
}

interface PreparedStage {
  decl: StageDecl;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  compileMs: number;
}

/** A case's buffers and pipelines on the device, ready to dispatch any number of times. */
export class PreparedCase {
  readonly transfers: TransferStats = { uploadBytes: 0, uploadMs: 0, readbackBytes: 0, readbackMs: 0 };

  private constructor(
    private readonly context: GpuContext,
    private readonly allocator: TrackedAllocator,
    readonly spec: KernelCase,
    private readonly buffers: Map<string, { decl: BufferDecl; buffer: GPUBuffer }>,
    readonly stages: PreparedStage[],
    /** Host-tail templates and the staging buffer its readback maps (both empty without a tail). */
    readonly tail: PreparedStage[],
    private readonly tailStaging: GPUBuffer | undefined,
  ) {}

  static async prepare(context: GpuContext, allocator: TrackedAllocator, spec: KernelCase): Promise<PreparedCase> {
    const { device } = context;
    const buffers = new Map<string, { decl: BufferDecl; buffer: GPUBuffer }>();
    const uploadStart = performance.now();
    let uploadBytes = 0;
    for (const decl of spec.buffers) {
      const usage =
        decl.usage === 'uniform'
          ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
          : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const size = bufferBytes(decl);
      const buffer = allocator.createBuffer(decl.role, { label: decl.name, size, usage, mappedAtCreation: true });
      if (decl.fill && !decl.data) uploadFilled(buffer, decl, size);
      else new Uint8Array(buffer.getMappedRange()).set(encodeBufferContents(decl));
      buffer.unmap();
      uploadBytes += size;
      buffers.set(decl.name, { decl, buffer });
    }
    const prepareStages = async (decls: readonly StageDecl[]): Promise<PreparedStage[]> => {
      const prepared: PreparedStage[] = [];
      for (const decl of decls) {
        const { pipeline, compileMs } = await getPipeline(device, decl);
        const entries = stageBindings(decl).map(({ name, binding }) => {
          const entry = buffers.get(name);
          if (!entry) throw new Error(`stage ${decl.name} binds unknown buffer ${name}`);
          return { binding, resource: { buffer: entry.buffer } };
        });
        const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
        prepared.push({ decl, pipeline, bindGroup, compileMs });
      }
      return prepared;
    };
    const stages = await prepareStages(spec.stages);
    const tail = await prepareStages(spec.hostTail?.templates ?? []);
    let tailStaging: GPUBuffer | undefined;
    if (spec.hostTail) {
      if (!buffers.has(spec.hostTail.readback)) throw new Error(`host tail reads back unknown buffer ${spec.hostTail.readback}`);
      tailStaging = allocator.createBuffer('scratch', {
        label: 'host-tail-readback',
        size: Math.max(4, spec.hostTail.words * 4),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
    }
    await waitForAdapter(device.queue.onSubmittedWorkDone());
    const prepared = new PreparedCase(context, allocator, spec, buffers, stages, tail, tailStaging);
    prepared.transfers.uploadBytes = uploadBytes;
    prepared.transfers.uploadMs = performance.now() - uploadStart;
    return prepared;
  }

  /** Records every stage (or only the dispatches listed in `only`) `repeats` times into one compute pass. */
  encode(pass: GPUComputePassEncoder, repeats = 1, only?: readonly number[]): void {
    const stages = only ? only.map((index) => this.stages[index]!) : this.stages;
    for (let r = 0; r < repeats; r++) {
      for (const stage of stages) {
        pass.setPipeline(stage.pipeline);
        pass.setBindGroup(0, stage.bindGroup);
        const [x, y = 1, z = 1] = stage.decl.workgroups;
        pass.dispatchWorkgroups(x, y, z);
      }
    }
  }

  /** Copies the host tail's readback words into the staging buffer (after the stages, same encoder). */
  encodeTailReadback(encoder: GPUCommandEncoder): void {
    const hostTail = this.spec.hostTail;
    if (!hostTail || !this.tailStaging || hostTail.words === 0) return;
    const source = this.buffers.get(hostTail.readback)!.buffer;
    encoder.copyBufferToBuffer(source, 0, this.tailStaging, 0, hostTail.words * 4);
  }

  /** Waits for the readback submitted with encodeTailReadback and plans the tail's dispatches from it. */
  async planTail(): Promise<TailDispatch[]> {
    const hostTail = this.spec.hostTail;
    if (!hostTail || !this.tailStaging) return [];
    let words = new Uint32Array(0);
    if (hostTail.words > 0) {
      await waitForAdapter(this.tailStaging.mapAsync(GPUMapMode.READ, 0, hostTail.words * 4));
      words = new Uint32Array(this.tailStaging.getMappedRange(0, hostTail.words * 4).slice(0));
      this.tailStaging.unmap();
    }
    return hostTail.plan(words);
  }

  /** Encodes the tail's dispatches, writing the uniforms the plan gives (queue writes: before the tail's submission). */
  encodeTail(pass: GPUComputePassEncoder, dispatches: readonly TailDispatch[]): void {
    for (const { template, workgroups, params } of dispatches) {
      const stage = this.tail[template];
      if (!stage) throw new Error(`host tail plans unknown template ${template}`);
      if (params) this.context.device.queue.writeBuffer(this.buffers.get(stage.decl.bindings[0]!)!.buffer, 0, params);
      pass.setPipeline(stage.pipeline);
      pass.setBindGroup(0, stage.bindGroup);
      const [x, y = 1, z = 1] = workgroups;
      pass.dispatchWorkgroups(x, y, z);
    }
  }

  /** One step: the stages, then (with a host tail) the readback, the plan and the tail's dispatches. */
  async run(): Promise<void> {
    const { device } = this.context;
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    this.encode(pass);
    pass.end();
    this.encodeTailReadback(encoder);
    device.queue.submit([encoder.finish()]);
    if (this.spec.hostTail) {
      const dispatches = await this.planTail();
      const tailEncoder = device.createCommandEncoder();
      const tailPass = tailEncoder.beginComputePass();
      this.encodeTail(tailPass, dispatches);
      tailPass.end();
      device.queue.submit([tailEncoder.finish()]);
    }
    await waitForAdapter(device.queue.onSubmittedWorkDone());
  }

  /** Valid elements of a buffer, f16 widened to f32. */
  async read(name: string): Promise<Float32Array | Uint32Array | Int32Array> {
    const entry = this.buffers.get(name);
    if (!entry) throw new Error(`unknown buffer ${name}`);
    const { decl, buffer } = entry;
    const start = performance.now();
    const staging = this.allocator.createBuffer('scratch', {
      size: buffer.size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const encoder = this.context.device.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
      this.context.device.queue.submit([encoder.finish()]);
      await waitForAdapter(staging.mapAsync(GPUMapMode.READ));
      const copy = staging.getMappedRange().slice(0);
      staging.unmap();
      this.transfers.readbackBytes += buffer.size;
      this.transfers.readbackMs += performance.now() - start;
      switch (decl.type) {
        case 'f16':
          return fromF16Array(new Uint16Array(copy, 0, decl.length));
        case 'f32':
          return new Float32Array(copy, 0, decl.length);
        case 'u32':
          return new Uint32Array(copy, 0, decl.length);
        case 'i32':
          return new Int32Array(copy, 0, decl.length);
      }
    } finally {
      this.allocator.destroy(staging);
    }
  }

  compileMs(): Record<string, number> {
    return Object.fromEntries([...this.stages, ...this.tail].map((s) => [`${s.decl.shader}:${s.decl.entryPoint ?? 'main'}`, s.compileMs]));
  }

  dispose(): void {
    for (const { buffer } of this.buffers.values()) this.allocator.destroy(buffer);
    this.buffers.clear();
    if (this.tailStaging) this.allocator.destroy(this.tailStaging);
  }
}
