import { describeErrors, hasErrors, withErrorScopes } from '../gpu/device.js';
import type { PreparedCase } from '../gpu/executor.js';
import type { KernelFamily } from '../kernels/family.js';
import type { KernelCase } from '../kernels/spec.js';
import type { PlanOverrides } from '../kernels/tunable.js';
import type { CheckResult } from '../results/schema.js';
import { buildCase, errorMessage, prepareAndCheck, type GpuSession } from '../run/run-case.js';
import { chooseRepeats } from '../run/sampler.js';
import type { PlannedCase } from '../suites/expand.js';
import type { Contender } from './race.js';

/**
 * One configuration of a case, ready to race: built with its plans, prepared, run once and checked against the
 * float64 reference (a configuration that fails is never timed), its repeats per sample sized like a run's.
 */
export interface Candidate extends Contender {
  readonly kernelCase: KernelCase;
  /** Per-repeat time of the sizing probe: a first, rough figure (for pruning hopeless challengers). */
  readonly probeMs: number;
  /** A few samples of some of its stages timed in its pipeline: their median time per repeat. */
  stageMs(dispatches: readonly number[]): Promise<number>;
  dispose(): void;
}

/** Why a configuration is out: it could not be built, failed its numerics check, or failed on the device. */
export interface CandidateFailure {
  kind: 'invalid' | 'numerics' | 'error';
  reason: string;
}

const STAGE_SAMPLES = 3;

function numericsReason(checks: readonly CheckResult[]): string {
  const failed = checks.find((check) => !check.passed) ?? checks[0];
  if (!failed) return 'numerics check failed';
  const { buffer, mismatches, checked, maxAbsError, tolerance } = failed;
  return `${buffer}: ${mismatches} of ${checked} elements off the float64 reference (max abs error ${maxAbsError}; atol ${tolerance.atol.toExponential(1)}, rtol ${tolerance.rtol.toExponential(1)})`;
}

/** A prepared, checked case as a contender (sampled like the run's sampler: GPU time per repeat, or wall time per step). */
async function contenderOf(session: GpuSession, prepared: PreparedCase, targetSampleMs: number): Promise<Candidate | CandidateFailure> {
  const { timer, context } = session;
  const kernelCase = prepared.spec;
  const stepWall = kernelCase.hostTail !== undefined || kernelCase.stepTiming === 'wall';
  const sized = await withErrorScopes(context.device, async () => {
    if (!stepWall) return chooseRepeats(timer, prepared, targetSampleMs);
    const probe = await timer.sample(prepared, 'batch', 1);
    return { repeats: 1, sampleMs: probe.wallMs };
  });
  if (hasErrors(sized.errors) || sized.thrown || !sized.value) {
    prepared.dispose();
    return { kind: 'error', reason: hasErrors(sized.errors) ? describeErrors(sized.errors) : errorMessage(sized.thrown) };
  }
  const { repeats, sampleMs } = sized.value;
  return {
    kernelCase,
    probeMs: sampleMs / repeats,
    async sample() {
      const sample = await timer.sample(prepared, 'batch', repeats);
      return stepWall ? sample.wallMs : (sample.gpuMs ?? sample.wallMs / repeats);
    },
    async stageMs(dispatches) {
      const series = { kind: 'stage', dispatches } as const;
      const stage = await chooseRepeats(timer, prepared, targetSampleMs, series);
      const times: number[] = [];
      for (let i = 0; i < STAGE_SAMPLES; i++) {
        const sample = await timer.sample(prepared, 'batch', stage.repeats, series);
        times.push(sample.gpuMs ?? sample.wallMs / stage.repeats);
      }
      return times.sort((a, b) => a - b)[STAGE_SAMPLES >> 1]!;
    },
    dispose: () => prepared.dispose(),
  };
}

/** Builds, prepares and checks the case with `plans`; a contender, or why the configuration is out. */
export async function prepareCandidate(
  session: GpuSession,
  family: KernelFamily,
  planned: PlannedCase,
  seed: number,
  plans: PlanOverrides,
  targetSampleMs: number,
): Promise<Candidate | CandidateFailure> {
  const built = buildCase(session.context, family, planned, seed, plans);
  if (!('kernelCase' in built))
    return { kind: built.status === 'skipped' ? 'invalid' : 'error', reason: 'reason' in built ? built.reason : built.message };
  let prepared: PreparedCase | undefined;
  try {
    const checked = await prepareAndCheck(session.context, session.allocator, built.kernelCase);
    prepared = checked.prepared;
    if (hasErrors(checked.errors) || checked.thrown || !checked.outputs || !prepared) {
      const reason = hasErrors(checked.errors) ? describeErrors(checked.errors) : errorMessage(checked.thrown);
      return { kind: checked.errors.outOfMemory.length ? 'invalid' : 'error', reason };
    }
    if (!checked.checks.every((check) => check.passed)) return { kind: 'numerics', reason: numericsReason(checked.checks) };
    const contender = await contenderOf(session, prepared, targetSampleMs);
    prepared = undefined;
    return contender;
  } catch (error) {
    return { kind: 'error', reason: errorMessage(error) };
  } finally {
    prepared?.dispose();
  }
}

export function isCandidate(value: Candidate | CandidateFailure): value is Candidate {
  return 'sample' in value;
}
