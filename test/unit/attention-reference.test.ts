import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attentionReference, kvStarts, visibleTokens, type AttentionProblem } from '../../src/reference/attention.js';

function near(actual: number, expected: number, eps = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);
}

function problem(overrides: Partial<AttentionProblem>): AttentionProblem {
  return { batch: 1, nQ: 1, nKv: 1, qLen: 1, dQk: 2, dV: 2, kvLens: [1], causal: false, scale: 1, ...overrides };
}

test('uniform scores (q = 0) give the mean of the visible V rows', () => {
  const p = problem({ kvLens: [4], dV: 3 });
  const v = Float32Array.from([1, 2, 3, 5, 6, 7, -1, 0, 1, 3, 4, 5]);
  const out = attentionReference(p, { q: new Float32Array(2), k: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), v });
  near(out[0]!, (1 + 5 - 1 + 3) / 4);
  near(out[1]!, (2 + 6 + 0 + 4) / 4);
  near(out[2]!, (3 + 7 + 1 + 5) / 4);
});

test('a dominant score selects its V row (and large scores do not overflow)', () => {
  const p = problem({ kvLens: [3], dQk: 1, dV: 1 });
  // Scores 0, 1000, 0: without max subtraction exp(1000) would be Infinity.
  const out = attentionReference(p, { q: Float32Array.from([1]), k: Float32Array.from([0, 1000, 0]), v: Float32Array.from([7, -3, 9]) });
  near(out[0]!, -3);
});

test('two tokens by hand: softmax(scale * q.k) weights', () => {
  const p = problem({ kvLens: [2], dQk: 2, dV: 1, scale: 0.5 });
  const q = Float32Array.from([1, 2]);
  const k = Float32Array.from([1, 0, 0, 1]); // q.k = 1, 2 -> scaled 0.5, 1
  const v = Float32Array.from([10, 20]);
  const w0 = Math.exp(0.5) / (Math.exp(0.5) + Math.exp(1));
  const out = attentionReference(p, { q, k, v });
  near(out[0]!, w0 * 10 + (1 - w0) * 20);
});

test('causal: query s of the last q_len positions sees tokens up to its own position', () => {
  // kv length 5, 3 queries: positions 2, 3, 4 see 3, 4, 5 tokens.
  const p = problem({ kvLens: [5], qLen: 3, dQk: 1, dV: 1, causal: true });
  assert.deepEqual(
    [0, 1, 2].map((s) => visibleTokens(p, 0, s)),
    [3, 4, 5],
  );
  const v = Float32Array.from([1, 2, 3, 4, 5]);
  const out = attentionReference(p, { q: new Float32Array(3), k: new Float32Array(5), v });
  near(out[0]!, (1 + 2 + 3) / 3);
  near(out[1]!, (1 + 2 + 3 + 4) / 4);
  near(out[2]!, 3);
  const open = attentionReference({ ...p, causal: false }, { q: new Float32Array(3), k: new Float32Array(5), v });
  for (let s = 0; s < 3; s++) near(open[s]!, 3);
});

test('causal with fewer cached tokens than queries: queries that see nothing output zeros', () => {
  const p = problem({ kvLens: [2], qLen: 4, dQk: 1, dV: 1, causal: true });
  assert.deepEqual(
    [0, 1, 2, 3].map((s) => visibleTokens(p, 0, s)),
    [0, 0, 1, 2],
  );
  const out = attentionReference(p, { q: new Float32Array(4), k: new Float32Array(2), v: Float32Array.from([4, 8]) });
  assert.deepEqual(Array.from(out), [0, 0, 4, 6]);
});

test('GQA: query head h reads KV head floor(h / (n_q / n_kv))', () => {
  const p = problem({ nQ: 6, nKv: 2, kvLens: [2], dQk: 1, dV: 1 });
  // KV head 0 holds V = 1, 1; KV head 1 holds V = 5, 7 (layout [kv_head][token][dim]).
  const v = Float32Array.from([1, 1, 5, 7]);
  const out = attentionReference(p, { q: new Float32Array(6), k: new Float32Array(4), v });
  assert.deepEqual(Array.from(out), [1, 1, 1, 6, 6, 6]);
  // MQA: every head reads the one KV head.
  const mqa = attentionReference({ ...p, nKv: 1 }, { q: new Float32Array(6), k: new Float32Array(2), v: Float32Array.from([2, 4]) });
  assert.deepEqual(Array.from(mqa), [3, 3, 3, 3, 3, 3]);
});

test('ragged batch: packed [batch][kv_head][token][dim] with sequence offsets', () => {
  assert.deepEqual(kvStarts([2, 3, 1]), [0, 2, 5]);
  const p = problem({ batch: 2, nQ: 2, nKv: 2, kvLens: [1, 2], dQk: 1, dV: 1 });
  // Sequence 0 (1 token): head 0 -> 10, head 1 -> 20. Sequence 1 (2 tokens, from token offset 1):
  // element (b, g, t) at (1 * 2 + g * 2 + t): head 0 -> 1, 3; head 1 -> 5, 7.
  const v = Float32Array.from([10, 20, 1, 3, 5, 7]);
  const out = attentionReference(p, { q: new Float32Array(4), k: new Float32Array(6), v });
  assert.deepEqual(Array.from(out), [10, 20, 2, 6]);
});

test('separate qk and v head dims; output is [batch][q_len][n_q][d_v]', () => {
  const p = problem({ nQ: 2, nKv: 1, qLen: 2, kvLens: [3], dQk: 3, dV: 1, causal: true });
  const out = attentionReference(p, { q: new Float32Array(2 * 2 * 3), k: new Float32Array(9), v: Float32Array.from([3, 6, 9]) });
  assert.equal(out.length, 4);
  // Position 1 sees tokens 0..1, position 2 sees all three: [s=0: h0, h1], [s=1: h0, h1].
  assert.deepEqual(Array.from(out), [4.5, 4.5, 6, 6]);
});

test('mismatched head counts and batch lengths are rejected', () => {
  assert.throws(() =>
    attentionReference(problem({ nQ: 3, nKv: 2 }), { q: new Float32Array(6), k: new Float32Array(4), v: new Float32Array(4) }),
  );
  assert.throws(() =>
    attentionReference(problem({ batch: 2 }), { q: new Float32Array(4), k: new Float32Array(2), v: new Float32Array(2) }),
  );
});

test('rows: the reference of chosen output rows equals those rows of the full reference, in the order asked', async () => {
  const { seededUniform } = await import('../../src/reference/random.js');
  const problem: AttentionProblem = { batch: 2, nQ: 4, nKv: 2, qLen: 3, dQk: 5, dV: 3, kvLens: [7, 4], causal: true, scale: 0.4 };
  const inputs = {
    q: seededUniform(2 * 3 * 4 * 5, 1, 'f32'),
    k: seededUniform(11 * 2 * 5, 2, 'f32'),
    v: seededUniform(11 * 2 * 3, 3, 'f32'),
  };
  const full = attentionReference(problem, inputs);
  const rows = [23, 0, 9, 14];
  const some = attentionReference(problem, inputs, rows);
  assert.equal(some.length, rows.length * 3);
  rows.forEach((row, i) => assert.deepEqual([...some.slice(i * 3, i * 3 + 3)], [...full.slice(row * 3, row * 3 + 3)]));
  assert.throws(() => attentionReference(problem, inputs, [24]), /row 24 outside 0..23/);
});
