import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f16BitsToF32, f32ToF16Bits, fromF16Array, roundToF16, toF16Array } from '../../src/util/f16.js';
import { decodeNpy, encodeNpy, type NpyData } from '../../src/util/npy.js';

test('f32ToF16Bits gives the IEEE binary16 bit patterns', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [65519.99, 0x7bff],
    [65520, 0x7c00],
    [-65520, 0xfc00],
    [1e10, 0x7c00],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [2 ** -14 - 2 ** -24, 0x03ff],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    // 1 + 2^-11 is halfway between 1 and the next f16: ties to the even significand (1).
    [1 + 2 ** -11, 0x3c00],
    // 1 + 3 * 2^-11 is halfway between two odd/even neighbours: ties up to the even one.
    [1 + 3 * 2 ** -11, 0x3c02],
    // Just above the 0/2^-24 midpoint rounds up.
    [2 ** -25 + 2 ** -40, 0x0001],
    // 1.5 * 2^-24 is a tie between 0x0001 and 0x0002: even wins.
    [1.5 * 2 ** -24, 0x0002],
    // Largest subnormal rounding up carries into the smallest normal.
    [2 ** -14 - 2 ** -26, 0x0400],
  ];
  for (const [value, bits] of cases) {
    assert.equal(f32ToF16Bits(value), bits, `${value} -> 0x${bits.toString(16)}`);
  }
  // 5.960464477539063e-8 is 2^-24; half of it is exactly between 0 and 2^-24, and ties go to even (0).
  assert.equal(5.960464477539063e-8, 2 ** -24);
  assert.equal(f32ToF16Bits(5.960464477539063e-8 / 2), 0x0000);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  assert.equal(f32ToF16Bits(NaN) & 0x7c00, 0x7c00);
  assert.notEqual(f32ToF16Bits(NaN) & 0x03ff, 0);
});

test('f16BitsToF32 decodes special values', () => {
  assert.equal(f16BitsToF32(0x3c00), 1);
  assert.equal(f16BitsToF32(0xc000), -2);
  assert.equal(f16BitsToF32(0x7bff), 65504);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0x2e66), 0.0999755859375);
  assert.equal(f16BitsToF32(0x7c00), Infinity);
  assert.equal(f16BitsToF32(0xfc00), -Infinity);
  assert.ok(Object.is(f16BitsToF32(0x8000), -0));
  assert.ok(Number.isNaN(f16BitsToF32(0x7c01)));
  assert.ok(Number.isNaN(f16BitsToF32(0xfe00)));
  assert.equal(roundToF16(0.1), 0.0999755859375);
  assert.equal(roundToF16(65504.5), 65504);
});

test('every f16 bit pattern survives decode and re-encode', () => {
  for (let bits = 0; bits <= 0xffff; bits++) {
    const value = f16BitsToF32(bits);
    const isNaNPattern = (bits & 0x7c00) === 0x7c00 && (bits & 0x03ff) !== 0;
    if (isNaNPattern) {
      assert.ok(Number.isNaN(value), `0x${bits.toString(16)} decodes to NaN`);
      assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(value))));
      continue;
    }
    if (f32ToF16Bits(value) !== bits) assert.fail(`0x${bits.toString(16)} -> ${value} -> 0x${f32ToF16Bits(value).toString(16)}`);
    // Every f16 value is exact in f32.
    if (Math.fround(value) !== value) assert.fail(`0x${bits.toString(16)} is not exact in f32`);
  }
  const all = Uint16Array.from({ length: 0x10000 }, (_, i) => i);
  const back = toF16Array(fromF16Array(all));
  for (let bits = 0; bits <= 0xffff; bits++) {
    const isNaNPattern = (bits & 0x7c00) === 0x7c00 && (bits & 0x03ff) !== 0;
    if (isNaNPattern) assert.ok(Number.isNaN(f16BitsToF32(back[bits]!)));
    else if (back[bits] !== bits) assert.fail(`array round trip of 0x${bits.toString(16)} gave 0x${back[bits]!.toString(16)}`);
  }
});

