import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../src/measure/statistics.js';
import { seededUniform, SEEDED_PERIOD } from '../../src/reference/random.js';
import { f32ArrayToF16Bits, f32ToF16Bits, roundF32ArrayToF16, roundToF16 } from '../../src/util/f16.js';

/** Every exponent from f16 subnormals to past the f16 range, ties included, and the special values. */
function probes(): Float32Array {
  const random = mulberry32(5);
  const values: number[] = [
    0,
    -0,
    Infinity,
    -Infinity,
    NaN,
    65504,
    65519.99,
    65520,
    65536,
    2 ** -14,
    2 ** -24,
    2 ** -25,
    3 * 2 ** -26,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
  ];
  for (let e = -30; e <= 17; e++) {
    for (let i = 0; i < 2000; i++) values.push((random() < 0.5 ? -1 : 1) * (1 + random()) * 2 ** e);
    // Exact ties between two f16 neighbours: the f32 bit patterns ending in 0x1000.
    const tie = new Uint32Array(new Float32Array([(1 + random()) * 2 ** e]).buffer)[0]!;
    values.push(new Float32Array(new Uint32Array([(tie & ~0x1fff) | 0x1000]).buffer)[0]!);
  }
  return Float32Array.from(values);
}

test('the array fast paths agree bit for bit with the scalar f16 conversion on every kind of f32', () => {
  const values = probes();
  const bits = f32ArrayToF16Bits(values);
  const rounded = roundF32ArrayToF16(Float32Array.from(values));
  values.forEach((x, i) => {
    assert.equal(bits[i], f32ToF16Bits(x), `bits of ${x}`);
    assert.ok(Object.is(rounded[i], Math.fround(roundToF16(x))), `rounding of ${x}: ${rounded[i]} vs ${roundToF16(x)}`);
  });
});

test('seededUniform: f16 values are f16-exact, and a GPU-sized array repeats with an odd period', () => {
  const half = seededUniform(100_000, 3, 'f16');
  assert.ok(half.every((x) => roundToF16(x) === x && x >= -1 && x <= 1));
  assert.deepEqual(seededUniform(1000, 3, 'f32'), seededUniform(1000, 3, 'f32'));
  const big = seededUniform(2 * SEEDED_PERIOD + 5, 9, 'f32');
  assert.equal(SEEDED_PERIOD % 2, 1);
  for (const i of [0, 1, 12345, SEEDED_PERIOD - 1]) {
    assert.equal(big[i + SEEDED_PERIOD], big[i]);
    assert.equal(big[i + 2 * SEEDED_PERIOD], i + 2 * SEEDED_PERIOD < big.length ? big[i] : undefined);
  }
  assert.notEqual(big[1], big[2]);
});
