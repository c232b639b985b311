import { openGpu, withErrorScopes, describeErrors, hasErrors, type GpuContext } from '../../src/gpu/device.js';
import { PreparedCase } from '../../src/gpu/executor.js';
import { TrackedAllocator } from '../../src/gpu/memory.js';
import type { KernelFamily } from '../../src/kernels/family.js';
import type { KernelCase } from '../../src/kernels/spec.js';
import { allclose, type NumericsReport } from '../../src/reference/allclose.js';
import type { AxisValue } from '../../src/suites/schema.js';

let shared: Promise<GpuContext> | undefined;

/**
 * The test process's one device. A missing adapter is a test failure, never a skip: CI must see it.
 * Closed by the process's exit; node:test runs each file in its own process.
 */
export function testGpu(): Promise<GpuContext> {
  shared ??= openGpu({});
  return shared;
}

export async function closeTestGpu(): Promise<void> {
  if (!shared) return;
  const context = await shared;
  shared = undefined;
  context.close();
}

export interface CaseOutcome {
  outputs: Map<string, Float32Array | Uint32Array | Int32Array>;
  checks: (NumericsReport & { buffer: string })[];
  memory: ReturnType<TrackedAllocator['report']>;
}

/** Runs a case once inside validation/OOM scopes (which must come back empty) and checks every output. */
export async function runChecked(kernelCase: KernelCase): Promise<CaseOutcome> {
  const context = await testGpu();
  const allocator = new TrackedAllocator(context.device);
  let prepared: PreparedCase | undefined;
  const scoped = await withErrorScopes(context.device, async () => {
    prepared = await PreparedCase.prepare(context, allocator, kernelCase);
    await prepared.run();
    const outputs = new Map<string, Float32Array | Uint32Array | Int32Array>();
    for (const check of kernelCase.checks) outputs.set(check.buffer, await prepared.read(check.buffer));
    return outputs;
  });
  const memory = allocator.report();
  prepared?.dispose();
  allocator.destroyAll();
  if (scoped.thrown) throw scoped.thrown;
  if (hasErrors(scoped.errors)) throw new Error(`WebGPU errors: ${describeErrors(scoped.errors)}`);
  const outputs = scoped.value!;
  const checks = kernelCase.checks.map((check) => ({
    buffer: check.buffer,
    ...allclose(outputs.get(check.buffer) ?? [], check.expected(), check.tolerance),
  }));
  return { outputs, checks, memory };
}

/** Builds a family's case for params on the test device; throws if the family skips it. */
export async function buildCase(family: KernelFamily, params: Record<string, AxisValue>, seed = 1): Promise<KernelCase> {
  const context = await testGpu();
  const built = family.build(params, { limits: context.limits, features: context.features, seed });
  if (built.kind === 'skip') throw new Error(`case skipped: ${built.reason}`);
  return built.kernelCase;
}
