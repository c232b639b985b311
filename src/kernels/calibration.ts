import { roundToF16 } from '../util/f16.js';
import { reductionTolerance } from '../reference/allclose.js';
import { seededUniform } from '../reference/random.js';
import { dtypeUnsupported, input, paramsUniform, SHORT_CANARY, storage } from './build.js';
import type { BuildContext, BuildResult, KernelFamily } from './family.js';
import { grid2d, numberParam, stringParam } from './family.js';
import { SHADERS } from './shaders.js';
import type { Dtype, KernelCase } from './spec.js';

export const CALIBRATION_KERNELS = ['dispatch', 'copy', 'copy-chunked', 'read', 'read-chunked', 'fma-f32', 'fma-f16'] as const;
export type CalibrationKernel = (typeof CALIBRATION_KERNELS)[number];

const WORKGROUP_SIZE = 256;
/** Independent chains per invocation (fma.wgsl spells them out; their start offsets are FMA_OFFSETS). */
const FMA_CHAINS = 16;
const FMA_OFFSETS = [0, 1, 2, 3, -1, -2, -3, 4, 5, -4, 6, -5, 7, -6, 8, -7];
const DISPATCH_LANES = 64;
/** Multiplier and addend of the FMA chains: exact in f16, and the chain contracts fast to c / (1 - m). */
const FMA_M = [0.5, 0.5, 0.5, 0.5];
const FMA_C = [0.25, 0.5, 0.75, 1];
const FMA_SEED = [0.125, 0.375, 0.625, 0.875];

/** How copy and read invocations walk memory: coalesced suits GPUs, chunked suits CPU-backed adapters. */
interface Layout {
  chunked: boolean;
  workgroupSize: number;
  items: number;
}

const COPY_LAYOUTS: Record<'copy' | 'copy-chunked', Layout> = {
  copy: { chunked: false, workgroupSize: WORKGROUP_SIZE, items: 4 },
  'copy-chunked': { chunked: true, workgroupSize: 32, items: 1024 },
};
const READ_LAYOUTS: Record<'read' | 'read-chunked', Layout> = {
  read: { chunked: false, workgroupSize: WORKGROUP_SIZE, items: 16 },
  'read-chunked': { chunked: true, workgroupSize: 32, items: 1024 },
};

/** Element indices (in vec4s) invocation `thread` touches, in the order it touches them. */
function indicesOf(layout: Layout, thread: number, threads: number): number[] {
  return Array.from({ length: layout.items }, (_, k) => (layout.chunked ? thread * layout.items + k : thread + k * threads));
}

function layoutGrid(vec4s: number, layout: Layout, context: BuildContext): { threads: number; workgroups: [number, number] } {
  const workgroups = Math.ceil(Math.ceil(vec4s / layout.items) / layout.workgroupSize);
  return { threads: workgroups * layout.workgroupSize, workgroups: grid2d(workgroups, context.limits.maxComputeWorkgroupsPerDimension) };
}

function layoutFacts(layout: Layout): Record<string, number | string> {
  return { access: layout.chunked ? 'chunked' : 'coalesced', workgroupSize: layout.workgroupSize, itemsPerInvocation: layout.items };
}

function copyCase(mib: number, layout: Layout, context: BuildContext): KernelCase {
  const vec4s = (mib * 2 ** 20) / 16;
  const { threads, workgroups } = layoutGrid(vec4s, layout, context);
  const src = seededUniform(vec4s * 4, context.seed, 'f32');
  const bytes = vec4s * 16;
  return {
    buffers: [
      paramsUniform('params', SHADERS.copy, { count: vec4s, threads }),
      input('src', 'activations', 'f32', src, SHORT_CANARY),
      storage('dst', 'activations', 'f32', vec4s * 4, { canary: SHORT_CANARY }),
    ],
    stages: [
      {
        name: 'copy',
        shader: SHADERS.copy.file,
        dtype: 'f32',
        constants: { WORKGROUP_SIZE: layout.workgroupSize, ITEMS: layout.items, CHUNKED: layout.chunked ? 1 : 0 },
        bindings: ['params', 'src', 'dst'],
        workgroups,
        work: { flops: 0, bytesRead: bytes, bytesWritten: bytes },
      },
    ],
    checks: [{ buffer: 'dst', shape: [vec4s, 4], expected: () => Float64Array.from(src), tolerance: { atol: 0, rtol: 0 } }],
    ceiling: 'copy',
    facts: layoutFacts(layout),
  };
}

function readCase(mib: number, layout: Layout, context: BuildContext): KernelCase {
  const vec4s = (mib * 2 ** 20) / 16;
  const { threads, workgroups } = layoutGrid(vec4s, layout, context);
  const src = seededUniform(vec4s * 4, context.seed, 'f32');
  const expected = (): Float64Array => {
    const sums = new Float64Array(threads);
    for (let t = 0; t < threads; t++) {
      let sum = 0;
      for (const i of indicesOf(layout, t, threads)) {
        if (i < vec4s) for (let lane = 0; lane < 4; lane++) sum += src[i * 4 + lane] as number;
      }
      sums[t] = sum;
    }
    return sums;
  };
  return {
    buffers: [
      paramsUniform('params', SHADERS.read, { count: vec4s, threads }),
      input('src', 'activations', 'f32', src, SHORT_CANARY),
      storage('sums', 'activations', 'f32', threads, { canary: SHORT_CANARY }),
    ],
    stages: [
      {
        name: 'read',
        shader: SHADERS.read.file,
        dtype: 'f32',
        constants: { WORKGROUP_SIZE: layout.workgroupSize, ITEMS: layout.items, CHUNKED: layout.chunked ? 1 : 0 },
        bindings: ['params', 'src', 'sums'],
        workgroups,
        work: { flops: vec4s * 4, bytesRead: vec4s * 16, bytesWritten: threads * 4 },
      },
    ],
    checks: [{ buffer: 'sums', shape: [threads], expected, tolerance: reductionTolerance('f32', layout.items * 4) }],
    ceiling: 'read',
    facts: layoutFacts(layout),
  };
}

