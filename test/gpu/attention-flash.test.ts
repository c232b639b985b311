import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { adapterBuildFacts } from '../../src/gpu/device.js';
import { attentionCase, attentionFamily, type AttentionShape } from '../../src/kernels/attention.js';
import type { AttentionPlan, FlashPlan } from '../../src/kernels/attention-plans.js';
import type { BuildContext } from '../../src/kernels/family.js';
import { elementBytes, type Dtype, type KernelCase } from '../../src/kernels/spec.js';
import { closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

// The workgroup tiling's flash prefill kernel (kernels/attention_flash.wgsl) under plans other than its default:
// rows per invocation 1 to 4, workgroups of one to eight 8-lane groups, token tiles of 8 to 64; lengths that cross
// several tiles and end inside one, query rows that leave the last workgroup part empty, causal with a cached
// prefix and not causal. (test/gpu/attention.test.ts runs its default plan on the family's odd shapes, paged caches
// and canaries.)

async function context(plan?: AttentionPlan, seed = 5): Promise<BuildContext> {
  const gpu = await testGpu();
  const base = { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed };
  return plan ? { ...base, plans: { attend: { family: 'attention', plan } } } : base;
}

async function build(shape: AttentionShape, dtype: Dtype, plan?: AttentionPlan, pageSize = 0): Promise<KernelCase> {
  const built = attentionCase(shape, dtype, await context(plan), { phase: 'prefill', tiling: 'workgroup', pageSize });
  if (built.kind === 'skip') throw new Error(`skipped: ${built.reason}`);
  return built.kernelCase;
}

async function assertPasses(kernelCase: KernelCase, label: string): Promise<void> {
  const check = (await runChecked(kernelCase)).checks[0]!;
  assert.ok(
    check.passed,
    `${label}: ${check.mismatches}/${check.checked} mismatches, worst ${check.worstActual} vs ${check.worstExpected} at ${check.worstIndex}`,
  );
}

// (Its default plan at these head dims, 32 lanes of 4 rows and tiles of 64 tokens, runs in attention.test.ts.)
const PLANS: FlashPlan[] = [
  { kind: 'flash', wg: 8, rpi: 1, bk: 8 },
  { kind: 'flash', wg: 16, rpi: 3, bk: 16 },
  { kind: 'flash', wg: 32, rpi: 4, bk: 32 },
];

const SHAPES: { name: string; shape: AttentionShape }[] = [
  {
    name: 'GQA 10 q / 2 kv heads, 37 queries over ragged [150, 37] causal (a cached prefix of 113)',
    shape: { batch: 2, nQ: 10, nKv: 2, dQk: 33, dV: 20, qLen: 37, kvLens: [150, 37], causal: true, scale: 0.3 },
  },
  {
    // Row blocks go longest and shortest in turn (causal_block): an odd count leaves the middle block last.
    name: 'MQA 6 q heads, 12 queries over 20 tokens causal (72 rows: 9 row blocks at wg 8 rpi 1)',
    shape: { batch: 1, nQ: 6, nKv: 1, dQk: 33, dV: 20, qLen: 12, kvLens: [20], causal: true, scale: 0.3 },
  },
  {
    name: 'MHA 3 heads, 29 queries over 77 tokens, not causal',
    shape: { batch: 1, nQ: 3, nKv: 3, dQk: 33, dV: 20, qLen: 29, kvLens: [77], causal: false, scale: 0.4 },
  },
];

for (const { name, shape } of SHAPES) {
  for (const dtype of ['f32', 'f16'] as const) {
    for (const plan of PLANS) {
      test(`flash prefill ${name} [${dtype}, wg ${plan.wg} rpi ${plan.rpi} bk ${plan.bk}]: GPU equals the float64 reference`, async () => {
        const kernelCase = await build(shape, dtype, plan);
        assert.equal(kernelCase.facts?.['tileBK'], plan.bk);
        await assertPasses(kernelCase, name);
      });
    }
  }
}

test('flash prefill at the head dims of real models (128, 256, MLA 192 / 128) in f32 and f16, its default plan', async () => {
  const shapes: AttentionShape[] = [
    { batch: 1, nQ: 4, nKv: 2, dQk: 256, dV: 256, qLen: 40, kvLens: [70], causal: true },
    { batch: 1, nQ: 2, nKv: 2, dQk: 192, dV: 128, qLen: 33, kvLens: [33], causal: true },
    { batch: 1, nQ: 8, nKv: 1, dQk: 128, dV: 128, qLen: 45, kvLens: [45], causal: true },
  ];
  for (const shape of shapes) {
    for (const dtype of ['f32', 'f16'] as const) {
      const kernelCase = await build(shape, dtype);
      assert.equal(kernelCase.facts?.['prefillKernel'], 'flash');
      await assertPasses(kernelCase, `d ${shape.dQk}/${shape.dV} ${dtype}`);
    }
  }
});

test('flash prefill through a paged cache (pages smaller than a token tile, shuffled, several buffers) under a non-default plan', async () => {
  const shape = SHAPES[0]!.shape;
  for (const dtype of ['f32', 'f16'] as const) {
    const built = attentionCase(shape, dtype, await context(PLANS[1]), {
      phase: 'prefill',
      tiling: 'workgroup',
      pageSize: 8,
      // 12 pages of 8 tokens x 2 KV heads x 36 elements a buffer, and the 64-element canary.
      maxPoolBytes: (12 * 8 * 2 * 36 + 64) * elementBytes(dtype),
    });
    assert.ok(built.kind === 'case', built.kind === 'skip' ? built.reason : '');
    assert.ok((built.kernelCase.facts?.['kvPools'] as number) >= 2);
    await assertPasses(built.kernelCase, `paged ${dtype}`);
  }
});

test('a flash prefill that reads one token too many sees the NaN canary', async () => {
  const shape = SHAPES[1]!.shape;
  const kernelCase = await build(shape, 'f32', PLANS[1]);
  const v = kernelCase.buffers.find((b) => b.name === 'v')!;
  // The last token's V row (20 elements) is canary now: the kernel still reads 77 tokens.
  v.length -= 20;
  v.data = v.data!.subarray(0, v.length);
  const check = (await runChecked(kernelCase)).checks[0]!;
  assert.equal(check.passed, false);
  assert.equal(check.worstActual, 'NaN');
});

test('the workgroup prefill: flash with subgroups of >= 8 lanes, the tiled kernel without; prefill_kernel picks either; the tuner space holds both', async () => {
  const ctx = await context();
  const shape = SHAPES[0]!.shape;
  const kernelOf = (c: BuildContext, options: { prefillKernel?: 'flash' | 'tiled' } = {}) => {
    const built = attentionCase(shape, 'f32', c, { phase: 'prefill', tiling: 'workgroup', ...options });
    return built.kind === 'case' ? built.kernelCase.facts?.['prefillKernel'] : built.reason;
  };
  assert.equal(kernelOf(ctx), 'flash');
  assert.equal(kernelOf({ ...ctx, subgroupMinSize: undefined }), 'tiled');
  assert.equal(kernelOf({ ...ctx, subgroupMinSize: 4 }), 'tiled');
  assert.equal(kernelOf(ctx, { prefillKernel: 'tiled' }), 'tiled');
  assert.match(
    String(kernelOf({ ...ctx, subgroupMinSize: undefined }, { prefillKernel: 'flash' })),
    /^prefill_kernel=flash: .*no subgroups/,
  );
  // The axis, through the family; decode and the rows tiling have no prefill kernel to pick.
  const params = { phase: 'prefill', variant: 'llama3-8b', batch: 1, seq: 16, dtype: 'f32', tiling: 'workgroup' };
  for (const prefill_kernel of ['flash', 'tiled'] as const) {
    const built = attentionFamily.build({ ...params, prefill_kernel }, ctx);
    assert.equal(built.kind === 'case' && built.kernelCase.facts?.['prefillKernel'], prefill_kernel);
  }
  const rows = attentionFamily.build({ ...params, tiling: 'rows', prefill_kernel: 'flash' }, ctx);
  assert.ok(rows.kind === 'skip' && /workgroup tiling's prefill kernel/.test(rows.reason));
  // The tuner's space: both kinds, the flash grid checked against the workgroup memory.
  const built = attentionCase(shape, 'f32', ctx, { phase: 'prefill', tiling: 'workgroup' });
  assert.ok(built.kind === 'case');
  const space = built.kernelCase.tunables?.[0]?.space().map((slot) => slot.plan as AttentionPlan) ?? [];
  assert.deepEqual([...new Set(space.map((p) => p.kind))].sort(), ['flash', 'prefill']);
  const wide = attentionCase({ ...shape, dQk: 256, dV: 256 }, 'f32', ctx, { phase: 'prefill', tiling: 'workgroup' });
  assert.ok(wide.kind === 'case');
  const flash = (wide.kernelCase.tunables?.[0]?.space() ?? []).map((s) => s.plan as AttentionPlan).filter((p) => p.kind === 'flash');
  assert.ok(flash.length > 0 && flash.every((p) => p.bk <= 16), 'd=256: at most 16-token tiles fit 32 KiB');
});
