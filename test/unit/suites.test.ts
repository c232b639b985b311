import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/errors.js';
import { describeCase, expandAxis, expandSuite, parseAxisOverride, type PlannedCase } from '../../src/suites/expand.js';
import { loadSuiteFile, parseSuiteFile, type SuiteFile } from '../../src/suites/schema.js';

const CALIBRATION_JSON = {
  name: 'calibration',
  description: 'Device ceilings: bandwidth and FMA throughput',
  family: 'calibration',
  axes: {
    kernel: ['copy', 'read', 'fma'],
    dtype: ['f32', 'f16'],
    context: { pow2: [512, 4096] },
    batch: { range: [1, 9, 4] },
  },
  profiles: {
    quick: { axes: { context: [512] } },
    full: { axes: { context: { pow2: [512, 65536] } } },
  },
  skip: [{ when: { kernel: ['copy', 'read'], dtype: 'f16' }, reason: 'bandwidth does not depend on dtype' }],
};

function suite(json: unknown = CALIBRATION_JSON): SuiteFile {
  return parseSuiteFile(structuredClone(json), 'suites/test.json');
}

/** A minimal valid suite with the given extra fields, for malformed-input tests. */
function suiteJson(extra: Record<string, unknown>): Record<string, unknown> {
  return { name: 'x', description: 'd', family: 'f', axes: { seq: [1, 2], heads: [8, 16], context: [512] }, ...extra };
}

function keys(cases: PlannedCase[]): string[] {
  return cases.map((planned) => planned.key);
}

function assertUserError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof UserError, `expected a UserError, got ${String(error)}`);
    assert.ok(!error.message.includes('\n'), `message is not one line: ${error.message}`);
    for (const mention of mentions) {
      assert.ok(error.message.includes(mention), `message ${JSON.stringify(error.message)} does not mention ${mention}`);
    }
    return true;
  });
}

test('expandAxis expands lists, pow2 and inclusive ranges', () => {
  assert.deepEqual(expandAxis(['copy', 3]), ['copy', 3]);
  assert.deepEqual(expandAxis({ pow2: [512, 4096] }), [512, 1024, 2048, 4096]);
  assert.deepEqual(expandAxis({ pow2: [1, 1] }), [1]);
  assert.deepEqual(expandAxis({ range: [1, 9, 4] }), [1, 5, 9]);
  assert.deepEqual(expandAxis({ range: [1, 10, 4] }), [1, 5, 9]);
  assert.deepEqual(expandAxis({ range: [0, 0.3, 0.1] }), [0, 0.1, 0.2, 0.30000000000000004]);
});

test('expandSuite takes the cartesian product with the first declared axis slowest', () => {
  const cases = expandSuite(suite(), { profile: 'standard' });
  assert.equal(cases.length, 3 * 2 * 4 * 3);
  assert.deepEqual(keys(cases).slice(0, 4), [
    'calibration/kernel=copy,dtype=f32,context=512,batch=1',
    'calibration/kernel=copy,dtype=f32,context=512,batch=5',
    'calibration/kernel=copy,dtype=f32,context=512,batch=9',
    'calibration/kernel=copy,dtype=f32,context=1024,batch=1',
  ]);
  assert.equal(cases.at(-1)?.key, 'calibration/kernel=fma,dtype=f16,context=4096,batch=9');
  assert.deepEqual(cases[0]?.params, { kernel: 'copy', dtype: 'f32', context: 512, batch: 1 });
  assert.deepEqual(Object.keys(cases[0]?.params ?? {}), ['kernel', 'dtype', 'context', 'batch']);
  assert.equal(cases[0]?.suite, 'calibration');
  assert.equal(new Set(keys(cases)).size, cases.length);
});

