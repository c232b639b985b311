import { openGpu, describeErrors, hasErrors, adapterBuildFacts, type GpuContext } from '../../src/gpu/device.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import type { KernelFamily } from '../../src/kernels/family.js';
import type { KernelCase } from '../../src/kernels/spec.js';
import { prepareAndCheck, type CheckedCase, type Outputs } from '../../src/run/run-case.js';
import type { AxisValue } from '../../src/suites/schema.js';

let shared: Promise<GpuContext> | undefined;

/**
 * The test process's one device. A missing adapter is a test failure, never a skip: CI must see it.
 * Closed by the process's exit; node:test runs each file in its own process.
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= openGpu();
  return shared;
}

export async function closeTestGpu(): Promise<void> {
  if (!shared) return;
  const context = await shared;
  shared = undefined;
  context.close();
}

export interface CaseOutcome {
  outputs: Outputs;
  checks: CheckedCase['checks'];
  memory: ReturnType<TrackedAllocator['report']>;
}

/** Runs a case once inside validation/OOM scopes (which must come back empty) and checks every output. */
export async function runChecked(kernelCase: KernelCase): Promise<CaseOutcome> {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  const checked = await prepareAndCheck(context, allocator, kernelCase);
  const memory = allocator.report();
  checked.prepared?.dispose();
  allocator.destroyAll();
  if (checked.thrown) throw checked.thrown;
  if (hasErrors(checked.errors) || !checked.outputs) throw new Error(`WebGPU errors: ${describeErrors(checked.errors)}`);
  return { outputs: checked.outputs, checks: checked.checks, memory };
}

/** Builds a family's case for params on the test device; throws if the family skips it. */
export async function buildCase(family: KernelFamily, params: Record<string, AxisValue>, seed = 1): Promise<KernelCase> {
  const context = await testGpu();
  const built = family.build(params, { limits: context.limits, features: context.features, ...adapterBuildFacts(context), seed });
  if (built.kind === 'skip') throw new Error(`case skipped: ${built.reason}`);
  return built.kernelCase;
}
