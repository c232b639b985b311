// IEEE 754 binary16 conversion. Node 20 has no Float16Array, so f16 buffers are carried as Uint16Array bit patterns.

const F16_SIGN = 0x8000;
const F16_INFINITY = 0x7c00;
const F16_QUIET_NAN = 0x7e00;
const F16_MANTISSA_BITS = 10;
const F16_EXPONENT_BIAS = 15;
const F16_MIN_NORMAL = 2 ** -14;
/** Halfway between the largest finite f16 (65504) and 2^16: from here on rounding to nearest even gives Infinity. */
const F16_OVERFLOW_THRESHOLD = 65520;

function roundHalfToEven(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The f16 bit pattern nearest to x (ties to even). Rounds straight from the double, so an f32 input gives the
 * same result as a hardware f32 -> f16 conversion and a wider input is not rounded twice.
 */
export function f32ToF16Bits(x: number): number {
  if (Number.isNaN(x)) return F16_QUIET_NAN;
  const sign = x < 0 || Object.is(x, -0) ? F16_SIGN : 0;
  const magnitude = Math.abs(x);
  if (magnitude >= F16_OVERFLOW_THRESHOLD) return sign | F16_INFINITY;

  if (magnitude < F16_MIN_NORMAL) {
    // Subnormal: magnitude = m * 2^-24. Scaling by a power of two is exact, and m rounding up to 1024 yields
    // exactly the bit pattern of the smallest normal.
    return sign | roundHalfToEven(magnitude * 2 ** 24);
  }

  let exponent = Math.floor(Math.log2(magnitude));
  // Math.log2 may be off by one just below or at a power of two.
  if (2 ** exponent > magnitude) exponent -= 1;
  else if (2 ** (exponent + 1) <= magnitude) exponent += 1;
  const significand = roundHalfToEven((magnitude / 2 ** exponent) * 2 ** F16_MANTISSA_BITS);
  // A significand that rounds up to 2048 carries into the exponent field, which is the correct next power of two.
  return sign | (((exponent + F16_EXPONENT_BIAS) << F16_MANTISSA_BITS) + (significand - 2 ** F16_MANTISSA_BITS));
}

export function f16BitsToF32(bits: number): number {
  const sign = bits & F16_SIGN ? -1 : 1;
  const exponent = (bits >> F16_MANTISSA_BITS) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (2 ** F16_MANTISSA_BITS + mantissa) * 2 ** (exponent - F16_EXPONENT_BIAS - F16_MANTISSA_BITS);
}

/** x rounded to the nearest f16 value, as a number. */
export function roundToF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

export function toF16Array(values: ArrayLike<number>): Uint16Array {
  if (values instanceof Float32Array) return f32ArrayToF16Bits(values);
  const bits = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) bits[i] = f32ToF16Bits(values[i]!);
  return bits;
}

export function fromF16Array(bits: Uint16Array): Float32Array {
  const values = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) values[i] = f16BitsToF32(bits[i]!);
  return values;
}

// Fast paths over whole f32 arrays: integer arithmetic on the f32 bit patterns (round to nearest even on the 13
// dropped mantissa bits), exact for every f32 input; f16 subnormals (|x| < 2^-14) take the scalar path above.
const F32_F16_MIN_NORMAL_BITS = 113 << 23;
/** 65520: from here on an f32 rounds to the f16 Infinity. */
const F32_F16_OVERFLOW_BITS = 0x477ff000;

/** Rounds every element to the nearest f16 value (ties to even), in place. */
export function roundF32ArrayToF16(values: Float32Array): Float32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    const magnitude = u & 0x7fffffff;
    if (magnitude >= F32_F16_MIN_NORMAL_BITS && magnitude < F32_F16_OVERFLOW_BITS) {
      bits[i] = ((u + 0xfff + ((u >>> 13) & 1)) & ~0x1fff) >>> 0;
    } else if (magnitude <= 0x7f800000) {
      values[i] = roundToF16(values[i]!);
    }
  }
  return values;
}

/** f16 bit patterns of f32 values (nearest, ties to even). */
export function f32ArrayToF16Bits(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    const magnitude = u & 0x7fffffff;
    if (magnitude >= F32_F16_MIN_NORMAL_BITS && magnitude < F32_F16_OVERFLOW_BITS) {
      const rounded = magnitude + 0xfff + ((magnitude >>> 13) & 1);
      out[i] = ((u >>> 16) & F16_SIGN) | ((rounded - (112 << 23)) >>> 13);
    } else {
      out[i] = f32ToF16Bits(values[i]!);
    }
  }
  return out;
}
