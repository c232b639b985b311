import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pipelineKey, sizesPrelude, withPrelude } from '../../src/gpu/pipelines.js';

test('withPrelude: enables first, then the dtype alias, then the sizes as u32 consts in name order', () => {
  const source = 'enable subgroups;\nvar<private> q: array<vec4<f32>, MAXQ>;\n';
  const out = withPrelude('f16', source, { MAXV: 66, MAXQ: 130 });
  assert.equal(out, 'enable subgroups;\nenable f16;\nalias T = f16;\nconst MAXQ: u32 = 130u;\nconst MAXV: u32 = 66u;\n\nvar<private> q: array<vec4<f32>, MAXQ>;\n');
  assert.equal(withPrelude('f32', 'fn f() {}\n'), 'alias T = f32;\nfn f() {}\n');
});

test('sizesPrelude rejects names and values that are not WGSL-safe positive integers', () => {
  assert.equal(sizesPrelude({}), '');
  assert.throws(() => sizesPrelude({ 'MAXQ; fn x()': 4 }), /bad shader size/);
  assert.throws(() => sizesPrelude({ MAXQ: 0 }), /bad shader size/);
  assert.throws(() => sizesPrelude({ MAXQ: 2.5 }), /bad shader size/);
});

test('pipelineKey: sizes and constants are compile-time facts, independent of insertion order', () => {
  const base = { shader: 'a.wgsl', dtype: 'f32' as const, constants: { WG: 8, RPI: 2 } };
  assert.equal(pipelineKey({ ...base, sizes: { MAXQ: 66, MAXV: 66 } }), pipelineKey({ ...base, constants: { RPI: 2, WG: 8 }, sizes: { MAXV: 66, MAXQ: 66 } }));
  assert.notEqual(pipelineKey({ ...base, sizes: { MAXQ: 66 } }), pipelineKey({ ...base, sizes: { MAXQ: 290 } }));
  assert.notEqual(pipelineKey(base), pipelineKey({ ...base, sizes: { MAXQ: 66 } }));
});