test('zip groups advance in lockstep at the position of their first declared axis', () => {
  const zipped = suite({
    name: 'zipped',
    description: '',
    family: 'attention',
    axes: { dtype: ['f32', 'f16'], seq: [1, 4, 16], context: [512, 1024], heads: [8, 16, 32] },
    zip: [['heads', 'seq']],
  });
  const cases = expandSuite(zipped, { profile: 'standard' });
  assert.equal(cases.length, 2 * 3 * 2);
  assert.deepEqual(keys(cases).slice(0, 7), [
    'zipped/dtype=f32,seq=1,context=512,heads=8',
    'zipped/dtype=f32,seq=1,context=1024,heads=8',
    'zipped/dtype=f32,seq=4,context=512,heads=16',
    'zipped/dtype=f32,seq=4,context=1024,heads=16',
    'zipped/dtype=f32,seq=16,context=512,heads=32',
    'zipped/dtype=f32,seq=16,context=1024,heads=32',
    'zipped/dtype=f16,seq=1,context=512,heads=8',
  ]);
});

test('a zipped axis may repeat a value: the points are the tuples', () => {
  const zipped = suite(suiteJson({ axes: { seq: [1, 1, 4], heads: [8, 16, 8] }, zip: [['seq', 'heads']] }));
  assert.deepEqual(keys(expandSuite(zipped, { profile: 'standard' })), ['x/seq=1,heads=8', 'x/seq=1,heads=16', 'x/seq=4,heads=8']);
});

test('overriding part of a zip group takes the rest from the best-agreeing points; the whole group zips', () => {
  const zipped = suite(suiteJson({ axes: { seq: [1, 2, 2], heads: [8, 16, 16], page: [0, 0, 64] }, zip: [['seq', 'heads', 'page']] }));
  const one = expandSuite(zipped, { profile: 'standard', overrides: [{ axis: 'seq', values: [4] }] });
  assert.deepEqual(keys(one), ['x/seq=4,heads=8,page=0', 'x/seq=4,heads=16,page=0', 'x/seq=4,heads=16,page=64']);
  const two = expandSuite(zipped, {
    profile: 'standard',
    overrides: [
      { axis: 'seq', values: [1, 4] },
      { axis: 'heads', values: [32, 64] },
    ],
  });
  // seq 1 agrees with the suite's first point (page 0); seq 4 with none, so it takes every page.
  assert.deepEqual(keys(two), ['x/seq=1,heads=32,page=0', 'x/seq=4,heads=64,page=0', 'x/seq=4,heads=64,page=64']);
  const broadcast = expandSuite(zipped, {
    profile: 'standard',
    overrides: [
      { axis: 'seq', values: [1, 4] },
      { axis: 'heads', values: [32] },
    ],
  });
  assert.deepEqual(keys(broadcast), ['x/seq=1,heads=32,page=0', 'x/seq=4,heads=32,page=0', 'x/seq=4,heads=32,page=64']);
  assertUserError(
    () =>
      expandSuite(zipped, {
        profile: 'standard',
        overrides: [
          { axis: 'seq', values: [1, 2, 3] },
          { axis: 'heads', values: [4, 8] },
        ],
      }),
    'overridden together',
    'seq: 3',
    'heads: 2',
  );
  // The other axes come from the points that agree best, the earlier declared axis first.
  const gemmLike = suite(
    suiteJson({ axes: { op: ['sq', 'ex', 'ab'], rows: [8, 32, 1], batch: [1, 2, 1] }, zip: [['op', 'rows', 'batch']] }),
  );
  const picked = expandSuite(gemmLike, {
    profile: 'standard',
    overrides: [
      { axis: 'op', values: ['ab', 'ex'] },
      { axis: 'rows', values: [1] },
    ],
  });
  assert.deepEqual(keys(picked), ['x/op=ab,rows=1,batch=1', 'x/op=ex,rows=1,batch=2']);
  const whole = expandSuite(suite(suiteJson({ zip: [['seq', 'heads']] })), {
    profile: 'standard',
    overrides: [
      { axis: 'seq', values: [1, 2, 3] },
      { axis: 'heads', values: [4, 8, 16] },
    ],
  });
  assert.deepEqual(keys(whole), ['x/seq=1,heads=4,context=512', 'x/seq=2,heads=8,context=512', 'x/seq=3,heads=16,context=512']);
});