/** Closed form of a_{n+1} = a_n m + c. */
function fmaChain(a0: number, m: number, c: number, n: number): number {
  const fixed = c / (1 - m);
  return m ** n * (a0 - fixed) + fixed;
}

/** FMA invocations per MiB of the `mib` axis: the f32 result is 1/32 of it, so mib scales all kernels alike. */
const FMA_THREADS_PER_MIB = 2 ** 11;

function fmaCase(dtype: Dtype, mib: number, iterations: number, context: BuildContext): KernelCase {
  const threads = Math.ceil(mib * FMA_THREADS_PER_MIB);
  const workgroups = Math.ceil(threads / WORKGROUP_SIZE);
  const round = dtype === 'f16' ? roundToF16 : Math.fround;
  const coefficients = Float32Array.from([...FMA_M, ...FMA_C, ...FMA_SEED].map(round));
  const expected = (): Float64Array => {
    const out = new Float64Array(threads * 4);
    for (let t = 0; t < threads; t++) {
      for (let lane = 0; lane < 4; lane++) {
        const seed = round((FMA_SEED[lane] as number) * (t % 8));
        let sum = 0;
        for (const offset of FMA_OFFSETS) {
          sum += fmaChain(round(seed + offset), FMA_M[lane] as number, FMA_C[lane] as number, iterations);
        }
        out[t * 4 + lane] = sum;
      }
    }
    return out;
  };
  return {
    buffers: [
      paramsUniform('params', SHADERS.fma, { threads, iterations }),
      input('coefficients', 'weights', dtype, coefficients, SHORT_CANARY),
      storage('result', 'activations', dtype, threads * 4, { canary: SHORT_CANARY }),
    ],
    stages: [
      {
        name: `fma-${dtype}`,
        shader: SHADERS.fma.file,
        dtype,
        constants: { WORKGROUP_SIZE },
        bindings: ['params', 'coefficients', 'result'],
        workgroups: grid2d(workgroups, context.limits.maxComputeWorkgroupsPerDimension),
        work: {
          flops: threads * iterations * FMA_CHAINS * 4 * 2,
          bytesRead: 48,
          bytesWritten: threads * 4 * (dtype === 'f16' ? 2 : 4),
        },
      },
    ],
    // After enough iterations every chain sits on its fixed point, which both types hold exactly.
    checks: [{ buffer: 'result', shape: [threads, 4], expected, tolerance: reductionTolerance(dtype, FMA_CHAINS, 8) }],
    ceiling: dtype === 'f16' ? 'fma-f16' : 'fma-f32',
    facts: { chains: FMA_CHAINS, iterations },
  };
}

function dispatchCase(): KernelCase {
  const base = 3;
  return {
    buffers: [
      paramsUniform('params', SHADERS.dispatch, { base }),
      storage('result', 'activations', 'f32', DISPATCH_LANES, { canary: SHORT_CANARY }),
    ],
    stages: [
      {
        name: 'dispatch',
        shader: SHADERS.dispatch.file,
        dtype: 'f32',
        constants: { WORKGROUP_SIZE: DISPATCH_LANES },
        bindings: ['params', 'result'],
        workgroups: [1],
        work: { flops: 0, bytesRead: 0, bytesWritten: DISPATCH_LANES * 4 },
      },
    ],
    checks: [
      {
        buffer: 'result',
        shape: [DISPATCH_LANES],
        expected: () => Float64Array.from({ length: DISPATCH_LANES }, (_, lane) => base + lane),
        tolerance: { atol: 0, rtol: 0 },
      },
    ],
    ceiling: 'dispatch',
  };
}

export const calibrationFamily: KernelFamily = {
  name: 'calibration',
  requiredAxes: ['kernel', 'mib'],
  build(params, context): BuildResult {
    const kernel = stringParam(params, 'kernel', CALIBRATION_KERNELS);
    const mib = numberParam(params, 'mib');
    if (!(mib > 0) || !Number.isInteger(mib * 2 ** 16))
      return { kind: 'skip', reason: `mib=${mib} is not a positive multiple of 16 bytes` };
    const iterations = typeof params['iterations'] === 'number' ? params['iterations'] : 64;
    switch (kernel) {
      case 'copy':
      case 'copy-chunked':
        return { kind: 'case', kernelCase: copyCase(mib, COPY_LAYOUTS[kernel], context) };
      case 'read':
      case 'read-chunked':
        return { kind: 'case', kernelCase: readCase(mib, READ_LAYOUTS[kernel], context) };
      case 'fma-f32':
        return { kind: 'case', kernelCase: fmaCase('f32', mib, iterations, context) };
      case 'fma-f16': {
        const unsupported = dtypeUnsupported('f16', context);
        if (unsupported) return { kind: 'skip', reason: unsupported };
        return { kind: 'case', kernelCase: fmaCase('f16', mib, iterations, context) };
      }
      case 'dispatch':
        return { kind: 'case', kernelCase: dispatchCase() };
    }
  },
};