test('encodeNpy writes a version 1.0 header padded to 64 bytes', () => {
  const buf = encodeNpy(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.deepEqual([...buf.subarray(0, 6)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  assert.equal(buf.subarray(1, 6).toString('latin1'), 'NUMPY');
  assert.deepEqual([buf[6], buf[7]], [1, 0]);
  const headerLength = buf.readUInt16LE(8);
  assert.equal((10 + headerLength) % 64, 0);
  const header = buf.toString('latin1', 10, 10 + headerLength);
  const dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }";
  assert.equal(header, dict + ' '.repeat(headerLength - dict.length - 1) + '\n');
  assert.equal(headerLength, 118);
  assert.equal(buf.length, 10 + headerLength + 6 * 8);
  assert.equal(buf.readDoubleLE(10 + headerLength), 1);
  assert.equal(buf.readDoubleLE(buf.length - 8), 6);
});

test('encodeNpy writes 1-d shapes as (n,) and 0-d shapes as ()', () => {
  const header = (buf: Buffer): string => buf.toString('latin1', 10, 10 + buf.readUInt16LE(8));
  assert.match(header(encodeNpy(new Float32Array([1, 2, 3]), [3])), /'descr': '<f4', 'fortran_order': False, 'shape': \(3,\), \}/);
  assert.match(header(encodeNpy(new Int32Array([7]), [])), /'descr': '<i4', 'fortran_order': False, 'shape': \(\), \}/);
  assert.match(header(encodeNpy(new Uint32Array(0), [0, 4])), /'shape': \(0, 4\)/);
  assert.match(header(encodeNpy(toF16Array([1]), [1], { f16: true })), /'descr': '<f2'/);
  assert.match(header(encodeNpy(new Uint16Array([1]), [1])), /'descr': '<u2'/);
});

test('encodeNpy rejects a shape that does not match the data', () => {
  assert.throws(() => encodeNpy(new Float32Array(6), [2, 2]), /holds 4 elements but the data has 6/);
  assert.throws(() => encodeNpy(new Float32Array(2), []), /holds 1 elements/);
  assert.throws(() => encodeNpy(new Float32Array(2), [-1, -2]), /non-negative integers/);
  assert.throws(() => encodeNpy(new Float32Array(2), [2], { f16: true }), /Uint16Array/);
});

function numpyAvailable(): boolean {
  return spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
}

const HAS_NUMPY = numpyAvailable();

const ROUND_TRIP_CASES: { name: string; data: NpyData; shape: number[]; f16?: boolean; descr: string }[] = [
  { name: 'f8', data: new Float64Array([1.5, -2.25, Math.PI, 1e300, -0, 5e-324]), shape: [2, 3], descr: '<f8' },
  { name: 'f4', data: new Float32Array([0.1, -7, 3e38, 1e-45]), shape: [4], descr: '<f4' },
  { name: 'f2', data: toF16Array([1, -2, 0.1, 65504, 2 ** -24, Infinity]), shape: [3, 2], f16: true, descr: '<f2' },
  { name: 'u2', data: new Uint16Array([0, 1, 65535]), shape: [3], descr: '<u2' },
  { name: 'u4', data: new Uint32Array([0, 1, 0xffffffff, 123456789]), shape: [2, 1, 2], descr: '<u4' },
  { name: 'i4', data: new Int32Array([-2147483648, -1, 0, 2147483647]), shape: [2, 2], descr: '<i4' },
  { name: 'scalar', data: new Float32Array([42]), shape: [], descr: '<f4' },
  { name: 'empty', data: new Float64Array(0), shape: [0], descr: '<f8' },
];

test('decodeNpy reads back what encodeNpy wrote, for every dtype', (t) => {
  if (!HAS_NUMPY) t.diagnostic('python3 with numpy not found: the numpy interop tests are not defined in this run');
  for (const { name, data, shape, f16, descr } of ROUND_TRIP_CASES) {
    const decoded = decodeNpy(encodeNpy(data, shape, { f16: f16 ?? false }));
    assert.equal(decoded.descr, descr, name);
    assert.deepEqual(decoded.shape, shape, name);
    assert.equal(decoded.data.constructor, data.constructor, name);
    assert.deepEqual([...decoded.data], [...data], name);
  }
  // A subarray view must write only its own elements.
  const view = new Float32Array([9, 1, 2, 9]).subarray(1, 3);
  assert.deepEqual([...decodeNpy(encodeNpy(view, [2])).data], [1, 2]);
});

