import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lengthRuns } from '../../src/kernels/mla-build.js';
import { newTokenPages } from '../../src/kernels/mla-naive.js';
import { kvElementsFormula, MLA_PRESETS } from '../../src/kernels/mla-spec.js';
import {
  appendToCache,
  applyRope,
  mlaAbsorbedReference,
  mlaLayerInputs,
  mlaNaiveReference,
  mlaScale,
  ropeTable,
  ROPE_THETA,
  type MlaDims,
  type MlaProblem,
} from '../../src/reference/mla.js';
import { seededUniform } from '../../src/reference/random.js';

const DIMS: MlaDims = { heads: 2, dNope: 8, dRope: 4, dV: 6, dLatent: 12, dQLatent: 10, dModel: 16 };

function problem(qLen: number, context: number): MlaProblem {
  return { dims: DIMS, batch: 2, qLen, context, scale: mlaScale(DIMS), ropeTheta: ROPE_THETA };
}

function maxDiff(a: Float64Array, b: Float64Array): number {
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - (b[i] as number))), 0);
}

test('naive and absorbed references agree to float64 rounding (decode and causal q_len > 1)', () => {
  for (const [qLen, context] of [
    [1, 9],
    [4, 7],
  ] as const) {
    const p = problem(qLen, context);
    const weights = { wUK: seededUniform(2 * 8 * 12, 1, 'f32'), wUV: seededUniform(2 * 6 * 12, 2, 'f32') };
    const qIn = seededUniform(2 * qLen * 2 * 12, 3, 'f32');
    const latent = seededUniform(2 * context * 16, 4, 'f32');
    const naive = mlaNaiveReference(p, weights, qIn, latent);
    const absorbed = mlaAbsorbedReference(p, weights, qIn, latent);
    assert.ok(maxDiff(naive.out, absorbed.out) < 1e-12, `q_len ${qLen}: ${maxDiff(naive.out, absorbed.out)}`);
    assert.ok(Math.abs(naive.maxScore - absorbed.maxScore) < 1e-12);
    // The scale is 1/sqrt(d_nope + d_r) in both forms: a different one changes the output.
    const wrong = mlaAbsorbedReference({ ...p, scale: 1 / Math.sqrt(DIMS.dLatent + DIMS.dRope) }, weights, qIn, latent);
    assert.ok(maxDiff(wrong.out, naive.out) > 1e-4);
  }
});

test('RoPE: a rotation (norm kept) whose q.k depends only on the position difference', () => {
  const q = Float64Array.from([0.3, -0.7, 0.2, 0.9, -0.4, 0.1]);
  const k = Float64Array.from([0.5, 0.1, -0.6, 0.3, 0.2, -0.8]);
  const dot = (pq: number, pk: number): number => {
    const a = Float64Array.from(q);
    const b = Float64Array.from(k);
    applyRope(a, 0, 6, pq);
    applyRope(b, 0, 6, pk);
    return a.reduce((s, x, i) => s + x * (b[i] as number), 0);
  };
  const rotated = Float64Array.from(q);
  applyRope(rotated, 0, 6, 1234);
  const norm = (x: Float64Array): number => Math.hypot(...x);
  assert.ok(Math.abs(norm(rotated) - norm(q)) < 1e-12);
  assert.ok(Math.abs(dot(7, 3) - dot(104, 100)) < 1e-12);
  assert.ok(Math.abs(dot(7, 3) - dot(3, 7)) > 1e-3);
  // Pair (x0, x1) at position 1 with frequency theta^0 = 1 rotates by 1 radian.
  const pair = Float64Array.from([1, 0]);
  applyRope(pair, 0, 2, 1);
  assert.ok(Math.abs((pair[0] as number) - Math.cos(1)) < 1e-15 && Math.abs((pair[1] as number) - Math.sin(1)) < 1e-15);
});

