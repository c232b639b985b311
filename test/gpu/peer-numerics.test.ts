import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { attentionFamily } from '../../src/kernels/attention.js';
import { gemmFamily } from '../../src/kernels/gemm.js';
import type { KernelCase } from '../../src/kernels/spec.js';
import { mlaFamily } from '../../src/kernels/mla.js';
import { gemmView } from '../../src/peer/gemm-view.js';
import { phaseGemms } from '../../src/peer/stage-gemm-view.js';
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

test(
  'a peer whose output is off by a few tolerances is reported as failing numerics, its kernel times kept apart',
  { timeout: 300_000 },
  async () => {
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
    assert.ok(entry.failingKernels && entry.failingKernels.operator.stats.median > 0, 'its kernels timed apart');
    assert.ok(entry.failingKernels.programs.some((p) => p.role === 'operator'));

    // A later visit does not check or time it as a result again, only its kernels: pooled, one median per visit.
    const later = await visitPeers([peer], failing, kernelCase, RULE, 2, context.adapter);
    const again = later.status === 'ok' ? later.peers?.[0] : undefined;
    assert.ok(again?.status === 'numerics-failed', JSON.stringify(again));
    assert.deepEqual(again.numerics, entry.numerics);
    assert.equal(again.failingKernels?.visitMediansMs.length, 2);
    // The report shows it failing, with no time or ratio in its row.
    const table = renderTable(peerTables([later])[0]!);
    assert.match(table, /FAILS NUMERICS/);
    assert.match(table.replace(/\s+/g, ' '), /its kernels \(wrong output\)/);
    assert.doesNotMatch(table, /\d\.\d\dx/);
  },
);

test(
  'GEMM cases run as one MatMul on the same operands, checked against the case reference, in every layout',
  { timeout: 300_000 },
  async () => {
    const context = await testGpu();
    const peer = await OnnxRuntimePeer.open();
    const cases: Record<string, string | number>[] = [
      // Plain batch-major operands, one B per batch entry.
      { op: 'custom', model: 'none', rows: 5, n: 12, k: 20, batch: 2, dtype: 'f32' },
      // A shared by every head (the latent cache) and read at a row stride past k.
      { op: 'up-project', model: 'deepseek-v2-lite', rows: 3, dtype: 'f32' },
      // Row-major [token][head] A and C, C's rows wider than n (the rope part is another tensor's gap).
      { op: 'absorb-q', model: 'deepseek-v2-lite', rows: 2, dtype: 'f32' },
      { op: 'custom', model: 'none', rows: 4, n: 16, k: 8, batch: 1, dtype: 'f16' },
    ];
    for (const params of cases) {
      const kernelCase = await buildCase(gemmFamily, { ...params, tiling: 'rows', kernel: 'auto' });
      const view = gemmView(kernelCase);
      assert.ok(view.kind === 'view', JSON.stringify(view));
      const measurement = { ...okFixture('gemm/peer', [1, 1.1, 0.9]), suite: 'gemm', family: 'gemm', params };
      const visited = await visitPeers([peer], measurement, kernelCase, RULE, 1, context.adapter);
      const entry = visited.status === 'ok' ? visited.peers?.[0] : undefined;
      assert.ok(entry?.status === 'ok', `${params.op}: ${JSON.stringify(entry)}`);
      assert.equal(entry.operator, 'MatMul');
      assert.ok(entry.numerics.passed && entry.numerics.checks[0]?.checked === kernelCase.checks[0]?.expected().length, 'every element');
      assert.ok(entry.kernels.operator.stats.median > 0 && entry.kernels.programs.some((p) => p.role === 'operator'));
      // The same output moved by a few tolerances must fail: the check reads the peer's output, not the case's.
      const failing = await visitPeers([peer], measurement, shifted(kernelCase, 3), RULE, 1, context.adapter);
      const bad = failing.status === 'ok' ? failing.peers?.[0] : undefined;
      assert.equal(bad?.status, 'numerics-failed', `${params.op}: ${JSON.stringify(bad)}`);
    }
  },
);

test(
  'MLA cases: the case says why it has no counterpart; each GEMM stage runs as MatMul nodes, checked and timed',
  { timeout: 300_000 },
  async () => {
    const context = await testGpu();
    const peer = await OnnxRuntimePeer.open();
    const dims = { preset: 'custom', heads: 3, d_nope: 16, d_rope: 8, d_v: 12, d_latent: 32, d_model: 24, d_q_latent: 20 };
    for (const form of ['absorbed', 'naive-latent']) {
      const params = { ...dims, form, batch: 2, context: 40, dtype: 'f32', tiling: 'rows', layer: 'full', o_proj: 1 };
      const kernelCase = await buildCase(mlaFamily, params);
      const phases = phaseGemms(kernelCase);
      const measurement = { ...okFixture('mla-decode/peer', [1, 1.1, 0.9]), suite: 'mla-decode', family: 'mla', params };
      const visited = await visitPeers([peer], measurement, kernelCase, RULE, 1, context.adapter);
      const entries = visited.status === 'ok' ? (visited.peers ?? []) : [];
      assert.equal(entries[0]?.status, 'unsupported', `${form}: the whole case first`);
      assert.deepEqual(
        entries.slice(1).map((e) => e.stage),
        phases.map((p) => p.phase),
        `${form}: an entry per stage holding GEMMs`,
      );
      for (const [i, entry] of entries.slice(1).entries()) {
        const gemms = phases[i]!.stages;
        assert.ok(entry.status === 'ok', `${form} ${entry.stage}: ${JSON.stringify(entry)}`);
        assert.equal(entry.operator, 'MatMul');
        assert.deepEqual(
          entry.numerics.checks.map((c) => [c.buffer, c.checked]),
          gemms.map((g) => [g.name, g.problem.batch * g.problem.m * g.problem.n]),
          `${form} ${entry.stage}: each GEMM checked in full`,
        );
        assert.ok(entry.kernels.operator.stats.median > 0);
      }
      // Both forms run the layer path's projections and o-proj; absorbed adds absorb-q/-o, naive the up-project.
      const names = phases.map((p) => p.phase);
      assert.ok(
        ['q-proj', 'kv-append', 'o-proj'].every((p) => names.includes(p)),
        names.join(),
      );
      assert.ok(
        form === 'absorbed' ? names.includes('absorb-q') && names.includes('absorb-o') : names.includes('up-project'),
        names.join(),
      );
      // A later visit pools every stage's samples under its own entry.
      const later = await visitPeers([peer], visited, kernelCase, RULE, 2, context.adapter);
      const pooled = later.status === 'ok' ? (later.peers ?? []) : [];
      assert.deepEqual(
        pooled.map((e) => (e.status === 'ok' ? e.visits : e.status)),
        ['unsupported', ...phases.map(() => 2)],
      );
    }
  },
);
