import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { KERNELS_DIR, shaderSource } from '../../src/gpu/pipelines.js';
import { kernelFamily } from '../../src/kernels/registry.js';
import { SHADER_LIST, type Shader } from '../../src/kernels/shaders.js';
import type { KernelCase, StageDecl } from '../../src/kernels/spec.js';
import { packStruct, struct, structWords, type StructLayout } from '../../src/kernels/uniforms.js';
import { CALIBRATION_KERNELS } from '../../src/kernels/calibration.js';
import type { AxisValue } from '../../src/suites/schema.js';
import { CONTEXTS } from '../helpers/contexts.js';

type WgslField = [name: string, type: string];

/** Every struct of a WGSL source (comments gone), by name: its fields in order. */
function wgslStructs(source: string): Map<string, WgslField[]> {
  const text = source.replace(/\/\/[^\n]*/g, '');
  const structs = new Map<string, WgslField[]>();
  for (const [, name, body] of text.matchAll(/struct\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields = body!
      .split(',')
      .map((field) => field.trim())
      .filter(Boolean)
      .map((field): WgslField => {
        const match = /^(\w+)\s*:\s*([\w<>]+)$/.exec(field);
        assert.ok(match, `struct ${name}: field "${field}" is not "name: type"`);
        return [match[1]!, match[2]!];
      });
    structs.set(name!, fields);
  }
  return structs;
}

/** The struct type of the shader's one `var<uniform>`, or undefined where it has none. */
function uniformType(source: string): string | undefined {
  const found = [...source.replace(/\/\/[^\n]*/g, '').matchAll(/var<uniform>\s+\w+\s*:\s*(\w+)\s*;/g)].map((m) => m[1]!);
  assert.ok(found.length <= 1, `more than one uniform: ${found.join(', ')}`);
  return found[0];
}

/** Differences between a TS layout and the WGSL struct of that name, field by field, nested structs included. */
function mismatches(layout: StructLayout, wgslName: string, structs: Map<string, WgslField[]>, path = wgslName): string[] {
  const wgsl = structs.get(wgslName);
  if (!wgsl) return [`${path}: no struct ${wgslName} in the WGSL`];
  if (layout.name !== wgslName) return [`${path}: the TS layout is named ${layout.name}, the WGSL struct ${wgslName}`];
  const ts = Object.entries(layout.fields);
  const problems: string[] = [];
  if (ts.length !== wgsl.length) problems.push(`${path}: ${ts.length} fields in TS, ${wgsl.length} in WGSL`);
  ts.forEach(([name, type], i) => {
    const [wgslField, wgslType] = wgsl[i] ?? ['(none)', '(none)'];
    if (name !== wgslField) problems.push(`${path}: field ${i} is ${name} in TS, ${wgslField} in WGSL`);
    else if (typeof type === 'string' ? type !== wgslType : type.name !== wgslType) {
      problems.push(`${path}.${name}: ${typeof type === 'string' ? type : type.name} in TS, ${wgslType} in WGSL`);
    } else if (typeof type !== 'string') problems.push(...mismatches(type, wgslType, structs, `${path}.${name}`));
  });
  return problems;
}

/** WGSL's uniform layout rule for struct members: 16-byte aligned and followed at a 16-byte multiple. */
function uniformAlignmentProblems(layout: StructLayout, path = layout.name): string[] {
  const problems: string[] = [];
  let at = 0;
  for (const [name, type] of Object.entries(layout.fields)) {
    if (typeof type !== 'string') {
      if (at % 4 !== 0) problems.push(`${path}.${name} starts at byte ${at * 4}, not a multiple of 16`);
      if (structWords(type) % 4 !== 0)
        problems.push(`${path}.${name}: struct ${type.name} of ${structWords(type) * 4} bytes, not a multiple of 16`);
      problems.push(...uniformAlignmentProblems(type, `${path}.${name}`));
    }
    at += typeof type === 'string' ? 1 : structWords(type);
  }
  return problems;
}

const shaderFiles = readdirSync(KERNELS_DIR).filter((name) => name.endsWith('.wgsl'));
const byFile = new Map<string, Shader>(SHADER_LIST.map((shader) => [shader.file, shader]));

test('every shader with a uniform has its layout declared in shaders.ts, and every declared shader exists', () => {
  for (const file of shaderFiles) {
    const type = uniformType(shaderSource(file));
    assert.equal(
      byFile.has(file),
      type !== undefined,
      `${file}: ${type === undefined ? 'no uniform, yet declared' : `uniform ${type}, not declared`}`,
    );
  }
  for (const { file } of SHADER_LIST) assert.ok(shaderFiles.includes(file), `${file} is declared but not in kernels/`);
});

for (const shader of SHADER_LIST) {
  test(`${shader.file}: the TypeScript layout is the WGSL struct of its uniform, field by field`, () => {
    const source = shaderSource(shader.file);
    const type = uniformType(source);
    assert.ok(type, `${shader.file} binds no uniform`);
    assert.deepEqual(mismatches(shader.params, type, wgslStructs(source)), []);
    assert.deepEqual(uniformAlignmentProblems(shader.params), []);
  });
}

test('the comparison catches a layout that differs from its WGSL struct', () => {
  const structs = wgslStructs('struct A { x: u32, y: f32, } struct P { n: u32, a: A, }');
  assert.deepEqual(mismatches(struct('P', { n: 'u32', a: struct('A', { x: 'u32', y: 'f32' }) }), 'P', structs), []);
  assert.deepEqual(mismatches(struct('P', { n: 'u32', a: struct('A', { x: 'u32', y: 'u32' }) }), 'P', structs), [
    'P.a.y: u32 in TS, f32 in WGSL',
  ]);
  assert.deepEqual(mismatches(struct('P', { n: 'u32' }), 'P', structs), ['P: 1 fields in TS, 2 in WGSL']);
  assert.deepEqual(uniformAlignmentProblems(struct('P', { n: 'u32', a: struct('A', { x: 'u32', y: 'f32' }) })), [
    'P.a starts at byte 4, not a multiple of 16',
    'P.a: struct A of 8 bytes, not a multiple of 16',
  ]);
});

test('packStruct writes fields in order, f32 as bits, padding as 0, whole 16-byte rows; it refuses a bad u32', () => {
  const layout = struct('P', { a: 'u32', _pad: 'u32', s: 'f32', nested: struct('N', { b: 'i32' }) });
  const words = packStruct(layout, { a: 7, s: 1.5, nested: { b: -2 } });
  assert.equal(words.length, 4);
  assert.equal(words[0], 7);
  assert.equal(words[1], 0);
  assert.equal(new Float32Array(words.buffer)[2], 1.5);
  assert.equal(new Int32Array(words.buffer)[3], -2);
  assert.throws(() => packStruct(struct('Q', { a: 'u32' }), { a: 2.5 }), /Q\.a: 2\.5 is not a u32/);
  assert.throws(() => packStruct(struct('Q', { a: 'u32' }), { a: -1 }), /Q\.a: -1 is not a u32/);
});

/** The uniform a stage binds at binding 0, if it binds one. */
function boundUniform(kernelCase: KernelCase, stage: StageDecl): { name: string; length: number } | undefined {
  const buffer = kernelCase.buffers.find((b) => b.name === stage.bindings[0]);
  return buffer?.usage === 'uniform' ? buffer : undefined;
}

/** Small cases that between them dispatch every shader: each family's kernels, tilings and forms. */
const SMALL_CASES: [family: string, params: Record<string, AxisValue>][] = [
  ...CALIBRATION_KERNELS.map((kernel): [string, Record<string, AxisValue>] => ['calibration', { kernel, mib: 1 }]),
  ...['workgroup', 'rows'].flatMap((tiling) =>
    (
      [
        { phase: 'decode', heads: 4, kv_heads: 1, context: 40 },
        { phase: 'decode', heads: 16, kv_heads: 1, context: 40 },
        { phase: 'prefill', heads: 4, kv_heads: 2, seq: 12 },
      ] as Record<string, AxisValue>[]
    ).map((shape): [string, Record<string, AxisValue>] => [
      'attention',
      { ...shape, variant: 'custom', head_dim: 32, batch: 2, dtype: 'f32', tiling },
    ]),
  ),
  ...['naive-latent', 'naive-expanded', 'absorbed'].flatMap((form) =>
    ['workgroup', 'rows'].map((tiling): [string, Record<string, AxisValue>] => [
      'mla',
      {
        preset: 'custom',
        heads: 8,
        d_nope: 16,
        d_rope: 8,
        d_v: 16,
        d_latent: 32,
        d_q_latent: 16,
        d_model: 32,
        form,
        batch: 1,
        context: 12,
        q_len: 2,
        dtype: 'f32',
        tiling,
        layer: 'full',
      },
    ]),
  ),
  // naive-latent over a paged cache: the gather of its pages into a contiguous workspace.
  [
    'mla',
    {
      ...{ preset: 'custom', heads: 8, d_nope: 16, d_rope: 8, d_v: 16, d_latent: 32, d_model: 32, form: 'naive-latent' },
      ...{ batch: 2, context: 12, dtype: 'f32', page_size: 4 },
    },
  ],
  // The GEMM family's kernels, each picked by name (mla-gemm: the old MLA kernel, kept for the A/B).
  ...['tiled', 'subgroup', 'gemv', 'mla-gemm'].map((kernel): [string, Record<string, AxisValue>] => [
    'gemm',
    { op: 'custom', model: 'none', rows: 5, n: 24, k: 12, dtype: 'f32', tiling: 'workgroup', kernel },
  ]),
  ...['gpu', 'host-loop'].map((dispatch): [string, Record<string, AxisValue>] => [
    'moe',
    { preset: 'v3', tokens: 8, experts: 8, hidden: 32, inter: 16, top_k: 2, n_group: 1, topk_group: 1, dispatch, dtype: 'f32' },
  ]),
];

test("every stage binds at binding 0 a uniform of exactly its shader's struct (16-byte rows), and every shader is dispatched", () => {
  const dispatched = new Set<string>();
  for (const [familyName, params] of SMALL_CASES) {
    for (const context of [CONTEXTS.lavapipe, CONTEXTS['lavapipe-no-subgroups']]) {
      const built = kernelFamily(familyName)!.build(params, { ...context, seed: 1 });
      // (MLA's absorbed rows attend needs subgroups: skipped without.)
      if (built.kind !== 'case') continue;
      const kernelCase = built.kernelCase;
      for (const stage of [...kernelCase.stages, ...(kernelCase.hostTail?.templates ?? [])]) {
        const shader = byFile.get(stage.shader);
        const uniform = boundUniform(kernelCase, stage);
        const where = `${familyName} ${JSON.stringify(params)}: stage ${stage.name} (${stage.shader})`;
        assert.equal(uniform !== undefined, shader !== undefined, where);
        if (!shader || !uniform) continue;
        assert.equal(uniform.length, Math.max(4, Math.ceil(structWords(shader.params) / 4) * 4), `${where}: ${uniform.name}`);
        dispatched.add(stage.shader);
      }
    }
  }
  assert.deepEqual(
    SHADER_LIST.map((shader) => shader.file).filter((file) => !dispatched.has(file)),
    [],
  );
});
