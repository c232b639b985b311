import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GemmProblem } from '../../src/kernels/gemm/problem.js';
import type { BufferDecl, KernelCase, StageDecl } from '../../src/kernels/spec.js';
import { checkPeerOutput } from '../../src/peer/check.js';
import { phaseGemms, stageGemmView } from '../../src/peer/stage-gemm-view.js';
import { batchedMatmul } from '../../src/reference/gemm.js';

// C[z] = A B[z]: A shared by the batch (batchStride 0), its rows 8 apart (k = 6 padded), B per batch entry.
const problem: GemmProblem = {
  ...{ m: 3, n: 5, k: 6, batch: 2, dtype: 'f32' },
  a: { buffer: 'a', rows: { batchStride: 0, rowStride: 8 } },
  b: { buffer: 'w', rows: { batchStride: 48, rowStride: 8 } },
  c: { buffer: 'c', rows: { batchStride: 5, rowStride: 10 } },
};
const storage = (name: string, data: Float32Array): BufferDecl => ({
  name,
  role: 'weights',
  usage: 'storage',
  type: 'f32',
  length: data.length,
  data,
});
const aData = Float32Array.from({ length: 24 }, (_, i) => (i % 8 < 6 ? (i % 7) / 7 : NaN));
aData[8] = NaN; // a row element a stage before this one writes: NaN on the host
const wData = Float32Array.from({ length: 96 }, (_, i) => (i % 8 < 5 ? Math.sin(i) : NaN));

test('stageGemmView: operands gathered from host data (NaN slots seeded), a float64 check that passes the product and fails it moved', () => {
  const view = stageGemmView('up-k', problem, [storage('a', aData), storage('w', wData)], 7);
  assert.deepEqual([view.aCopies, view.bCopies], [1, 2]);
  assert.equal(view.a[0], aData[0]);
  assert.equal(view.a[6 + 1], aData[9], 'row 1 starts at element 8');
  assert.ok(Number.isFinite(view.a[6]!) && view.a[6] !== 0, 'the NaN slot holds a seeded value');
  assert.equal(view.b[5 + 2], wData[8 + 2], 'B row 1 of batch 0');
  assert.equal(view.b[30], wData[48], 'batch 1 starts at element 48');
  const product = batchedMatmul({ batch: 2, m: 3, n: 5, k: 6, sharedA: true }, view.a, view.b);
  assert.equal(view.check.buffer, 'up-k');
  assert.ok(checkPeerOutput(view.check, Float32Array.from(product)).passed);
  const moved = Float32Array.from(product, (x, i) => (i === 7 ? x + 3 * view.check.tolerance.atol + 1e-6 : x));
  const failed = checkPeerOutput(view.check, moved);
  assert.equal(failed.passed, false);
  assert.equal(failed.worstIndex, 7);
});

test('stageGemmView: operands another stage computes (no host data) are seeded, B scaled by 1/sqrt(k)', () => {
  const view = stageGemmView('absorb-o', problem, [], 7);
  assert.ok(view.a.every((x) => Number.isFinite(x) && Math.abs(x) <= 1));
  assert.ok(view.b.every((x) => Math.abs(x) <= 1 / Math.sqrt(6)));
});

test('phaseGemms: phases holding GEMM stages, in dispatch order', () => {
  const stage = (name: string, phase: string, gemm?: GemmProblem): StageDecl => ({
    ...{ name, phase, shader: 'x.wgsl', dtype: 'f32', bindings: [], workgroups: [1] },
    work: { flops: 0, bytesRead: 0, bytesWritten: 0 },
    ...(gemm && { gemm }),
  });
  const kernelCase: KernelCase = {
    buffers: [],
    checks: [],
    stages: [
      stage('q-rope', 'q-rope'),
      stage('up-k', 'up-project', problem),
      stage('up-v', 'up-project', problem),
      stage('k-rope-broadcast', 'up-project'),
      stage('attend', 'attend'),
      stage('o-proj', 'o-proj', problem),
    ],
  };
  assert.deepEqual(
    phaseGemms(kernelCase).map((p) => [p.phase, p.stages.map((s) => s.name)]),
    [
      ['up-project', ['up-k', 'up-v']],
      ['o-proj', ['o-proj']],
    ],
  );
});