test('decodeNpy rejects what it cannot read', () => {
  assert.throws(() => decodeNpy(Buffer.from('not a numpy file')), /magic/);
  const truncated = encodeNpy(new Float64Array([1, 2]), [2]).subarray(0, -1);
  assert.throws(() => decodeNpy(truncated), /needs 16 data bytes, found 15/);
});

/** Python's repr of a float: like JavaScript's except for inf and nan. */
function pythonFloat(text: string): number {
  const special: Record<string, number> = { inf: Infinity, '-inf': -Infinity, nan: NaN };
  return special[text] ?? Number(text);
}

if (HAS_NUMPY) {
  test('numpy loads the files encodeNpy writes, and decodeNpy reads the files numpy writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mla-bench-npy-'));
    try {
      const files = ROUND_TRIP_CASES.map(({ name, data, shape, f16 }) => {
        const path = join(dir, `${name}.npy`);
        writeFileSync(path, encodeNpy(data, shape, { f16: f16 ?? false }));
        return path;
      });
      const script = [
        'import json, sys, numpy as np',
        'out = []',
        'for path in sys.argv[1:]:',
        '    a = np.load(path)',
        '    f = a.astype(np.float64)',
        '    out.append({"dtype": a.dtype.str, "shape": list(a.shape), "sum": repr(float(f.sum())), "values": [repr(float(v)) for v in f.ravel()]})',
        'np.save(sys.argv[1] + ".from-numpy.npy", np.arange(12, dtype=np.float16).reshape(3, 4) / 4)',
        'print(json.dumps(out))',
      ].join('\n');
      const result = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      const loaded = JSON.parse(result.stdout) as { dtype: string; shape: number[]; sum: string; values: string[] }[];

      ROUND_TRIP_CASES.forEach(({ name, data, shape, f16, descr }, i) => {
        const fromNumpy = loaded[i];
        assert.ok(fromNumpy, name);
        const expected = f16 && data instanceof Uint16Array ? [...fromF16Array(data)] : [...data];
        assert.equal(fromNumpy.dtype, descr, name);
        assert.deepEqual(fromNumpy.shape, shape, name);
        assert.deepEqual(fromNumpy.values.map(pythonFloat), expected, name);
        assert.equal(
          pythonFloat(fromNumpy.sum),
          expected.reduce((sum, value) => sum + value, 0),
          name,
        );
      });

      const written = decodeNpy(readFileSync(`${files[0]}.from-numpy.npy`));
      assert.equal(written.descr, '<f2');
      assert.deepEqual(written.shape, [3, 4]);
      assert.ok(written.data instanceof Uint16Array);
      assert.deepEqual(
        [...fromF16Array(written.data)],
        Array.from({ length: 12 }, (_, i) => i / 4),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('f32ToF16Bits agrees with numpy float64 -> float16 casts', () => {
    // Deterministic spread over normals, subnormals, overflow and f32-exact inputs.
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const values = Float64Array.from({ length: 5000 }, (_, i) => {
      const value = (random() - 0.5) * 2 ** (Math.floor(random() * 50) - 30);
      return i % 3 === 0 ? Math.fround(value) : value;
    });
    const dir = mkdtempSync(join(tmpdir(), 'mla-bench-f16-'));
    try {
      const input = join(dir, 'in.npy');
      const output = join(dir, 'out.npy');
      writeFileSync(input, encodeNpy(values, [values.length]));
      const script =
        'import sys, numpy as np\nwith np.errstate(over="ignore"):\n    np.save(sys.argv[2], np.load(sys.argv[1]).astype(np.float16))';
      const result = spawnSync('python3', ['-c', script, input, output], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      const expected = decodeNpy(readFileSync(output)).data;
      assert.deepEqual([...toF16Array(values)], [...expected]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
