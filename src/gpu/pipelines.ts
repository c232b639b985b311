import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { POOL_BINDING_BASE, type Dtype, type StageDecl } from '../kernels/spec.js';

/** kernels/ sits at the package root, two levels above both src/gpu and dist/gpu. */
export const KERNELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'kernels');

/** WGSL pieces that several shaders share (a uniform struct, bindings, helper functions), spliced by `#include`. */
export const INCLUDE_DIR = join(KERNELS_DIR, 'include');

/** A line `// #include "name.wgsl"`: replaced by kernels/include/name.wgsl (a comment, so the file stays valid WGSL text). */
const INCLUDE_LINE = /^\/\/ #include "([a-z0-9_]+\.wgsl)"[ \t]*$/gm;

/** The source with every include line replaced by the included file, whose own includes are spliced in turn. */
export function spliceIncludes(source: string, read: (name: string) => string, chain: readonly string[] = []): string {
  return source.replace(INCLUDE_LINE, (_line, name: string) => {
    if (chain.includes(name)) throw new Error(`WGSL include cycle: ${[...chain, name].join(' -> ')}`);
    return spliceIncludes(read(name), read, [...chain, name]).replace(/\n$/, '');
  });
}

const sources = new Map<string, string>();

/** A shader of kernels/ with its includes spliced: a pure function of the file name (so the file names the pipeline). */
export function shaderSource(file: string): string {
  let source = sources.get(file);
  if (source === undefined) {
    source = spliceIncludes(readFileSync(join(KERNELS_DIR, file), 'utf8'), (name) => readFileSync(join(INCLUDE_DIR, name), 'utf8'));
    sources.set(file, source);
  }
  return source;
}

/** The one line that picks a shader's storage type. */
export function dtypePrelude(dtype: Dtype): string {
  return dtype === 'f16' ? 'enable f16;\nalias T = f16;\n' : 'alias T = f32;\n';
}

/** `const NAME: u32 = value;` per size, in name order. */
export function sizesPrelude(sizes: Record<string, number> = {}): string {
  return sortedEntries(sizes)
    .map(([name, value]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name) || !Number.isInteger(value) || value < 1) throw new Error(`bad shader size ${name}=${value}`);
      return `const ${name}: u32 = ${value}u;\n`;
    })
    .join('');
}

/**
 * A stage's buffer pools in WGSL (StageDecl.pools), the stand-in for a binding array WebGPU lacks: pool NAME's further
 * buffers NAME_1, NAME_2, ... bound from POOL_BINDING_BASE on, and `NAME_at(pool, i)` (read_write pools also
 * `NAME_put(pool, i, x)`) switching on the pool index. One pool: the accessor is the binding itself, no branch.
 */
export function poolsPrelude(stage: Pick<StageDecl, 'pools'>): string {
  let binding = POOL_BINDING_BASE;
  return (stage.pools ?? [])
    .map(({ name, buffers, access, sameAs }) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad pool name ${name}`);
      if (sameAs) {
        if (!/^[a-z_][a-z0-9_]*$/.test(sameAs) || access !== 'read') throw new Error(`bad pool alias ${name} = ${sameAs}`);
        return `fn ${name}_at(pool: u32, i: u32) -> vec4<T> {\n  if (pool == 0u) { return ${name}[i]; }\n  return ${sameAs}_at(pool, i);\n}\n`;
      }
      const further = buffers.map((_, i) => `${name}_${i + 1}`);
      const declarations = further.map((n) => `@group(0) @binding(${binding++}) var<storage, ${access}> ${n}: array<vec4<T>>;\n`);
      const branch = (body: (n: string) => string) =>
        further.length === 0
          ? `  ${body(name)}\n`
          : `  switch pool {\n${further.map((n, i) => `    case ${i + 1}u: { ${body(n)} }\n`).join('')}    default: { ${body(name)} }\n  }\n`;
      const at = `fn ${name}_at(pool: u32, i: u32) -> vec4<T> {\n${branch((n) => `return ${n}[i];`)}}\n`;
      const put = access === 'read_write' ? `fn ${name}_put(pool: u32, i: u32, x: vec4<T>) {\n${branch((n) => `${n}[i] = x;`)}}\n` : '';
      return declarations.join('') + at + put;
    })
    .join('');
}

/** The shader with the dtype, sizes and pools prelude; its own `enable` directives stay first, as WGSL requires. */
export function withPrelude(
  dtype: Dtype,
  source: string,
  sizes: Record<string, number> = {},
  pools: Pick<StageDecl, 'pools'> = {},
): string {
  const enables = source.match(/^enable [^;]+;\s*$/gm) ?? [];
  const body = enables.length ? source.replace(/^enable [^;]+;\s*$/gm, '') : source;
  return enables.map((line) => line.trim() + '\n').join('') + dtypePrelude(dtype) + sizesPrelude(sizes) + poolsPrelude(pools) + body;
}

function sortedEntries(record: Record<string, number>): [string, number][] {
  return Object.entries(record).sort(([a], [b]) => a.localeCompare(b));
}

export interface CompiledPipeline {
  pipeline: GPUComputePipeline;
  compileMs: number;
}

/**
 * Compile-time facts only: shapes travel as uniforms, so new sizes never recompile. The shader's file name stands
 * for its text, includes and all (shaderSource); the dtype and sizes for its prelude.
 */
export function pipelineKey(stage: Pick<StageDecl, 'shader' | 'entryPoint' | 'dtype' | 'constants' | 'sizes' | 'pools'>): string {
  const list = (record: Record<string, number> = {}) =>
    sortedEntries(record)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  const pools = (stage.pools ?? [])
    .map((p) => (p.sameAs ? `${p.name}=${p.sameAs}` : `${p.name}x${p.buffers.length + 1}${p.access === 'read' ? '' : 'rw'}`))
    .join(',');
  const key = `${stage.shader}:${stage.entryPoint ?? 'main'}:${stage.dtype}:${list(stage.constants)}:${list(stage.sizes)}`;
  return pools ? `${key}:${pools}` : key;
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<CompiledPipeline>>>();

async function compile(device: GPUDevice, stage: StageDecl): Promise<CompiledPipeline> {
  const start = performance.now();
  const module = device.createShaderModule({
    label: stage.shader,
    code: withPrelude(stage.dtype, shaderSource(stage.shader), stage.sizes, stage),
  });
  const pipeline = await device.createComputePipelineAsync({
    label: `${stage.name}:${stage.shader}`,
    layout: 'auto',
    compute: { module, entryPoint: stage.entryPoint ?? 'main', constants: stage.constants ?? {} },
  });
  return { pipeline, compileMs: performance.now() - start };
}

export function getPipeline(device: GPUDevice, stage: StageDecl): Promise<CompiledPipeline> {
  let cache = caches.get(device);
  if (!cache) {
    cache = new Map();
    caches.set(device, cache);
  }
  const key = pipelineKey(stage);
  let compiled = cache.get(key);
  if (!compiled) {
    compiled = compile(device, stage);
    // A failed compile must not poison the cache for the next case.
    compiled.catch(() => cache.delete(key));
    cache.set(key, compiled);
  }
  return compiled;
}
