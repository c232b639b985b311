import { seededUniform } from '../reference/random.js';
import { seededCache, type CacheSource } from './kv-pages.js';
import { seqLengths, seqStarts, type MlaLayerWeights, type MlaWeights } from '../reference/mla.js';
import { roundToF16 } from '../util/f16.js';
import type { MlaSpec } from './mla-spec.js';
import type { Dtype } from './spec.js';

/** The MLA family's host-side inputs: seeded weights, activations and caches, in the layouts the stages read. */

export interface MlaInputs {
  weights: MlaWeights;
  layerWeights?: MlaLayerWeights;
  hidden?: Float32Array;
  wO?: Float32Array;
  /** [batch][q_len][heads][d_nope + d_r] before RoPE (attention-only path). */
  qIn?: Float32Array;
  /**
   * The packed cache [sum of the sequences' lengths][d_c + d_r] ([batch][context][d_c + d_r] when they are all
   * `context`); with layer=full the new tokens' rows are the GPU's to write. Made on first read.
   */
  readonly latent: Float32Array;
  /** The seed of the latent cache's values (latentSource gives them without the array). */
  latentSeed: number;
}

export function generateInputs(spec: MlaSpec, dtype: Dtype, seed: number): MlaInputs {
  const { dims, batch, qLen } = spec;
  const tokens = batch * qLen;
  const cached = seqLengths(spec).reduce((a, b) => a + b, 0);
  const qWidth = dims.heads * (dims.dNope + dims.dRope);
  let next = seed;
  const uniform = (length: number, bound: number): Float32Array => seededUniform(length, (next++ >>> 0) as number, dtype, -bound, bound);
  const gain = (length: number): Float32Array => seededUniform(length, (next++ >>> 0) as number, dtype, 0.5, 1.5);
  // Weights ~ U(-1, 1) / sqrt(fan_in): every projection keeps values of order one.
  const weights: MlaWeights = {
    wUK: uniform(dims.heads * dims.dNope * dims.dLatent, 1 / Math.sqrt(dims.dLatent)),
    wUV: uniform(dims.heads * dims.dV * dims.dLatent, 1 / Math.sqrt(dims.dLatent)),
  };
  const latentSeed = next++ >>> 0;
  let latent: Float32Array | undefined;
  const inputs: MlaInputs = {
    weights,
    latentSeed,
    get latent(): Float32Array {
      return (latent ??= seededUniform(cached * (dims.dLatent + dims.dRope), latentSeed, dtype, -1, 1));
    },
  };
  if (spec.layer === 'full') {
    const qSource = dims.dQLatent > 0 ? dims.dQLatent : dims.dModel;
    inputs.hidden = uniform(tokens * dims.dModel, 1);
    inputs.layerWeights = {
      ...(dims.dQLatent > 0 && { wDQ: uniform(dims.dModel * dims.dQLatent, 1 / Math.sqrt(dims.dModel)), qNorm: gain(dims.dQLatent) }),
      wUQ: uniform(qSource * qWidth, 1 / Math.sqrt(qSource)),
      wDKV: uniform(dims.dModel * (dims.dLatent + dims.dRope), 1 / Math.sqrt(dims.dModel)),
      kvNorm: gain(dims.dLatent),
    };
  } else {
    inputs.qIn = uniform(tokens * qWidth, 1);
  }
  if (spec.oProj) inputs.wO = uniform(dims.heads * dims.dV * dims.dModel, 1 / Math.sqrt(dims.heads * dims.dV));
  return inputs;
}

/**
 * The latent cache's values as rows of a seeded source: those `latent` holds, without an array of the cache's size
 * (a GPU-sized paged cache is filled and checked from it). Token t of sequence b is row starts[b] + t (the packed
 * layout; b * context + t when every sequence holds `context` tokens).
 */
export function latentSource(spec: MlaSpec, inputs: Pick<MlaInputs, 'latentSeed'>, dtype: Dtype): CacheSource {
  const row = spec.dims.dLatent + spec.dims.dRope;
  const starts = seqStarts(spec);
  const cached = seqLengths(spec).reduce((a, b) => a + b, 0);
  return seededCache(Math.max(1, cached) * row, row, inputs.latentSeed, dtype, (b, _g, t) => (starts[b] as number) + t);
}

/** Per-head transpose: [z][rows][cols] -> [z][cols][rows]. */
export function transposeBlocks(x: Float32Array, z: number, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < z; b++) {
    const base = b * rows * cols;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[base + c * rows + r] = x[base + r * cols + c] as number;
  }
  return out;
}

/** The new tokens' cache rows [batch][q_len][d_c + d_r] of a latent cache (zeros for a sequence with none cached). */
export function newRows(spec: MlaSpec, latent: Float32Array): Float32Array {
  const { dims, batch, qLen: S } = spec;
  const row = dims.dLatent + dims.dRope;
  const [lens, starts] = [seqLengths(spec), seqStarts(spec)];
  const out = new Float32Array(batch * S * row);
  for (let b = 0; b < batch; b++) {
    const end = (starts[b] as number) + (lens[b] as number);
    if (lens[b]! > 0) out.set(latent.subarray((end - S) * row, end * row), b * S * row);
  }
  return out;
}

/**
 * The expanded cache of the tokens before the new ones, decompressed on the host from the same latent cache
 * (rounded to the storage type, as a GPU-written cache would be); the new tokens' slots stay NaN until the
 * up-project stage writes them.
 */
export function expandCache(spec: MlaSpec, inputs: MlaInputs, dtype: Dtype): { k: Float32Array; v: Float32Array } {
  const { dims, batch, qLen: S } = spec;
  const { heads: H, dNope, dRope, dV, dLatent: dC } = dims;
  const row = dC + dRope;
  const qW = dNope + dRope;
  const [lens, starts] = [seqLengths(spec), seqStarts(spec)];
  const cached = lens.reduce((a, b) => a + b, 0);
  const k = new Float32Array(cached * H * qW).fill(NaN);
  const v = new Float32Array(cached * H * dV).fill(NaN);
  const round = dtype === 'f16' ? roundToF16 : Math.fround;
  const { wUK, wUV } = inputs.weights;
  const { latent } = inputs;
  const decompress = (w: Float32Array, h: number, j: number, c: number): number => {
    let sum = 0;
    const base = (h * (w === wUK ? dNope : dV) + j) * dC;
    for (let i = 0; i < dC; i++) sum += (w[base + i] as number) * (latent[c + i] as number);
    return round(sum);
  };
  for (let b = 0; b < batch; b++) {
    const [L, first] = [lens[b] as number, starts[b] as number];
    for (let t = 0; t < L - S; t++) {
      const c = (first + t) * row;
      for (let h = 0; h < H; h++) {
        const kBase = (first * H + h * L + t) * qW;
        for (let j = 0; j < dNope; j++) k[kBase + j] = decompress(wUK, h, j, c);
        for (let r = 0; r < dRope; r++) k[kBase + dNope + r] = latent[c + dC + r] as number;
        const vBase = (first * H + h * L + t) * dV;
        for (let j = 0; j < dV; j++) v[vBase + j] = decompress(wUV, h, j, c);
      }
    }
  }
  return { k, v };
}
