import type { MemoryRole } from '../core/device-facts.js';
import { SEEDED_PERIOD } from '../reference/random.js';
import type { BuildContext } from './family.js';
import type { Shader } from './shaders.js';
import type { BufferDecl, Dtype, ElementType, HostData } from './spec.js';
import { packStruct, type Fields, type StructValues } from './uniforms.js';

/** Shared pieces of the kernel families' case builders: integer helpers, canaries, buffer declarations. */

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
export const pow2Ceil = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
export const pow2Floor = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/** Elements past an input's valid data filled with NaN (0xffffffff for integers): a read past the end poisons the output. */
export const CANARY = 64;
/** The canary of small tables and outputs. */
export const SHORT_CANARY = 4;

export function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

/** Largest magnitude of seeded inputs: past SEEDED_PERIOD elements they repeat, so the first period holds it. */
export function seededMaxAbs(seeded: Float32Array): number {
  return maxAbs(seeded.subarray(0, Math.min(seeded.length, SEEDED_PERIOD)));
}

/** Why a case of this storage type cannot run on the context's adapter, or null. */
export function dtypeUnsupported(dtype: Dtype, context: Pick<BuildContext, 'features'>): string | null {
  return dtype === 'f16' && !context.features.has('shader-f16') ? 'adapter has no shader-f16' : null;
}

/** A storage buffer; with `data`, an input uploaded from the host (and dumped with --save-tensors). */
export function storage(
  name: string,
  role: MemoryRole,
  type: ElementType,
  length: number,
  extra: { canary?: number; data?: HostData } = {},
): BufferDecl {
  return {
    name,
    role,
    usage: 'storage',
    type,
    length,
    ...(extra.canary !== undefined && { canary: extra.canary }),
    ...(extra.data && { data: extra.data, input: true }),
  };
}

/**
 * An input storage buffer of `length` elements whose contents `make` produces on first read (upload, tensor dumps,
 * peers), so that declaring a case (planning it against a device's limits, listing it) makes no host data.
 */
export function lazyInput(
  name: string,
  role: MemoryRole,
  type: ElementType,
  length: number,
  make: () => HostData,
  canary?: number,
): BufferDecl {
  const decl: BufferDecl = { ...storage(name, role, type, length, canary === undefined ? {} : { canary }), input: true };
  let data: HostData | undefined;
  const access = { get: () => (data ??= make()), set: (value: HostData) => void (data = value) };
  return Object.defineProperty(decl, 'data', { ...access, enumerable: true, configurable: true });
}

/** A value computed on first use, then kept. */
export function memo<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

/** An input storage buffer holding exactly `data`. */
export function input(name: string, role: MemoryRole, type: ElementType, data: HostData, canary?: number): BufferDecl {
  return storage(name, role, type, data.length, { ...(canary !== undefined && { canary }), data });
}

/** A uniform buffer of u32 words (scratch: rebuilt for every case). */
export function uniform(name: string, data: Uint32Array): BufferDecl {
  return { name, role: 'scratch', usage: 'uniform', type: 'u32', length: data.length, data };
}

/** The uniform `shader` binds, holding `values` in the layout the shader declares. */
export function paramsUniform<F extends Fields>(name: string, shader: Shader<F>, values: StructValues<F>): BufferDecl {
  return uniform(name, packStruct(shader.params, values));
}
