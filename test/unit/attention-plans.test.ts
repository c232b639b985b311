import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DeviceLimits, PrivateMemory } from '../../src/core/device-facts.js';
import { pickPlan, TILING_STRATEGIES, type PlanRequest } from '../../src/kernels/attention-plans.js';
import type { AttentionShape } from '../../src/kernels/attention-shape.js';
import { loadDeviceFile } from '../../src/run/device-file.js';

const LIMITS: DeviceLimits = loadDeviceFile('lavapipe').limits;

function prefillPlan(shape: AttentionShape, privateMemory: PrivateMemory) {
  const request: PlanRequest = { shape, phase: 'prefill', limits: LIMITS, subgroupMinSize: 8, privateMemory, stridedV: false, wishes: {} };
  return pickPlan(TILING_STRATEGIES.workgroup, request);
}

const llama = (seq: number): AttentionShape => ({ batch: 1, nQ: 32, nKv: 8, dQk: 128, dV: 128, qLen: seq, kvLens: [seq], causal: true });

test('flash default plan: one row of head dim 128 per invocation in registers, two on a CPU adapter stack', () => {
  assert.deepEqual(prefillPlan(llama(512), 'registers'), { kind: 'flash', wg: 128, rpi: 1, bk: 32 });
  assert.deepEqual(prefillPlan(llama(512), 'stack'), { kind: 'flash', wg: 128, rpi: 2, bk: 32 });
  // 512 rows a KV head: four row blocks of 64 lanes x 2 rows.
  assert.deepEqual(prefillPlan(llama(128), 'stack'), { kind: 'flash', wg: 64, rpi: 2, bk: 32 });
});

test('flash default plan: rows past the budget stay one (MLA naive-expanded, head dims 192 / 128); small heads take more', () => {
  const mla: AttentionShape = { batch: 1, nQ: 16, nKv: 16, dQk: 192, dV: 128, qLen: 512, kvLens: [512], causal: true };
  assert.equal((prefillPlan(mla, 'registers') as { rpi: number }).rpi, 1);
  assert.equal((prefillPlan(mla, 'stack') as { rpi: number }).rpi, 1);
  const small: AttentionShape = { ...llama(512), dQk: 64, dV: 64 };
  assert.equal((prefillPlan(small, 'registers') as { rpi: number }).rpi, 2);
  assert.equal((prefillPlan(small, 'stack') as { rpi: number }).rpi, 4);
});
