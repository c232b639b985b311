import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceLimits } from '../../src/gpu/device.js';
import { attentionFamily } from '../../src/kernels/attention.js';
import { sampleRows, takeRows } from '../../src/kernels/spec.js';

test('sampleRows: every row under the budget; past it, evenly spaced rows with the first and last, as many as it pays for', () => {
  assert.equal(sampleRows(1000, 8, 10, 10_000), undefined, 'the whole output costs 10k: every row');
  assert.equal(sampleRows(50, 8, 1e9, 10), undefined, 'no more rows than the minimum: every row');
  const few = sampleRows(1000, 8, 10, 1_000)!;
  assert.equal(few.rows.length, 100);
  assert.equal(few.rows[0], 0);
  assert.equal(few.rows.at(-1), 999);
  assert.ok(
    few.rows.every((r, i) => i === 0 || r > few.rows[i - 1]!),
    'ascending, no repeats',
  );
  assert.deepEqual({ rowLength: few.rowLength, total: few.total }, { rowLength: 8, total: 1000 });
  assert.equal(sampleRows(1000, 8, 1e6, 1)!.rows.length, 64, 'at least 64 rows however dear');
});

test('takeRows gathers the sampled rows in order, and passes a whole output through without a sample', () => {
  const values = Float32Array.from({ length: 12 }, (_, i) => i);
  assert.deepEqual(Array.from(takeRows(values, { rowLength: 3, total: 4, rows: [3, 0] })), [9, 10, 11, 0, 1, 2]);
  assert.equal(takeRows(values, undefined), values);
});

const LIMITS = {
  maxStorageBufferBindingSize: 2 ** 31,
  maxBufferSize: 2 ** 34,
  maxUniformBufferBindingSize: 65536,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupStorageSize: 49152,
} as DeviceLimits;
const context = { limits: LIMITS, features: new Set<never>(), seed: 1 };

test('an attention case past the device limits is a skip naming buffer and limit, decided before any data is made', () => {
  // K and V of 64 x 128 heads x 32768 tokens x 128 f32: 2^35 elements, 128 GiB each: no host array holds them,
  // so a build that made its inputs first would throw instead of returning the skip.
  const built = attentionFamily.build(
    { phase: 'decode', variant: 'mha', batch: 64, context: 32768, dtype: 'f32', tiling: 'workgroup' },
    context,
  );
  assert.equal(built.kind, 'skip');
  assert.match(
    built.kind === 'skip' ? built.reason : '',
    /^buffer k needs 131072 MiB, above the device's maxStorageBufferBindingSize \(2048 MiB\)$/,
  );
});

test("a GPU-sized attention case checks evenly spaced rows against float64; the quick profile's cases check every row", () => {
  // MQA decode at 32768 tokens: 128 output rows of 32768 x 256 x 2 FLOPs each, 2.1 GFLOP in all: past the budget.
  const big = attentionFamily.build(
    { phase: 'decode', variant: 'mqa', batch: 1, context: 32768, dtype: 'f32', tiling: 'workgroup' },
    context,
  );
  assert.equal(big.kind, 'case');
  const check = big.kind === 'case' ? big.kernelCase.checks[0]! : undefined;
  assert.deepEqual({ rows: check?.sampledRows?.rows.length, total: check?.sampledRows?.total }, { rows: 119, total: 128 });
  const quick = attentionFamily.build({ phase: 'prefill', variant: 'mha', batch: 1, seq: 128, dtype: 'f32', tiling: 'workgroup' }, context);
  assert.equal(quick.kind === 'case' ? quick.kernelCase.checks[0]!.sampledRows : 'skipped', undefined);
});