test('profile axes replace defaults and overrides replace both', () => {
  const calibration = suite();
  const contexts = (cases: PlannedCase[]): unknown[] => [...new Set(cases.map((planned) => planned.params['context']))];

  assert.deepEqual(contexts(expandSuite(calibration, { profile: 'quick' })), [512]);
  assert.equal(expandSuite(calibration, { profile: 'quick' }).length, 3 * 2 * 1 * 3);
  assert.deepEqual(contexts(expandSuite(calibration, { profile: 'full' })), [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]);
  // No "standard" entry: the defaults apply.
  assert.deepEqual(contexts(expandSuite(calibration, { profile: 'standard' })), [512, 1024, 2048, 4096]);

  const overridden = expandSuite(calibration, {
    profile: 'full',
    overrides: [parseAxisOverride('context=2048,8192'), parseAxisOverride('kernel=fma')],
  });
  assert.deepEqual(contexts(overridden), [2048, 8192]);
  assert.equal(overridden.length, 1 * 2 * 2 * 3);
});

test('an override of an unknown axis names the axis, the suite and the known axes', () => {
  assertUserError(
    () => expandSuite(suite(), { profile: 'standard', overrides: [{ axis: 'foo', values: [1] }] }),
    'unknown axis "foo" for suite calibration; axes: kernel, dtype, context, batch',
  );
  assertUserError(
    () =>
      expandSuite(suite(), {
        profile: 'standard',
        overrides: [parseAxisOverride('batch=1'), parseAxisOverride('batch=2')],
      }),
    'batch',
  );
});

test('dtypes replace the dtype axis, and are ignored by suites without one', () => {
  const cases = expandSuite(suite(), { profile: 'quick', dtypes: ['f16'] });
  assert.deepEqual([...new Set(cases.map((planned) => planned.params['dtype']))], ['f16']);
  assert.equal(cases.length, 3 * 1 * 1 * 3);

  const noDtype = suite(suiteJson({}));
  assert.equal(expandSuite(noDtype, { profile: 'standard', dtypes: ['f16'] }).length, 4);

  // An explicit -a dtype=... is the more specific request.
  const both = expandSuite(suite(), { profile: 'quick', dtypes: ['f16'], overrides: [parseAxisOverride('dtype=f32')] });
  assert.deepEqual([...new Set(both.map((planned) => planned.params['dtype']))], ['f32']);
});

test('a filter without "=" keeps cases whose key contains it', () => {
  const fma = expandSuite(suite(), { profile: 'standard', filter: 'fma' });
  assert.equal(fma.length, 2 * 4 * 3);
  assert.ok(fma.every((planned) => planned.params['kernel'] === 'fma'));
  assert.deepEqual(keys(expandSuite(suite(), { profile: 'quick', filter: 'fma,dtype' })), [
    'calibration/kernel=fma,dtype=f32,context=512,batch=1',
    'calibration/kernel=fma,dtype=f32,context=512,batch=5',
    'calibration/kernel=fma,dtype=f32,context=512,batch=9',
    'calibration/kernel=fma,dtype=f16,context=512,batch=1',
    'calibration/kernel=fma,dtype=f16,context=512,batch=5',
    'calibration/kernel=fma,dtype=f16,context=512,batch=9',
  ]);
  assert.equal(expandSuite(suite(), { profile: 'standard', filter: '2048' }).length, 3 * 2 * 3);
  assert.equal(expandSuite(suite(), { profile: 'standard', filter: 'nothing-like-this' }).length, 0);
});

test('a filter with "=" matches all of its axis=value pairs against the params', () => {
  const cases = expandSuite(suite(), { profile: 'standard', filter: 'batch=9,kernel=fma' });
  assert.equal(cases.length, 2 * 4);
  assert.ok(cases.every((planned) => planned.params['batch'] === 9 && planned.params['kernel'] === 'fma'));
  // Pair order does not matter, which a substring match could not do.
  assert.deepEqual(keys(cases), keys(expandSuite(suite(), { profile: 'standard', filter: 'kernel=fma,batch=9' })));
  // Values compare as numbers, so context=512 does not also select 5120-like keys.
  const exact = expandSuite(suite(), { profile: 'standard', filter: 'context=512.0' });
  assert.equal(exact.length, 3 * 2 * 3);
  assert.equal(expandSuite(suite(), { profile: 'standard', filter: 'nope=1' }).length, 0);
  assertUserError(() => expandSuite(suite(), { profile: 'standard', filter: 'kernel=fma,batch' }), 'kernel=fma,batch');
});

