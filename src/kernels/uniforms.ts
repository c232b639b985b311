/**
 * Uniform structs as the host writes them: a WGSL struct's fields in declaration order, each a 4-byte scalar or
 * a nested struct, declared once per shader in shaders.ts and checked against the WGSL source by
 * test/unit/uniform-layouts.test.ts. Fields whose names start with `_` are padding: always written as 0.
 */

export type Scalar = 'u32' | 'i32' | 'f32';

export interface Fields {
  readonly [name: string]: Scalar | StructLayout;
}

export interface StructLayout<F extends Fields = Fields> {
  /** The WGSL struct's name. */
  readonly name: string;
  readonly fields: F;
}

/** The values a struct needs: a number per field (a nested object per struct field), padding excluded. */
export type StructValues<F extends Fields> = {
  readonly [K in keyof F as K extends `_${string}` ? never : K]: F[K] extends StructLayout<infer G> ? StructValues<G> : number;
};

export function struct<const F extends Fields>(name: string, fields: F): StructLayout<F> {
  return { name, fields };
}

/** Size in 4-byte words (every scalar is 4 bytes and 4-aligned; nested structs are laid out inline). */
export function structWords(layout: StructLayout): number {
  return Object.values(layout.fields).reduce<number>((words, type) => words + (typeof type === 'string' ? 1 : structWords(type)), 0);
}

const U32_MAX = 2 ** 32 - 1;

function writeScalar(words: Uint32Array, at: number, type: Scalar, value: number, path: string): void {
  if (type === 'f32') {
    new Float32Array(words.buffer, at * 4, 1)[0] = value;
    return;
  }
  const [lo, hi] = type === 'u32' ? [0, U32_MAX] : [-(2 ** 31), 2 ** 31 - 1];
  if (!Number.isInteger(value) || value < lo || value > hi) throw new Error(`uniform field ${path}: ${value} is not a ${type}`);
  words[at] = value >>> 0;
}

function writeStruct(
  words: Uint32Array,
  at: number,
  layout: StructLayout,
  values: Readonly<Record<string, unknown>>,
  path: string,
): number {
  for (const [name, type] of Object.entries(layout.fields)) {
    const fieldPath = `${path}.${name}`;
    if (typeof type !== 'string') {
      at = writeStruct(words, at, type, values[name] as Record<string, unknown>, fieldPath);
      continue;
    }
    if (!name.startsWith('_')) {
      const value = values[name];
      if (typeof value !== 'number') throw new Error(`uniform field ${fieldPath} has no value`);
      writeScalar(words, at, type, value, fieldPath);
    }
    at += 1;
  }
  return at;
}

/** The struct's words, zero padded to whole 16-byte rows (uniform bindings are multiples of 16 bytes). */
export function packStruct<F extends Fields>(layout: StructLayout<F>, values: StructValues<F>): Uint32Array {
  const words = new Uint32Array(Math.max(4, Math.ceil(structWords(layout) / 4) * 4));
  writeStruct(words, 0, layout, values as Readonly<Record<string, unknown>>, layout.name);
  return words;
}
