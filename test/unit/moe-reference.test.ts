import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignReference, loadImbalance, paddedCapacity, routeToken, routingProblem, type MoeRouting } from '../../src/reference/moe.js';
import { routingIsSeparated } from '../../src/kernels/moe-inputs.js';

const softmax: MoeRouting = { scoreFunction: 'softmax', experts: 8, topK: 3, nGroup: 1, topkGroup: 1, renormalize: false, routeScale: 1 };
const noBias = new Float32Array(8);

test('top-k: keys descending, ties to the lower expert index', () => {
  const logits = [0.5, 2, 1, 2, 0.5, 2, -1, 0];
  assert.deepEqual(routeToken(softmax, logits, noBias).ids, [1, 3, 5]);
  assert.deepEqual(routeToken({ ...softmax, topK: 5 }, logits, noBias).ids, [1, 3, 5, 2, 0]);
  // All equal: the first k experts, in index order.
  assert.deepEqual(routeToken(softmax, new Array(8).fill(0), noBias).ids, [0, 1, 2]);
});

test('softmax gates: probabilities over all experts times the route scale, not renormalised', () => {
  const logits = [0, Math.log(3), 0, 0, 0, 0, 0, 0];
  const { ids, weights } = routeToken({ ...softmax, topK: 2, routeScale: 16 }, logits, noBias);
  assert.deepEqual(ids, [1, 0]);
  assert.ok(Math.abs(weights[0]! - (16 * 3) / 10) < 1e-12);
  assert.ok(Math.abs(weights[1]! - 16 / 10) < 1e-12);
});

test('V2 group limit: the best expert outside the chosen groups is skipped (group score = max)', () => {
  // 4 groups of 2; group maxima 5, 4, 3.9, 1 -> topk_group 2 keeps groups 0 and 1.
  const logits = [5, 0, 4, 3.95, 3.9, 3.8, 1, 0];
  const routing = { ...softmax, nGroup: 4, topkGroup: 2, topK: 3 };
  assert.deepEqual(routeToken(routing, logits, noBias).ids, [0, 2, 3]);
});

test('V3: sigmoid + bias selects, gates from the unbiased sigmoid, renormalised, times 2.5; group score = sum of top two', () => {
  const routing: MoeRouting = {
    scoreFunction: 'sigmoid',
    experts: 8,
    topK: 2,
    nGroup: 2,
    topkGroup: 1,
    renormalize: true,
    routeScale: 2.5,
  };
  const logits = [3, -3, -3, -3, 1, 1, 0, 0];
  // Group 0: 0.95 + 0.05 = 1.0; group 1: 0.73 + 0.73 = 1.46 -> group 1 wins though expert 0 is the best single key.
  const { ids, weights } = routeToken(routing, logits, new Float32Array(8));
  assert.deepEqual(ids, [4, 5]);
  assert.ok(Math.abs(weights[0]! - 1.25) < 1e-12 && Math.abs(weights[1]! - 1.25) < 1e-12);
  // A bias moves the selection but not the gate values.
  const bias = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0.5]);
  const biased = routeToken(routing, logits, bias);
  assert.deepEqual(biased.ids, [7, 4]);
  const s = (l: number): number => 1 / (1 + Math.exp(-l));
  assert.ok(Math.abs(biased.weights[0]! - (2.5 * s(0)) / (s(0) + s(1))) < 1e-12);
});

test('routing problems are named', () => {
  assert.match(routingProblem({ ...softmax, topK: 9 }) ?? '', /top_k=9/);
  assert.match(routingProblem({ ...softmax, nGroup: 3 }) ?? '', /n_group=3 must divide/);
  assert.match(routingProblem({ ...softmax, experts: 8, nGroup: 8, topkGroup: 2, topK: 3 }) ?? '', /exceeds the 2 experts/);
  assert.equal(routingProblem({ ...softmax, topK: 8 }), null);
});

