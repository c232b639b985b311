import type { DeviceLimits, MemoryRole } from '../core/device-facts.js';
import {
  addWork,
  elementBytes,
  NO_WORK,
  type CeilingKind,
  type Dtype,
  type ElementType,
  type Tolerance,
  type Work,
} from '../core/numbers.js';
import type { GemmProblem } from './gemm/problem.js';
import type { TunableSlot } from './tunable.js';

export {
  addWork,
  DTYPES,
  elementBytes,
  NO_WORK,
  type CeilingKind,
  type Dtype,
  type ElementType,
  type Tolerance,
  type Work,
} from '../core/numbers.js';

/** Host-side contents of a buffer. f16 data is kept as f32 values already rounded to f16. */
export type HostData = Float32Array | Uint32Array | Int32Array;

export interface BufferDecl {
  name: string;
  role: MemoryRole;
  usage: 'storage' | 'uniform';
  type: ElementType;
  /** Valid elements. */
  length: number;
  /** Elements past `length` filled with NaN (floats) or 0xffffffff (ints), so out-of-bounds reads show up. */
  canary?: number;
  /** Upload: the first `data.length` elements; the rest of the buffer is canary-filled. */
  data?: HostData;
  /**
   * Upload without a host array of the buffer's size: writes valid elements [start, start + out.length) into `out`
   * (f16 values already rounded), called chunk by chunk. For caches past what a host array holds (GPU-sized paged
   * caches); the rest of the buffer is canary-filled as with `data`.
   */
  fill?: (start: number, out: Float32Array) => void;
  /** Dumped with --save-tensors as an input. */
  input?: boolean;
}

export interface StageDecl {
  name: string;
  /**
   * The named stage this dispatch belongs to when stages are timed on their own (absorb-q, attend, reduce,
   * ...); `name` when absent. Consecutive dispatches with the same phase are timed together.
   */
  phase?: string;
  /** File name under kernels/, e.g. `copy.wgsl`. */
  shader: string;
  entryPoint?: string;
  /** Storage type the shader's `T` alias stands for. */
  dtype: Dtype;
  /** Compile-time constants (`override` in WGSL): part of the pipeline cache key. */
  constants?: Record<string, number>;
  /**
   * Compile-time sizes spliced into the source as `const NAME: u32 = value;` (part of the pipeline cache key):
   * array lengths that WGSL wants as const-expressions (private arrays), which an override cannot give.
   */
  sizes?: Record<string, number>;
  /** Buffer names in @group(0) @binding(i) order. */
  bindings: string[];
  /**
   * Buffer pools the shader reads (or writes) through an accessor, WGSL's stand-in for a binding array: pool NAME is
   * the shader's own binding NAME (in `bindings`) plus `buffers`, bound in order from POOL_BINDING_BASE, which the
   * host declares as NAME_1, NAME_2, ... with `fn NAME_at(pool, i) -> vec4<T>` (`NAME_put(pool, i, x)` for read_write)
   * selecting by pool index (src/gpu/pipelines.ts, poolsPrelude).
   */
  pools?: PoolDecl[];
  workgroups: [number, number?, number?];
  work: Work;
  /** A GEMM stage's product as data (buffers and row addressing), for a peer's MatMul at the stage's shape. */
  gemm?: GemmProblem;
}

/** A pool of storage buffers of vec4<T> behind one accessor (see StageDecl.pools). */
export interface PoolDecl {
  /** The shader's binding of pool 0 (also the name of its accessor). */
  name: string;
  /** Buffers of pools 1, 2, ...: bound after the stage's bindings. */
  buffers: string[];
  access: 'read' | 'read_write';
  /**
   * The pool is another pool's buffers (MLA's latent cache is both K and V): pool 0 is still this pool's own binding
   * (the same buffer), pools 1, 2, ... are read through that pool's accessor, so no buffer is bound twice.
   */
  sameAs?: string;
}

/**
 * The binding of the first further pool buffer: past any binding a shader declares itself (a shader may declare
 * bindings that only another of its entry points uses), so the pools never collide with them.
 */
export const POOL_BINDING_BASE = 100;

/** Every buffer a stage binds with its binding number: its bindings in order, then each pool's further buffers. */
export function stageBindings(stage: Pick<StageDecl, 'bindings' | 'pools'>): { name: string; binding: number }[] {
  const further = (stage.pools ?? []).flatMap((pool) => pool.buffers);
  return [
    ...stage.bindings.map((name, binding) => ({ name, binding })),
    ...further.map((name, i) => ({ name, binding: POOL_BINDING_BASE + i })),
  ];
}

