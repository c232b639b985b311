import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { BufferDecl, KernelCase } from '../kernels/spec.js';
import type { PlannedCase } from '../suites/expand.js';
import { toF16Array } from '../util/f16.js';
import { encodeNpy, type NpyData } from '../util/npy.js';
import { ensureDir, writeFileAtomic } from './store.js';

/** A case's outputs as read back from the GPU, by buffer name. */
export type Outputs = Map<string, Float32Array | Uint32Array | Int32Array>;

/** What --save-tensors writes of a checked case: its declaration (inputs, references) and its outputs. */
export interface CaseTensors {
  kernelCase: KernelCase;
  outputs: Outputs;
}

interface TensorEntry {
  role: 'input' | 'output' | 'reference';
  buffer: string;
  file: string;
  dtype: string;
  shape: number[];
  /** A sampled reference: the output rows (of shape[1] elements) it holds, in order. */
  rows?: readonly number[];
}

interface IndexEntry {
  key: string;
  suite: string;
  params: PlannedCase['params'];
  dtype: string;
  tensors: TensorEntry[];
}

function fileStem(key: string): string {
  return key.replace(/[^A-Za-z0-9._-]+/g, '_');
}

function asNpy(decl: Pick<BufferDecl, 'type'>, data: Float32Array | Uint32Array | Int32Array): { data: NpyData; f16: boolean; dtype: string } {
  if (decl.type === 'f16') return { data: toF16Array(data), f16: true, dtype: 'float16' };
  if (decl.type === 'u32') return { data: data as Uint32Array, f16: false, dtype: 'uint32' };
  if (decl.type === 'i32') return { data: data as Int32Array, f16: false, dtype: 'int32' };
  return { data: data as Float32Array, f16: false, dtype: 'float32' };
}

/**
 * `run --save-tensors DIR`: each checked case's inputs, GPU outputs and float64 references as .npy,
 * with index.json saying which file is which, so anyone can re-check a kernel with numpy.
 */
export class TensorDump {
  private readonly entries: IndexEntry[] = [];

  constructor(private readonly dir: string) {
    try {
      ensureDir(dir);
    } catch (error) {
      throw new UserError(`cannot write tensors to ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }

  save(planned: PlannedCase, { kernelCase, outputs }: CaseTensors): void {
    const stem = fileStem(planned.key);
    const tensors: TensorEntry[] = [];
    const write = (role: TensorEntry['role'], buffer: string, npy: { data: NpyData; f16: boolean; dtype: string }, shape: number[]): void => {
      const file = `${stem}.${role}.${buffer}.npy`;
      writeFileSync(join(this.dir, file), encodeNpy(npy.data, shape, { f16: npy.f16 }));
      tensors.push({ role, buffer, file, dtype: npy.dtype, shape });
    };
    for (const decl of kernelCase.buffers) {
      if (decl.input && decl.data) write('input', decl.name, asNpy(decl, decl.data), [decl.data.length]);
    }
    for (const check of kernelCase.checks) {
      const decl = kernelCase.buffers.find((b) => b.name === check.buffer);
      const output = outputs.get(check.buffer);
      if (!decl || !output) continue;
      write('output', check.buffer, asNpy(decl, output), check.shape);
      const sample = check.sampledRows;
      write('reference', check.buffer, { data: check.expected(), f16: false, dtype: 'float64' }, sample ? [sample.rows.length, sample.rowLength] : check.shape);
      if (sample) (tensors.at(-1) as TensorEntry).rows = sample.rows;
    }
    this.entries.push({
      key: planned.key,
      suite: planned.suite,
      params: planned.params,
      dtype: kernelCase.stages[0]?.dtype ?? 'f32',
      tensors,
    });
    writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify({ cases: this.entries }, null, 1) + '\n');
  }
}