test('per-layer path: the new tokens land at the last q_len positions, normalised and roped', () => {
  const p = problem(2, 5);
  const lw = {
    wDQ: seededUniform(16 * 10, 5, 'f32'),
    qNorm: seededUniform(10, 6, 'f32', 0.5, 1.5),
    wUQ: seededUniform(10 * 2 * 12, 7, 'f32'),
    wDKV: seededUniform(16 * 16, 8, 'f32'),
    kvNorm: seededUniform(12, 9, 'f32', 0.5, 1.5),
  };
  const hidden = seededUniform(2 * 2 * 16, 10, 'f32');
  const { qIn, newLatent } = mlaLayerInputs(p, lw, hidden);
  assert.equal(qIn.length, 2 * 2 * 2 * 12);
  const latent = seededUniform(2 * 5 * 16, 11, 'f32');
  const cache = appendToCache(p, latent, newLatent);
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < 5; t++) {
      const row = Array.from(cache.subarray((b * 5 + t) * 16, (b * 5 + t + 1) * 16));
      const expected =
        t < 3
          ? Array.from(latent.subarray((b * 5 + t) * 16, (b * 5 + t + 1) * 16))
          : Array.from(newLatent.subarray((b * 2 + t - 3) * 16, (b * 2 + t - 2) * 16));
      assert.deepEqual(row, expected);
    }
  }
  // RMSNorm with unit gain would give mean square 1; with the gain, ms(x / gain) = 1.
  const c = newLatent.subarray(0, 12);
  const ms = c.reduce((s, x, i) => s + (x / (lw.kvNorm[i] as number)) ** 2, 0) / 12;
  assert.ok(Math.abs(ms - 1) < 1e-5);
});

test('Table 1: MLA caches d_c + d_r = 576 per token per layer at DeepSeek-V2, expanded 40960, MHA 32768', () => {
  const v2 = MLA_PRESETS['deepseek-v2'];
  assert.equal(kvElementsFormula('absorbed', v2), 576);
  assert.equal(kvElementsFormula('naive-latent', v2), 576);
  assert.equal(kvElementsFormula('naive-expanded', v2), 40960);
  assert.equal(kvElementsFormula('mha', v2), 32768);
  assert.equal(kvElementsFormula('gqa', v2), 2048);
  assert.equal(kvElementsFormula('mqa', v2), 256);
  assert.equal(kvElementsFormula('mha', v2) / kvElementsFormula('absorbed', v2), 32768 / 576);
});

test('the absorbed reference of chosen rows equals those rows of the whole, in the order asked', () => {
  const p = problem(4, 7);
  const weights = { wUK: seededUniform(2 * 8 * 12, 1, 'f32'), wUV: seededUniform(2 * 6 * 12, 2, 'f32') };
  const qIn = seededUniform(2 * 4 * 2 * 12, 3, 'f32');
  const latent = seededUniform(2 * 7 * 16, 4, 'f32');
  const whole = mlaAbsorbedReference(p, weights, qIn, latent);
  const rows = [15, 0, 6, 9];
  const some = mlaAbsorbedReference(p, weights, qIn, latent, rows);
  assert.equal(some.out.length, rows.length * DIMS.dV);
  rows.forEach((row, i) => assert.deepEqual([...some.out.slice(i * 6, i * 6 + 6)], [...whole.out.slice(row * 6, row * 6 + 6)]));
  assert.throws(() => mlaAbsorbedReference(p, weights, qIn, latent, [16]), /row 16 outside 0..15/);
});

