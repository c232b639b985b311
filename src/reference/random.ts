import { mulberry32 } from '../core/random.js';
import { roundF32ArrayToF16 } from '../util/f16.js';
import type { Dtype } from '../core/numbers.js';

/**
 * Arrays longer than this repeat their first PERIOD values: a GPU-sized input (billions of elements) would
 * cost the host minutes of random numbers. The period is odd, so no power-of-two stride (rows, heads,
 * sequences) lines a wrong read up with an identical value.
 */
export const SEEDED_PERIOD = 2 ** 24 - 3;

/** Seeded uniform values in [lo, hi), rounded to the storage type so the reference sees what the GPU sees. */
export function seededUniform(length: number, seed: number, dtype: Dtype, lo = -1, hi = 1): Float32Array {
  const random = mulberry32(seed);
  const values = new Float32Array(length);
  const fresh = Math.min(length, length > 2 ** 24 ? SEEDED_PERIOD : length);
  for (let i = 0; i < fresh; i++) values[i] = lo + (hi - lo) * random();
  if (dtype === 'f16') roundF32ArrayToF16(values.subarray(0, fresh));
  for (let filled = fresh; filled < length; filled *= 2) values.copyWithin(filled, 0, Math.min(filled, length - filled));
  return values;
}
