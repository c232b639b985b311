import { mulberry32 } from '../measure/statistics.js';
import { roundToF16 } from '../util/f16.js';
import type { Dtype } from '../kernels/spec.js';

/** Seeded uniform values in [lo, hi), rounded to the storage type so the reference sees what the GPU sees. */
export function seededUniform(length: number, seed: number, dtype: Dtype, lo = -1, hi = 1): Float32Array {
  const random = mulberry32(seed);
  const values = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const x = lo + (hi - lo) * random();
    values[i] = dtype === 'f16' ? roundToF16(x) : x;
  }
  return values;
}
