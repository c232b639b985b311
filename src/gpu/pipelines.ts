import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dtype, StageDecl } from '../kernels/spec.js';

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

/** The shader with the dtype and sizes prelude; its own `enable` directives stay first, as WGSL requires. */
export function withPrelude(dtype: Dtype, source: string, sizes: Record<string, number> = {}): string {
  const enables = source.match(/^enable [^;]+;\s*$/gm) ?? [];
  const body = enables.length ? source.replace(/^enable [^;]+;\s*$/gm, '') : source;
  return enables.map((line) => line.trim() + '\n').join('') + dtypePrelude(dtype) + sizesPrelude(sizes) + body;
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
export function pipelineKey(stage: Pick<StageDecl, 'shader' | 'entryPoint' | 'dtype' | 'constants' | 'sizes'>): string {
  const list = (record: Record<string, number> = {}) =>
    sortedEntries(record)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  return `${stage.shader}:${stage.entryPoint ?? 'main'}:${stage.dtype}:${list(stage.constants)}:${list(stage.sizes)}`;
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<CompiledPipeline>>>();

async function compile(device: GPUDevice, stage: StageDecl): Promise<CompiledPipeline> {
  const start = performance.now();
  const module = device.createShaderModule({
    label: stage.shader,
    code: withPrelude(stage.dtype, shaderSource(stage.shader), stage.sizes),
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
