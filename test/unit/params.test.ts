import assert from 'node:assert/strict';
import { test } from 'node:test';
import { paramsProblem } from '../../src/kernels/params.js';
import { loadBuiltInSuites, planSuite } from '../../src/suites/registry.js';
import { PROFILES } from '../../src/suites/schema.js';

test('every case of every built-in suite, in every profile, has values its family honours', () => {
  for (const suite of loadBuiltInSuites()) {
    for (const profile of PROFILES) assert.ok(planSuite(suite, { profile }).length > 0, `${suite.name} ${profile}`);
  }
});

test('values a family would have to change are named with the reason', () => {
  const decode = { phase: 'decode', variant: 'mha', batch: 1, context: 1024, dtype: 'f32' };
  assert.equal(paramsProblem('attention', decode), undefined);
  assert.equal(paramsProblem('attention', { ...decode, context: -1 }), 'context=-1: must be an integer >= 1');
  assert.equal(paramsProblem('attention', { ...decode, context: 1.5 }), 'context=1.5: must be an integer >= 1');
  assert.equal(paramsProblem('attention', { ...decode, context: 'abc' }), 'context=abc: must be an integer >= 1');
  assert.equal(paramsProblem('attention', { ...decode, ragged: 1 }), 'ragged=1: must be in [0, 1)');
  assert.equal(paramsProblem('attention', { ...decode, variant: 'custom' }), 'heads: is needed by variant custom');
  const { context: _context, ...noContext } = decode;
  assert.equal(paramsProblem('attention', noContext), 'context: is needed by phase decode');
  assert.match(paramsProblem('attention', { ...decode, tiling: 'fast' }) ?? '', /^tiling=fast: must be one of workgroup, rows$/);
  assert.match(
    paramsProblem('mla', { preset: 'deepseek-v2', form: 'absorbed', batch: 1, context: 8, dtype: 'f16', o_proj: 2 }) ?? '',
    /^o_proj=2: must be 0 or 1$/,
  );
  const mla = { preset: 'deepseek-v2', form: 'absorbed', batch: 4, context: 8, dtype: 'f16' };
  assert.equal(paramsProblem('mla', { ...mla, ragged: 0.5 }), undefined);
  assert.equal(paramsProblem('mla', { ...mla, ragged: -0.1 }), 'ragged=-0.1: must be in [0, 1)');
  // FlashInfer's h 64 is a preset of its own; a named preset's dims are never overridden under another key.
  assert.equal(paramsProblem('mla', { ...mla, preset: 'deepseek-v3-tp2', page_size: 1 }), undefined);
  assert.equal(
    paramsProblem('mla', { ...mla, preset: 'deepseek-v3', heads: 64 }),
    'heads=64: is for preset custom only (preset deepseek-v3 has its own dims)',
  );
  assert.equal(
    paramsProblem('mla', { ...mla, preset: 'deepseek-v3-h64' }),
    'preset=deepseek-v3-h64: must be one of deepseek-v2, deepseek-v2-lite, deepseek-v3, deepseek-v3-tp2, custom',
  );
  assert.equal(paramsProblem('moe', { preset: 'v2-lite', tokens: 8, dispatch: 'gpu', dtype: 'f32', experts: 'preset' }), undefined);
  assert.match(
    paramsProblem('moe', { preset: 'v2-lite', tokens: 8, dispatch: 'gpu', dtype: 'f32', top_k: 0 }) ?? '',
    /^top_k=0: must be an integer >= 1 or "preset"$/,
  );
  assert.match(paramsProblem('calibration', { kernel: 'copy', mib: -2 }) ?? '', /^mib=-2: must be a positive number$/);
  const gemm = { op: 'absorb-q', model: 'deepseek-v2', rows: 1, dtype: 'f32' };
  assert.equal(paramsProblem('gemm', gemm), undefined);
  assert.match(paramsProblem('gemm', { ...gemm, model: 'none' }) ?? '', /^model=none: op absorb-q needs a model/);
  assert.match(paramsProblem('gemm', { ...gemm, batch: 8 }) ?? '', /^batch=8: op absorb-q has its own batch/);
  assert.match(paramsProblem('gemm', { ...gemm, op: 'custom', model: 'none', n: 3 }) ?? '', /^k: is needed by op custom$/);
  assert.match(paramsProblem('gemm', { ...gemm, n: 3 }) ?? '', /^n=3: is for op custom only/);
  assert.match(
    paramsProblem('gemm', { ...gemm, kernel: 'fast' }) ?? '',
    /^kernel=fast: must be one of auto, tiled, subgroup, gemv, mla-gemm$/,
  );
  assert.match(
    paramsProblem('calibration', { kernel: 'copy', mib: 1, heads: 2 }) ?? '',
    /^heads: not an axis of the calibration family \(its axes: kernel, mib, iterations\)$/,
  );
});
