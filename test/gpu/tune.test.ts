import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { adapterBuildFacts } from '../../src/gpu/device.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import type { BuildContext } from '../../src/kernels/family.js';
import { GpuTimer } from '../../src/gpu/timing.js';
import { attentionFamily } from '../../src/kernels/attention.js';
import type { AttentionPlan } from '../../src/kernels/attention-plans.js';
import { describeSlotPlan, slotPlanKey, type SlotPlan, type TunableSlot } from '../../src/kernels/tunable.js';
import type { GpuSession } from '../../src/run/run-case.js';
import type { PlannedCase } from '../../src/suites/expand.js';
import { plansProblem } from '../../src/tune/admit.js';
import { prepareCandidate, isCandidate } from '../../src/tune/candidate.js';
import { tuneShape } from '../../src/tune/tune-case.js';
import { buildCase, closeTestGpu, runChecked, testGpu } from '../helpers/gpu.js';

after(closeTestGpu);

// A tiny MQA decode on the CPU-adapter kernels: 8 query heads share one KV head (the subgroup rows kernel), 64 tokens.
const PARAMS = {
  phase: 'decode',
  variant: 'custom',
  heads: 8,
  kv_heads: 1,
  head_dim: 16,
  batch: 1,
  context: 64,
  dtype: 'f32',
  tiling: 'rows',
} as const;
const PLANNED: PlannedCase = { suite: 'attention-decode', key: 'attention-decode/tiny', params: { ...PARAMS } };

async function session(): Promise<GpuSession> {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  return { context, allocator, timer: GpuTimer.create(context, allocator) };
}

async function buildContext(): Promise<BuildContext> {
  const gpu = await testGpu();
  return { limits: gpu.limits, features: gpu.features, ...adapterBuildFacts(gpu), seed: 1 };
}

function attendPlan(slot: SlotPlan): AttentionPlan {
  assert.equal(slot.family, 'attention');
  return slot.plan as AttentionPlan;
}

/**
 * A plan that skips part of the work: the subgroup rows kernel's 'direct' output (normalised output, no reduce)
 * with the 64 tokens in 4 splits of 16, so each split writes the output from its own 16 tokens and the last one
 * wins. The space never holds it (rowsPlanDefect: direct output needs one split); a case built with it runs.
 */
function wrongPlan(chosen: AttentionPlan): SlotPlan {
  assert.equal(chosen.kind, 'rows-subgroup');
  return { family: 'attention', plan: { ...chosen, chunk: 16, output: 'direct' } };
}

test('the tiny case runs the subgroup rows kernel by default, and its space holds no plan that skips work', async () => {
  const kernelCase = await buildCase(attentionFamily, { ...PARAMS });
  const [slot] = kernelCase.tunables ?? [];
  assert.ok(slot, 'the attend is a tunable slot');
  assert.equal(slot.name, 'attend');
  const chosen = attendPlan(slot.chosen);
  const space = slot.space();
  assert.ok(space.length > 3, `a space to search: ${space.length} plans`);
  assert.equal(slotPlanKey(space[0]!), slotPlanKey(slot.chosen), 'the default first');
  const wrong = slotPlanKey(wrongPlan(chosen));
  assert.ok(!space.some((plan) => slotPlanKey(plan) === wrong));
  // Built with the wrong plan, the case runs it, but its space is still the default's: run would not admit it.
  const withWrong = attentionFamily.build({ ...PARAMS }, { ...(await buildContext()), plans: { attend: wrongPlan(chosen) } });
  assert.ok(withWrong.kind === 'case');
  assert.equal(slotPlanKey(withWrong.kernelCase.tunables![0]!.chosen), wrong);
  assert.match(
    plansProblem(withWrong.kernelCase, { attend: wrongPlan(chosen) }) ?? '',
    /is not a legal plan for this shape on this device/,
  );
  // The space's last plan, far from the default, passes its numerics (every plan is checked again when tuned).
  for (const plan of [space[space.length - 1]!]) {
    const built = attentionFamily.build({ ...PARAMS }, { ...(await buildContext()), plans: { attend: plan } });
    assert.equal(built.kind, 'case', describeSlotPlan(plan));
    if (built.kind !== 'case') continue;
    const outcome = await runChecked(built.kernelCase);
    assert.ok(
      outcome.checks.every((check) => check.passed),
      describeSlotPlan(plan),
    );
  }
});

test('a wrong plan fails its float64 check as a candidate', async () => {
  const s = await session();
  const kernelCase = await buildCase(attentionFamily, { ...PARAMS });
  const wrong = wrongPlan(attendPlan(kernelCase.tunables![0]!.chosen));
  const built = await prepareCandidate(s, attentionFamily, PLANNED, 1, { attend: wrong }, 1);
  assert.ok(!isCandidate(built));
  assert.equal(built.kind, 'numerics', built.reason);
  s.timer.dispose();
  s.allocator.destroyAll();
});

test('the tuner records a deliberately wrong configuration in the space as failing and never chooses it', async () => {
  const s = await session();
  let space: SlotPlan[] = [];
  let bad: SlotPlan | undefined;
  const spaceOf = (slot: TunableSlot): readonly SlotPlan[] => {
    if (!space.length) {
      const legal = slot.space();
      bad = wrongPlan(attendPlan(slot.chosen));
      // The default, the wrong plan and one legal alternative along the same field (output: partials -> direct).
      space = [slot.chosen, bad, ...legal.filter((plan) => attendPlan(plan).kind === 'rows-subgroup').slice(1, 3)];
    }
    return space;
  };
  const now = (): number => performance.now();
  // A deadline far off: the search ends when the small space is exhausted, whatever the machine's load.
  const result = await tuneShape(s, attentionFamily, PLANNED, { seed: 1, targetSampleMs: 1, deadline: now() + 120_000, now, spaceOf });
  s.timer.dispose();
  s.allocator.destroyAll();
  assert.ok(result.status === 'tuned' || result.status === 'default-kept', `${result.status}: ${'reason' in result ? result.reason : ''}`);
  assert.ok(bad);
  const failing = result.failing.filter((f) => f.plan === describeSlotPlan(bad!));
  assert.equal(failing.length, 1, JSON.stringify(result.failing));
  assert.match(failing[0]!.reason, /^numerics: out: \d+ of \d+ elements off the float64 reference/);
  assert.notEqual(slotPlanKey(result.tuned['attend']!), slotPlanKey(bad), 'the wrong plan is never chosen');
  assert.ok(result.evaluated >= 3, 'the default, the wrong plan and at least one legal plan were built and checked');
});