test('skip rules mark matching cases with the first matching reason', () => {
  const calibration = suite();
  const cases = expandSuite(calibration, { profile: 'quick' });
  const skipped = cases.filter((planned) => planned.skip !== undefined);
  assert.equal(skipped.length, 2 * 3);
  assert.ok(skipped.every((planned) => planned.params['dtype'] === 'f16' && planned.params['kernel'] !== 'fma'));
  assert.ok(skipped.every((planned) => planned.skip === 'bandwidth does not depend on dtype'));
  assert.ok(!('skip' in (cases[0] ?? {})), 'a case that runs has no skip property');

  const ruled = suite(
    suiteJson({
      axes: { seq: [1, 512, 2048], context: [512, 1024], heads: [8, 16] },
      skip: [
        { when: { seq: { gt: 'context' } }, reason: 'query longer than context' },
        { when: { seq: { ge: 512, lt: 1024 }, heads: 16 }, reason: 'mid-size seq with 16 heads' },
        { when: { heads: { eq: 16 } }, reason: 'never reached for seq > context' },
      ],
    }),
  );
  const reasons = Object.fromEntries(expandSuite(ruled, { profile: 'standard' }).map((planned) => [planned.key, planned.skip]));
  assert.equal(reasons['x/seq=1,context=512,heads=8'], undefined);
  assert.equal(reasons['x/seq=512,context=512,heads=8'], undefined);
  assert.equal(reasons['x/seq=2048,context=1024,heads=8'], 'query longer than context');
  assert.equal(reasons['x/seq=2048,context=1024,heads=16'], 'query longer than context');
  assert.equal(reasons['x/seq=512,context=512,heads=16'], 'mid-size seq with 16 heads');
  assert.equal(reasons['x/seq=1,context=1024,heads=16'], 'never reached for seq > context');
  assert.equal(Object.values(reasons).filter((reason) => reason === 'query longer than context').length, 4);
});

test('parseAxisOverride reads lists, ranges and pow2', () => {
  assert.deepEqual(parseAxisOverride('context=512,1024'), { axis: 'context', values: [512, 1024] });
  assert.deepEqual(parseAxisOverride('kernel=copy,fma'), { axis: 'kernel', values: ['copy', 'fma'] });
  assert.deepEqual(parseAxisOverride('scale=0.5,1e3,-2'), { axis: 'scale', values: [0.5, 1000, -2] });
  assert.deepEqual(parseAxisOverride('batch=1:8:1'), { axis: 'batch', values: [1, 2, 3, 4, 5, 6, 7, 8] });
  assert.deepEqual(parseAxisOverride('batch=1:9:4'), { axis: 'batch', values: [1, 5, 9] });
  assert.deepEqual(parseAxisOverride('batch=2:4'), { axis: 'batch', values: [2, 3, 4] });
  assert.deepEqual(parseAxisOverride('context=pow2:512:4096'), { axis: 'context', values: [512, 1024, 2048, 4096] });
  assert.deepEqual(parseAxisOverride('dtype=f16'), { axis: 'dtype', values: ['f16'] });
});

test('malformed axis overrides throw a UserError naming the text', () => {
  for (const text of [
    'context',
    '=512',
    'context=',
    'context=512,,1024',
    'batch=1:8:0',
    'batch=1:8:-1',
    'batch=8:1',
    'batch=1:x',
    'batch=1:2:3:4',
    'context=pow2:500:4096',
    'context=pow2:4096:512',
    'context=pow2:512',
    'context=1:4,8',
    'batch=1,1',
  ]) {
    assertUserError(() => parseAxisOverride(text), `"${text}"`);
  }
});

test('describeCase joins params in order', () => {
  assert.equal(describeCase({ kernel: 'copy', dtype: 'f32' }), 'kernel=copy dtype=f32');
  assert.equal(describeCase({}), '');
});