// Ragged batches: sequence b holds kvLens[b] tokens in the packed layout; the same tokens alone (batch 1, context
// kvLens[b]) give the same rows, and a sequence with no cached token outputs zeros.
test('a ragged batch equals each sequence alone; a zero-length sequence outputs zeros (naive and absorbed)', () => {
  const row = DIMS.dLatent + DIMS.dRope;
  const qW = DIMS.dNope + DIMS.dRope;
  const weights = { wUK: seededUniform(2 * 8 * 12, 1, 'f32'), wUV: seededUniform(2 * 6 * 12, 2, 'f32') };
  for (const [qLen, kvLens] of [
    [1, [9, 0, 4, 1]],
    [2, [7, 3, 0, 2]],
  ] as [number, number[]][]) {
    const batch = kvLens.length;
    const context = Math.max(...kvLens);
    const p: MlaProblem = { ...problem(qLen, context), batch, kvLens };
    const qIn = seededUniform(batch * qLen * 2 * qW, 3, 'f32');
    const latent = seededUniform(kvLens.reduce((a, b) => a + b, 0) * row, 4, 'f32');
    const naive = mlaNaiveReference(p, weights, qIn, latent);
    const absorbed = mlaAbsorbedReference(p, weights, qIn, latent);
    assert.ok(maxDiff(naive.out, absorbed.out) < 1e-12, `q_len ${qLen}: ${maxDiff(naive.out, absorbed.out)}`);
    const rowsPerSeq = qLen * 2 * DIMS.dV;
    let start = 0;
    kvLens.forEach((len, b) => {
      const got = naive.out.subarray(b * rowsPerSeq, (b + 1) * rowsPerSeq);
      if (len === 0) {
        assert.ok(
          got.every((x) => x === 0),
          `sequence ${b}: zeros`,
        );
      } else {
        const alone = mlaNaiveReference(
          { ...problem(qLen, len), batch: 1 },
          weights,
          qIn.subarray(b * qLen * 2 * qW, (b + 1) * qLen * 2 * qW),
          latent.subarray(start * row, (start + len) * row),
        );
        assert.ok(maxDiff(got, alone.out) < 1e-12, `sequence ${b} (${len} tokens)`);
      }
      start += len;
    });
  }
});

test('ragged RoPE: one table row per (sequence, new token) at position kvLens[b] - q_len + s', () => {
  const kvLens = [9, 4, 0];
  const table = ropeTable({ qLen: 2, context: 9, kvLens, ropeTheta: ROPE_THETA }, 4);
  assert.equal(table.length, 3 * 2 * 4);
  for (const [b, len] of kvLens.entries()) {
    const alone = ropeTable({ qLen: 2, context: len, ropeTheta: ROPE_THETA }, 4);
    assert.deepEqual([...table.subarray(b * 8, b * 8 + 8)], [...alone], `sequence ${b}`);
  }
  assert.deepEqual([...ropeTable({ qLen: 2, context: 9, ropeTheta: ROPE_THETA }, 4)], [...table.subarray(0, 8)]);
});

test('lengthRuns: consecutive equal lengths share a run, zero-length sequences are left out, starts are packed', () => {
  assert.deepEqual(lengthRuns([5, 5, 5]), [{ seq: 0, count: 3, len: 5, start: 0 }]);
  assert.deepEqual(lengthRuns([5, 5, 0, 3, 3, 5]), [
    { seq: 0, count: 2, len: 5, start: 0 },
    { seq: 3, count: 2, len: 3, start: 10 },
    { seq: 5, count: 1, len: 5, start: 16 },
  ]);
  assert.deepEqual(lengthRuns([0, 0]), []);
});

test("newTokenPages: each sequence's new tokens, page by page through the block table, none for an empty sequence", () => {
  // Pages of 4 tokens, 3 pages a pool; sequence 0 (6 tokens) in pages [7, 2], sequence 2 (9 tokens) in [0, 5, 4].
  const blockTable = Uint32Array.from([7, 2, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0, 5, 4]);
  const layout = {
    paging: { pageSize: 4, poolPages: 3, pools: 3, tableEntries: 5 },
    table: () => ({ pageSize: 4, maxPages: 3, pageCount: 8, blockTable, owners: new Int32Array(16) }),
  };
  assert.deepEqual(newTokenPages([6, 0, 9], 3, layout), [
    // Sequence 0: tokens 3 (page 0 -> physical 7: pool 2, page 1) and 4, 5 (page 1 -> physical 2: pool 0, page 2).
    { pool: 2, page: 1, slot: 3, tokens: 1, newRow: 0 },
    { pool: 0, page: 2, slot: 0, tokens: 2, newRow: 1 },
    // Sequence 2: tokens 6, 7 (page 1 -> physical 5: pool 1, page 2) and 8 (page 2 -> physical 4: pool 1, page 1).
    { pool: 1, page: 2, slot: 2, tokens: 2, newRow: 6 },
    { pool: 1, page: 1, slot: 0, tokens: 1, newRow: 8 },
  ]);
});