export interface OutputCheck {
  buffer: string;
  /** Shape of the valid elements, for tensor dumps. */
  shape: number[];
  /** float64 reference from the same (rounded) inputs the GPU sees; computed once, lazily. */
  expected: () => Float64Array;
  tolerance: Tolerance;
  /**
   * Where the full reference would cost the host minutes (large GPU cases), `expected` holds only these rows
   * of the output (rows.length x rowLength elements, in this order) and only they are compared.
   */
  sampledRows?: SampledRows;
}

/** Output rows (of rowLength elements each) that a check compares, out of `total` rows. */
export interface SampledRows {
  rowLength: number;
  total: number;
  rows: readonly number[];
}

/**
 * float64 FLOPs a check's reference may cost before it samples rows: a second or two of plain JavaScript loops.
 * The quick profile's cases stay under it (every row checked); large GPU cases would cost the host minutes each.
 */
export const REFERENCE_BUDGET_FLOPS = 2e9;

/**
 * Which rows a check compares when the float64 reference is priced per row: all of them when the whole output
 * costs no more than `budget`, else evenly spaced rows (the first and last always among them), at least
 * `minRows`, as many as the budget pays for. undefined: every row.
 */
export function sampleRows(total: number, rowLength: number, costPerRow: number, budget: number, minRows = 64): SampledRows | undefined {
  if (total * costPerRow <= budget || total <= minRows) return undefined;
  const n = Math.min(total, Math.max(minRows, Math.floor(budget / Math.max(1, costPerRow))));
  if (n >= total) return undefined;
  const rows = Array.from({ length: n }, (_, i) => (n === 1 ? 0 : Math.round((i * (total - 1)) / (n - 1))));
  return { rowLength, total, rows };
}

/** Gathers the sampled rows of an output (all of it without a sample). */
export function takeRows(values: ArrayLike<number>, sample: SampledRows | undefined): ArrayLike<number> {
  if (!sample) return values;
  const out = new Float64Array(sample.rows.length * sample.rowLength);
  sample.rows.forEach((row, i) => {
    for (let j = 0; j < sample.rowLength; j++) out[i * sample.rowLength + j] = values[row * sample.rowLength + j] as number;
  });
  return out;
}

/** One benchmark case, fully declared: what src/gpu allocates, dispatches, times and checks. */
export interface KernelCase {
  buffers: BufferDecl[];
  stages: StageDecl[];
  checks: OutputCheck[];
  /** Ceiling this case's throughput is reported against; derived from work when absent. */
  ceiling?: CeilingKind;
  /** Extra facts recorded with the result (e.g. elements per thread). */
  facts?: Record<string, number | string>;
  /** Dispatches planned on the host from data read back after `stages` (see HostTail). */
  hostTail?: HostTail;
  /**
   * 'wall': end to end, sample one step per submission and take its submit-to-done wall time (timer 'wall').
   * The like-for-like measure between a case and a variant with a hostTail, whose step the GPU timer cannot span.
   */
  stepTiming?: 'wall';
  /** The plan choices a tuner may change, each with the plan it runs and its legal alternatives. */
  tunables?: TunableSlot[];
  /** A case that is one GEMM: the GEMM as data (buffers and row addressing), for a peer's MatMul of the same operands. */
  gemm?: GemmProblem;
}

/** One dispatch of a host tail: a template index, its workgroups, and what its uniform holds where the host plans it. */
export interface TailDispatch {
  template: number;
  workgroups: [number, number?, number?];
  /**
   * Written to the template's uniform (the buffer at its binding 0) before the tail is submitted: sizes only the
   * read-back words give (an expert's rows and where they start), as a host loop sets each dispatch's uniforms.
   * Each template's uniform is written at most once per step.
   */
  params?: Uint32Array;
}

/**
 * A host-synchronised end of a step (e.g. a host loop over experts): after `stages`, the first `words` u32s of
 * `readback` come back to the host, `plan` turns them into dispatches of `templates` (pipelines and bind groups
 * prepared up front; their `workgroups` are ignored), and those run in a second submission. A step is then
 * submit, map the readback, plan, submit, wait: sampled one step at a time, the round trip included.
 */
export interface HostTail {
  readback: string;
  words: number;
  templates: StageDecl[];
  plan(words: Uint32Array): TailDispatch[];
}

export function stagePhase(stage: StageDecl): string {
  return stage.phase ?? stage.name;
}

