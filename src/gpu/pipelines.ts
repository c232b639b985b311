import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dtype, StageDecl } from '../kernels/spec.js';

/** kernels/ sits at the package root, two levels above both src/gpu and dist/gpu. */
export const KERNELS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'kernels');

const sources = new Map<string, string>();

export function shaderSource(file: string): string {
  let source = sources.get(file);
  if (source === undefined) {
    source = readFileSync(join(KERNELS_DIR, file), 'utf8');
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

/** Compile-time facts only: shapes travel as uniforms, so new sizes never recompile. */
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