test('align: expert-contiguous, ascending pair order, padded to the block, sentinels and block experts', () => {
  // 3 tokens x top-2 over 4 experts; expert 2 gets nothing.
  const ids = Uint32Array.from([1, 0, 1, 3, 0, 1]);
  const layout = alignReference(ids, 4, 4);
  assert.deepEqual([...layout.counts], [2, 3, 0, 1]);
  assert.deepEqual([...layout.starts], [0, 4, 8, 8, 12]);
  assert.equal(layout.paddedTotal, 12);
  assert.equal(layout.capacity, paddedCapacity(6, 4, 4));
  const S = 6;
  assert.deepEqual([...layout.sortedIds], [1, 4, S, S, 0, 2, 5, S, 3, S, S, S, ...new Array(layout.capacity - 12).fill(S)]);
  assert.deepEqual([...layout.blockExpert], [0, 1, 3, ...new Array(layout.capacity / 4 - 3).fill(4)]);
  assert.deepEqual([...layout.positions], [4, 0, 5, 8, 1, 6]);
  assert.equal(loadImbalance(layout.counts), 3 / 1.5);
});

test('capacity covers any routing: every pair plus a partial block per expert that can have tokens', () => {
  assert.equal(paddedCapacity(0, 8, 8), 0);
  assert.equal(paddedCapacity(1, 256, 8), 8);
  assert.equal(paddedCapacity(100, 8, 8), Math.ceil((100 + 8 * 7) / 8) * 8);
});

test('near (and exact) ties are rejected, clear gaps accepted', () => {
  const shape = { ...softmax, tokens: 1, hidden: 4, inter: 4, shared: 0 };
  assert.equal(routingIsSeparated(shape, [3, 2, 1, 0, -1, -2, -3, -4], noBias, 1e-3), true);
  assert.equal(routingIsSeparated(shape, [3, 2, 2 - 1e-6, 0, -1, -2, -3, -4], noBias, 1e-3), false);
  // The 4th best is only compared with the 3rd (the boundary), not ordered further.
  assert.equal(routingIsSeparated(shape, [3, 2, 1, 0, -5, -5 + 1e-6, -6, -7], noBias, 1e-3), true);
});

test('the reference of sampled tokens equals those rows of the whole (token-by-token sums, the same to rounding)', async () => {
  const { moeInputs } = await import('../../src/kernels/moe-inputs.js');
  const { moeReference, routeReference } = await import('../../src/reference/moe.js');
  const shape = {
    tokens: 20,
    hidden: 8,
    inter: 4,
    experts: 16,
    shared: 1,
    topK: 4,
    nGroup: 4,
    topkGroup: 2,
    scoreFunction: 'sigmoid' as const,
    renormalize: true,
    routeScale: 2.5,
  };
  const inputs = moeInputs(shape, 'f32', 3, 'uniform');
  const routing = routeReference(shape, inputs);
  const whole = moeReference(shape, inputs, routing);
  const tokens = [19, 0, 7];
  const some = moeReference(shape, inputs, routing, tokens);
  tokens.forEach((t, i) => {
    for (let h = 0; h < 8; h++) assert.ok(Math.abs(some.out[i * 8 + h]! - whole.out[t * 8 + h]!) < 1e-12);
  });
  assert.throws(() => moeReference(shape, inputs, routing, [20]), /token 20 outside 0..19/);
});

test("routing from the generator's router logits equals routing that computes them", async () => {
  const { generateMoeInputs } = await import('../../src/kernels/moe-inputs.js');
  const { routeReference } = await import('../../src/reference/moe.js');
  const shape = {
    tokens: 30,
    hidden: 16,
    inter: 4,
    experts: 32,
    shared: 1,
    topK: 8,
    nGroup: 8,
    topkGroup: 4,
    scoreFunction: 'sigmoid' as const,
    renormalize: true,
    routeScale: 2.5,
  };
  for (const balance of ['uniform', 'skewed'] as const) {
    const { inputs, routerLogits } = generateMoeInputs(shape, 'f32', 4, balance);
    assert.deepEqual(routeReference(shape, inputs, routerLogits), routeReference(shape, inputs));
  }
});
