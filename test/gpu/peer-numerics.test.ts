import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { attentionFamily } from '../../src/kernels/attention.js';
import type { KernelCase } from '../../src/kernels/spec.js';
import { OnnxRuntimePeer } from '../../src/peer/onnxruntime/peer.js';
import { visitPeers } from '../../src/peer/visit.js';
import { peerTables } from '../../src/report/peers.js';
import { renderTable } from '../../src/report/table.js';
import { okFixture } from '../helpers/fixtures.js';
import { buildCase, closeTestGpu, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

const RULE = { minSamples: 3, maxSamples: 6, maxRelNoise: 0.5, minTimeMs: 0, timeoutMs: 5000 };
const PARAMS = {
  phase: 'decode',
  variant: 'custom',
  heads: 4,
  kv_heads: 1,
  head_dim: 32,
  batch: 1,
  context: 40,
  q_len: 1,
  dtype: 'f32',
  tiling: 'rows',
};

/** The case with its reference moved by `shift` times its absolute tolerance: a peer output that far off must fail. */
function shifted(kernelCase: KernelCase, shift: number): KernelCase {
  return {
    ...kernelCase,
    checks: kernelCase.checks.map((check) => ({ ...check, expected: () => check.expected().map((x) => x + shift * check.tolerance.atol) })),
  };
}

test('a peer whose output is off by a few tolerances is reported as failing numerics, with no timing', { timeout: 300_000 }, async () => {
  const context = await testGpu();
  const peer = await OnnxRuntimePeer.open();
  const kernelCase = await buildCase(attentionFamily, PARAMS);
  const measurement = {
    ...okFixture('attention-decode/peer', [1, 1.1, 0.9]),
    suite: 'attention-decode',
    family: 'attention',
    params: PARAMS,
  };

  const passing = await visitPeers([peer], measurement, kernelCase, RULE, 1, context.adapter);
  const ok = passing.status === 'ok' ? passing.peers?.[0] : undefined;
  assert.equal(ok?.status, 'ok', JSON.stringify(ok));

  const failing = await visitPeers([peer], measurement, shifted(kernelCase, 3), RULE, 1, context.adapter);
  const entry = failing.status === 'ok' ? failing.peers?.[0] : undefined;
  assert.ok(entry?.status === 'numerics-failed', JSON.stringify(entry));
  assert.equal(entry.numerics.passed, false);
  assert.ok(!('kernels' in entry) && !('wall' in entry), 'never timed as if correct');
  const check = entry.numerics.checks[0];
  assert.ok(check && Number(check.maxAbsError) > check.tolerance.atol, 'the error is recorded');

  // A later visit does not run it again; the report shows it failing, with no time or ratio.
  const later = await visitPeers([peer], failing, kernelCase, RULE, 2, context.adapter);
  assert.deepEqual(later.status === 'ok' && later.peers, [entry]);
  const table = renderTable(peerTables([failing])[0]!);
  assert.match(table, /FAILS NUMERICS/);
  assert.doesNotMatch(table, /\d\.\d\dx/);
});