/** The case's phases in dispatch order, each with its dispatch indices and summed work. */
export function casePhases(kernelCase: KernelCase): { name: string; dispatches: number[]; work: Work }[] {
  const phases: { name: string; dispatches: number[]; work: Work }[] = [];
  kernelCase.stages.forEach((stage, index) => {
    const name = stagePhase(stage);
    const last = phases[phases.length - 1];
    if (last && last.name === name) {
      last.dispatches.push(index);
      last.work = addWork(last.work, stage.work);
    } else {
      phases.push({ name, dispatches: [index], work: stage.work });
    }
  });
  return phases;
}

/** Static stages plus any host-tail templates (whose work is declared for the dispatches the case will plan). */
export function caseWork(kernelCase: KernelCase): Work {
  const stages = [...kernelCase.stages, ...(kernelCase.hostTail?.templates ?? [])];
  return stages.reduce((sum, stage) => addWork(sum, stage.work), NO_WORK);
}

export function bufferBytes(buffer: Pick<BufferDecl, 'usage' | 'type' | 'length' | 'canary'>): number {
  const bytes = (buffer.length + (buffer.canary ?? 0)) * elementBytes(buffer.type);
  // WebGPU buffer sizes must be multiples of 4; uniform bindings of 16.
  const align = buffer.usage === 'uniform' ? 16 : 4;
  return Math.max(align, Math.ceil(bytes / align) * align);
}

const MIB = 2 ** 20;

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 2 : 0)} MiB`;
}

/** A size beside a limit, in bytes too where both would print as the same MiB. */
function sizes(bytes: number, limit: number): string {
  return mib(bytes) === mib(limit) ? `${mib(bytes)} (${bytes} bytes)` : mib(bytes);
}

/**
 * The first buffer past the device's binding or buffer size, as a skip reason. Families call it on their
 * declared sizes before generating any data (a case past the limits would otherwise fill host arrays of
 * billions of elements first); the runner calls it again on the built case.
 */
export function buffersMisfit(
  buffers: readonly Pick<BufferDecl, 'name' | 'usage' | 'type' | 'length' | 'canary'>[],
  limits: DeviceLimits,
): string | null {
  for (const buffer of buffers) {
    const bytes = bufferBytes(buffer);
    const limit = buffer.usage === 'uniform' ? limits.maxUniformBufferBindingSize : limits.maxStorageBufferBindingSize;
    const limitName = buffer.usage === 'uniform' ? 'maxUniformBufferBindingSize' : 'maxStorageBufferBindingSize';
    if (bytes > limit) return `buffer ${buffer.name} needs ${sizes(bytes, limit)}, above the device's ${limitName} (${mib(limit)})`;
    if (bytes > limits.maxBufferSize)
      return `buffer ${buffer.name} needs ${sizes(bytes, limits.maxBufferSize)}, above the device's maxBufferSize (${mib(limits.maxBufferSize)})`;
  }
  return null;
}

/** Bytes of every buffer a case declares: what it holds on the device at once. */
export function caseBytes(buffers: readonly Pick<BufferDecl, 'usage' | 'type' | 'length' | 'canary'>[]): number {
  return buffers.reduce((sum, buffer) => sum + bufferBytes(buffer), 0);
}

/** The first stage binding more storage buffers than the device has per shader stage, as a skip reason. */
export function bindingsMisfit(
  stages: readonly Pick<StageDecl, 'name' | 'bindings' | 'pools'>[],
  buffers: readonly Pick<BufferDecl, 'name' | 'usage'>[],
  limits: Pick<DeviceLimits, 'maxStorageBuffersPerShaderStage'>,
): string | null {
  const uniforms = new Set(buffers.filter((b) => b.usage === 'uniform').map((b) => b.name));
  for (const stage of stages) {
    const storage = stageBindings(stage).filter(({ name }) => !uniforms.has(name)).length;
    if (storage > limits.maxStorageBuffersPerShaderStage) {
      const pooled = (stage.pools ?? []).reduce((n, pool) => n + pool.buffers.length, 0);
      const extra = pooled ? ` (${pooled} of them further cache buffers)` : '';
      return `stage ${stage.name} binds ${storage} storage buffers${extra}, above the device's maxStorageBuffersPerShaderStage (${limits.maxStorageBuffersPerShaderStage})`;
    }
  }
  return null;
}

/** Why a case of `bytes` does not fit a device with `memoryBytes` for its buffers (unknown: fits), or null. */
export function memoryMisfit(bytes: number, memoryBytes: number | undefined): string | null {
  if (memoryBytes === undefined || bytes <= memoryBytes) return null;
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
  return `the case's buffers need ${gib(bytes)}, above the ${gib(memoryBytes)} of device memory it may use`;
}