test('a valid suite file round-trips through parseSuiteFile', () => {
  const full = {
    ...CALIBRATION_JSON,
    axes: { ...CALIBRATION_JSON.axes, seq: [1, 2], heads: [8, 16] },
    zip: [['seq', 'heads']],
    skip: [...CALIBRATION_JSON.skip, { when: { seq: { gt: 'context' } }, reason: 'query longer than context' }],
  };
  const parsed = parseSuiteFile(structuredClone(full), 'suites/calibration.json');
  assert.deepEqual(parsed, full);
  assert.deepEqual(parseSuiteFile(JSON.parse(JSON.stringify(parsed)), 'again.json'), parsed);
  assert.deepEqual(Object.keys(parsed.axes), ['kernel', 'dtype', 'context', 'batch', 'seq', 'heads']);
});

test('loadSuiteFile reads a file and reports malformed JSON and missing files with the file name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mla-bench-suites-'));
  try {
    const good = join(dir, 'calibration.json');
    writeFileSync(good, JSON.stringify(CALIBRATION_JSON, null, 2));
    assert.deepEqual(loadSuiteFile(good), CALIBRATION_JSON);

    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"name": "broken",');
    assertUserError(() => loadSuiteFile(broken), broken, 'malformed JSON');

    const invalid = join(dir, 'invalid.json');
    writeFileSync(invalid, JSON.stringify({ ...CALIBRATION_JSON, axes: { context: { pow2: [500, 4096] } } }));
    assertUserError(() => loadSuiteFile(invalid), `${invalid}: axes.context: pow2 bounds must be powers of two`);

    assertUserError(() => loadSuiteFile(join(dir, 'missing.json')), 'missing.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed suite files throw a UserError naming the file, the field path and the offending name', () => {
  const malformed: [string, Record<string, unknown>, string[]][] = [
    [
      'pow2 not powers of two',
      suiteJson({ axes: { context: { pow2: [500, 4096] } } }),
      ['axes.context: pow2 bounds must be powers of two'],
    ],
    ['pow2 reversed', suiteJson({ axes: { context: { pow2: [4096, 512] } } }), ['axes.context', 'from <= to']],
    ['pow2 missing a bound', suiteJson({ axes: { context: { pow2: [512] } } }), ['axes.context.pow2']],
    ['range step zero', suiteJson({ axes: { batch: { range: [1, 9, 0] } } }), ['axes.batch', 'step must be > 0']],
    ['range step negative', suiteJson({ axes: { batch: { range: [1, 9, -1] } } }), ['axes.batch', 'step must be > 0']],
    ['range reversed', suiteJson({ axes: { batch: { range: [9, 1, 1] } } }), ['axes.batch', 'start must be <= stop']],
    ['range too long', suiteJson({ axes: { batch: { range: [1, 1e9, 1] } } }), ['axes.batch', 'more than']],
    ['empty list', suiteJson({ axes: { kernel: [] } }), ['axes.kernel', 'at least one value']],
    ['duplicate value', suiteJson({ axes: { kernel: ['copy', 'copy'] } }), ['axes.kernel', '"copy"']],
    ['string with comma', suiteJson({ axes: { kernel: ['a,b'] } }), ['axes.kernel[0]']],
    ['not an axis spec', suiteJson({ axes: { kernel: 'copy' } }), ['axes.kernel', 'pow2', 'range']],
    ['empty axis object', suiteJson({ axes: { kernel: {} } }), ['axes.kernel', 'pow2', 'range']],
    ['unknown key in axis spec', suiteJson({ axes: { kernel: { range: [1, 2, 1], by: 2 } } }), ['axes.kernel', '"by"']],
    ['no axes', suiteJson({ axes: {} }), ['axes', 'at least one axis']],
    ['bad axis name', suiteJson({ axes: { 'a=b': [1] } }), ['axes.a=b', '"a=b"']],
    ['bad suite name', suiteJson({ name: 'Calibration' }), ['name']],
    ['missing family', { name: 'x', description: '', axes: { a: [1] } }, ['family']],
    ['unknown top-level key', suiteJson({ sweep: 1 }), ['"sweep"']],
    ['zip names unknown axis', suiteJson({ zip: [['seq', 'layers']] }), ['zip[0][1]', '"layers"']],
    [
      'axis in two zip groups',
      suiteJson({
        zip: [
          ['seq', 'heads'],
          ['context', 'seq'],
        ],
      }),
      ['zip[1][1]', '"seq"'],
    ],
    ['zip of unequal lengths', suiteJson({ zip: [['seq', 'context']] }), ['zip[0]', 'seq: 2', 'context: 1']],
    ['zip of one axis', suiteJson({ zip: [['seq']] }), ['zip[0]', 'two axes']],
    [
      'zipped tuple twice',
      suiteJson({ axes: { seq: [1, 1], heads: [8, 8], context: [512] }, zip: [['seq', 'heads']] }),
      ['zip[0]', '(seq=1, heads=8)'],
    ],
    [
      'profile repeats a value',
      suiteJson({ profiles: { quick: { axes: { context: [512, 512] } } } }),
      ['profiles.quick.axes.context', 'value 512 is listed twice'],
    ],
    [
      'profile repeats a zipped tuple',
      suiteJson({ zip: [['seq', 'heads']], profiles: { full: { axes: { seq: [4, 4], heads: [8, 8] } } } }),
      ['profiles.full.zip[0]', '(seq=4, heads=8)'],
    ],
    ['unknown profile', suiteJson({ profiles: { fast: { axes: {} } } }), ['profiles', '"fast"']],
    [
      'profile names unknown axis',
      suiteJson({ profiles: { quick: { axes: { layers: [1] } } } }),
      ['profiles.quick.axes.layers', '"layers"'],
    ],
    [
      'profile breaks zip',
      suiteJson({ zip: [['seq', 'heads']], profiles: { full: { axes: { seq: [1, 2, 3] } } } }),
      ['profiles.full.zip[0]', 'seq: 3'],
    ],
    [
      'bad profile axis spec',
      suiteJson({ profiles: { quick: { axes: { context: { pow2: [3, 8] } } } } }),
      ['profiles.quick.axes.context', 'powers of two'],
    ],
    ['skip names unknown axis', suiteJson({ skip: [{ when: { layers: 1 }, reason: 'r' }] }), ['skip[0].when.layers', '"layers"']],
    ['skip target not an axis', suiteJson({ skip: [{ when: { seq: { gt: 'ctx' } }, reason: 'r' }] }), ['skip[0].when.seq.gt', '"ctx"']],
    ['skip unknown op', suiteJson({ skip: [{ when: { seq: { above: 1 } }, reason: 'r' }] }), ['skip[0].when.seq', '"above"']],
    ['skip empty comparison', suiteJson({ skip: [{ when: { seq: {} }, reason: 'r' }] }), ['skip[0].when.seq', 'gt']],
    ['skip empty when', suiteJson({ skip: [{ when: {}, reason: 'r' }] }), ['skip[0].when', 'at least one condition']],
    ['skip without reason', suiteJson({ skip: [{ when: { seq: 1 } }] }), ['skip[0].reason']],
  ];
  for (const [what, json, mentions] of malformed) {
    assert.throws(() => parseSuiteFile(json, 'suites/bad.json'), UserError, what);
    assertUserError(() => parseSuiteFile(json, 'suites/bad.json'), 'suites/bad.json: ', ...mentions);
  }
  assertUserError(() => parseSuiteFile('not an object', 'suites/bad.json'), 'suites/bad.json');
});

test('the suites under suites/extra/ (run by path, never built-in) load and plan: the two workgroup prefill kernels side by side', async () => {
  const { loadSuite, planSuite, SUITES_DIR, builtInSuiteNames } = await import('../../src/suites/registry.js');
  const suite = loadSuite(join(SUITES_DIR, 'extra', 'attention-prefill-kernels.json'));
  const cases = planSuite(suite, { profile: 'quick' });
  assert.equal(cases.length, 8);
  assert.deepEqual([...new Set(cases.map((c) => c.params['prefill_kernel']))], ['flash', 'tiled']);
  assert.ok(cases.every((c) => c.params['tiling'] === 'workgroup' && c.params['seq'] === 128));
  assert.ok(!builtInSuiteNames().includes('attention-prefill-kernels'));
});
