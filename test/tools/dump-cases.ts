// Dumps every case of every built-in suite, in every profile and both tilings, as canonical JSON: the proof that a
// refactoring of src/kernels leaves the cases unchanged (diff two dumps with test/tools/diff-cases.ts).
// Usage: node --import tsx test/tools/dump-cases.ts OUT.json
// No GPU: the build contexts are fixed fakes (lavapipe's limits and features, the same without subgroups, a GPU).
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { shaderSource, withPrelude } from '../../src/gpu/pipelines.js';
import { kernelFamily } from '../../src/kernels/registry.js';
import { caseWork, type BufferDecl, type KernelCase, type OutputCheck, type StageDecl } from '../../src/kernels/spec.js';
import { expandSuite, type PlannedCase } from '../../src/suites/expand.js';
import { loadBuiltInSuites } from '../../src/suites/registry.js';
import { PROFILES, type AxisValue, type Profile } from '../../src/suites/schema.js';
import { CONTEXTS } from '../helpers/contexts.js';

/** Cases whose reference costs fewer FLOPs than this get a hash of their expected outputs. */
const SMALL_FLOPS = 2e8;
/** Elements hashed in full; a longer array: its first HASHED elements, its last 4096 and its length. */
const HASHED = 2 ** 25;

function hash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

function dataHash(
  data: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number; length: number; BYTES_PER_ELEMENT: number },
): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data.length <= HASHED) return hash(bytes);
  const unit = data.BYTES_PER_ELEMENT;
  const head = bytes.subarray(0, HASHED * unit);
  const tail = bytes.subarray(bytes.length - 4096 * unit);
  return `${hash(head)}..${hash(tail)}/${data.length}`;
}

function sorted<T>(record: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!record) return undefined;
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

function buffer(decl: BufferDecl): unknown {
  const { data, ...rest } = decl;
  // Uniforms are small and their words are the point: dump them.
  const contents =
    data === undefined
      ? {}
      : decl.usage === 'uniform'
        ? { words: Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length)) }
        : { data: dataHash(data) };
  return { ...rest, ...contents };
}

/** A WGSL module as its top-level declarations, comments and layout gone, sorted (module scope has no order). */
function declarations(source: string): string[] {
  const text = source.replace(/\/\/[^\n]*/g, '').replace(/\s+/g, ' ');
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      items.push(text.slice(start, i + 1).trim());
      start = i + 1;
    } else if (c === ';' && depth === 0) {
      items.push(text.slice(start, i + 1).trim());
      start = i + 1;
    }
  }
  if (text.slice(start).trim()) items.push(text.slice(start).trim());
  return items.filter((item) => item !== ';').sort();
}

const shaders = new Map<string, { text: string; declarations: string[] }>();

function shaderRef(stage: StageDecl): string {
  const sizes = Object.entries(sorted(stage.sizes) ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const key = `${stage.shader}|${stage.dtype}|${sizes}`;
  if (!shaders.has(key)) {
    const source = withPrelude(stage.dtype, shaderSource(stage.shader), stage.sizes);
    shaders.set(key, { text: hash(Buffer.from(source)), declarations: declarations(source) });
  }
  return key;
}

function stage(decl: StageDecl): unknown {
  return { ...decl, constants: sorted(decl.constants), sizes: sorted(decl.sizes), source: shaderRef(decl) };
}

function check(decl: OutputCheck, small: boolean): unknown {
  const lazy = typeof Object.getOwnPropertyDescriptor(decl, 'tolerance')?.get === 'function';
  const expected = small ? decl.expected() : undefined;
  return {
    buffer: decl.buffer,
    shape: decl.shape,
    tolerance: lazy && !small ? 'lazy' : decl.tolerance,
    ...(decl.sampledRows && { sampledRows: decl.sampledRows }),
    ...(expected && { expected: dataHash(expected) }),
  };
}

function kernelCase(built: KernelCase): unknown {
  const small = caseWork(built).flops < SMALL_FLOPS;
  const { buffers, stages, checks, hostTail, facts, ...rest } = built;
  let tail: unknown;
  if (hostTail) {
    // The plan for the readback's expected contents where a check declares them, else for a fixed pattern.
    const declared = checks.find((c) => c.buffer === hostTail.readback);
    const words = declared ? Uint32Array.from(declared.expected()) : Uint32Array.from({ length: hostTail.words }, (_, i) => (i * 7) % 5);
    tail = { readback: hostTail.readback, words: hostTail.words, templates: hostTail.templates.map(stage), plan: hostTail.plan(words) };
  }
  return {
    ...rest,
    buffers: buffers.map(buffer),
    stages: stages.map(stage),
    checks: checks.map((c) => check(c, small)),
    facts: sorted(facts),
    ...(tail !== undefined && { hostTail: tail }),
  };
}

/** 1 in `every` keys, by a hash of the key (the same keys in every dump). */
function sampled(key: string, every: number): boolean {
  return every <= 1 || createHash('sha256').update(key).digest().readUInt32LE(0) % every === 0;
}

/**
 * Every (suite, key) of the quick and standard profiles and a sample of the full profile's other keys (all of
 * them would be 18k cases, hours of host-side input generation), with both tilings where the suite has that
 * axis. DUMP_FULL_EVERY (default 32) sets the full profile's sample; DUMP_FAST=1 samples standard too (1 in 8).
 */
function plannedCases(): PlannedCase[] {
  const fast = process.env['DUMP_FAST'] === '1';
  const every: Record<Profile, number> = {
    quick: 1,
    standard: fast ? 8 : 1,
    full: Number(process.env['DUMP_FULL_EVERY'] ?? (fast ? 128 : 32)),
  };
  const byKey = new Map<string, PlannedCase>();
  for (const suite of loadBuiltInSuites()) {
    for (const profile of PROFILES) {
      const overrides = 'tiling' in suite.axes ? [{ axis: 'tiling', values: ['workgroup', 'rows'] as AxisValue[] }] : [];
      for (const planned of expandSuite(suite, { profile, overrides })) {
        if (!byKey.has(planned.key) && sampled(planned.key, every[profile])) byKey.set(planned.key, planned);
      }
    }
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** Objects with their keys sorted (undefined dropped by JSON): insertion order is no part of a case. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, canonical(v)]),
  );
}

const out = process.argv[2];
if (!out) throw new Error('usage: dump-cases.ts OUT.json');
const planned = plannedCases();
const suites = new Map(loadBuiltInSuites().map((suite) => [suite.name, suite]));
const cases: Record<string, unknown> = {};
const started = Date.now();
for (const [contextName, context] of Object.entries(CONTEXTS)) {
  for (const { suite, params, key, skip } of planned) {
    // Features only pick among the rows tiling's kernels: without subgroups, only those cases differ.
    if (contextName === 'lavapipe-no-subgroups' && params['tiling'] !== 'rows') continue;
    const family = kernelFamily(suites.get(suite)!.family)!;
    let entry: unknown;
    if (skip !== undefined) entry = { suiteSkip: skip };
    else {
      const built = family.build(params, { ...context, seed: 1 });
      entry = built.kind === 'skip' ? { skip: built.reason } : kernelCase(built.kernelCase);
    }
    cases[`${contextName} ${key}`] = canonical(entry);
    if (process.env['DUMP_VERBOSE']) process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} ${contextName} ${key}\n`);
  }
  process.stderr.write(`${contextName}: ${Object.keys(cases).length} cases in all, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}
writeFileSync(out, JSON.stringify({ shaders: Object.fromEntries([...shaders].sort(([a], [b]) => a.localeCompare(b))), cases }, null, 1));
