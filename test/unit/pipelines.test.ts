import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync } from 'node:fs';
import { KERNELS_DIR, pipelineKey, shaderSource, sizesPrelude, spliceIncludes, withPrelude } from '../../src/gpu/pipelines.js';

test('withPrelude: enables first, then the dtype alias, then the sizes as u32 consts in name order', () => {
  const source = 'enable subgroups;\nvar<private> q: array<vec4<f32>, MAXQ>;\n';
  const out = withPrelude('f16', source, { MAXV: 66, MAXQ: 130 });
  assert.equal(
    out,
    'enable subgroups;\nenable f16;\nalias T = f16;\nconst MAXQ: u32 = 130u;\nconst MAXV: u32 = 66u;\n\nvar<private> q: array<vec4<f32>, MAXQ>;\n',
  );
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
  assert.equal(
    pipelineKey({ ...base, sizes: { MAXQ: 66, MAXV: 66 } }),
    pipelineKey({ ...base, constants: { RPI: 2, WG: 8 }, sizes: { MAXV: 66, MAXQ: 66 } }),
  );
  assert.notEqual(pipelineKey({ ...base, sizes: { MAXQ: 66 } }), pipelineKey({ ...base, sizes: { MAXQ: 290 } }));
  assert.notEqual(pipelineKey(base), pipelineKey({ ...base, sizes: { MAXQ: 66 } }));
});

test('spliceIncludes: include lines become the named files, nested ones in turn; a cycle is an error', () => {
  const files: Record<string, string> = {
    'a.wgsl': 'const A: u32 = 1u;\n// #include "b.wgsl"\n',
    'b.wgsl': 'const B: u32 = 2u;\n',
    'loop.wgsl': '// #include "loop.wgsl"\n',
  };
  const read = (name: string): string => files[name] ?? assert.fail(`read ${name}`);
  assert.equal(spliceIncludes('// #include "a.wgsl"\nfn f() {}\n', read), 'const A: u32 = 1u;\nconst B: u32 = 2u;\nfn f() {}\n');
  // Only a line of its own: a mention in a comment stays.
  assert.equal(spliceIncludes('// see #include "a.wgsl"\n', read), '// see #include "a.wgsl"\n');
  assert.throws(() => spliceIncludes('// #include "loop.wgsl"\n', read), /include cycle: loop.wgsl -> loop.wgsl/);
});

test('shaderSource: every include of the shipped shaders resolves, and no include line is left', () => {
  for (const file of readdirSync(KERNELS_DIR).filter((name) => name.endsWith('.wgsl'))) {
    assert.doesNotMatch(shaderSource(file), /#include/, file);
  }
});
