import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForAdapter } from '../../gpu/host-priority.js';
import { summarize } from '../../measure/statistics.js';
import { shouldStop, type StoppingRule } from '../../measure/stopping.js';
import type { CheckResult, PeerFailingKernels, PeerOk, PeerResult } from '../../results/schema.js';
import { fromF16Array } from '../../util/f16.js';
import { checkPeerOutput } from '../check.js';
import { encodeModel, type OnnxGraph } from '../onnx/model.js';
import type { Peer, PeerCase, PeerVisitOptions } from '../types.js';
import { loadOnnxRuntime, type OrtApi, type OrtSession, type OrtSessionOptions } from './api.js';
import { peerTargets, type CaseModel, type CaseModelResult } from './case-model.js';
import type { PeerModel } from './peer-model.js';
import { kernelEvents, kernelRole, kernelSeries, splitRuns, type KernelSeries } from './profile.js';
import { pinPeerAdapter } from './adapter.js';

/** Runs before sampling: the first compiles ORT's pipelines (seconds on lavapipe), the second settles them. */
const WARMUP_RUNS = 2;
/** Profiled runs per visit at most: each adds a trace event per kernel that ORT keeps until endProfiling. */
const MAX_PROFILED_RUNS = 40;
/** Profiled runs per visit of a peer whose output failed the check (no wall timing to size them by). */
const MIN_FAILING_RUNS = 5;

function sessionOptions(model: PeerModel | undefined, profileDir?: string): OrtSessionOptions {
  return {
    executionProviders: [{ name: 'webgpu' }],
    // Every input is an initializer: no optimizer pass may fold the node away (it is the thing measured).
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 3,
    // A node the WebGPU EP cannot take fails the session instead of running on the CPU unnoticed.
    extra: { session: { disable_cpu_ep_fallback: '1' } },
    ...(model?.gpuOutputs.length && {
      preferredOutputLocation: Object.fromEntries(model.gpuOutputs.map((name) => [name, 'gpu-buffer' as const])),
    }),
    ...(profileDir !== undefined && { enableProfiling: true, profileFilePrefix: join(profileDir, 'ort-profile') }),
  };
}

/** One run, its host thread treated as ours is while it waits for our kernels (ORT runs on it, and waits). */
async function runOnce(session: OrtSession): Promise<void> {
  const outputs = await waitForAdapter(session.run({}));
  for (const tensor of Object.values(outputs)) tensor.dispose();
}

function oneLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
}

async function withSession<T>(
  ort: OrtApi,
  graph: OnnxGraph,
  options: OrtSessionOptions,
  use: (session: OrtSession) => Promise<T>,
): Promise<T> {
  const session = await ort.createSession(encodeModel(graph), options);
  try {
    return await use(session);
  } finally {
    await session.release();
  }
}

/** Host wall time per run(), alternating the model and the identity model so both see the same moments. */
async function timeWall(ort: OrtApi, model: PeerModel, rule: StoppingRule): Promise<{ runMs: number[]; overheadMs: number[] }> {
  return withSession(ort, model.graph, sessionOptions(model), (session) =>
    withSession(ort, model.identity, sessionOptions(undefined), async (identity) => {
      for (let i = 0; i < WARMUP_RUNS; i++) {
        await runOnce(session);
        await runOnce(identity);
      }
      const runMs: number[] = [];
      const overheadMs: number[] = [];
      const start = performance.now();
      while (!shouldStop(rule, { samples: runMs, elapsedMs: performance.now() - start })) {
        let t = performance.now();
        await runOnce(session);
        runMs.push(performance.now() - t);
        t = performance.now();
        await runOnce(identity);
        overheadMs.push(performance.now() - t);
      }
      return { runMs, overheadMs };
    }),
  );
}

/** ORT's own per-kernel GPU timestamps over `runs` runs of a profiled session (warm-up runs dropped). */
async function timeKernels(ort: OrtApi, model: PeerModel, runs: number): Promise<KernelSeries> {
  const dir = mkdtempSync(join(tmpdir(), 'mla-bench-ort-'));
  try {
    await withSession(ort, model.graph, sessionOptions(model, dir), async (session) => {
      for (let i = 0; i < WARMUP_RUNS + runs; i++) await runOnce(session);
      session.endProfiling();
    });
    const file = readdirSync(dir).find((name) => name.endsWith('.json'));
    if (!file) throw new Error('ORT wrote no profile');
    const all = splitRuns(kernelEvents(JSON.parse(readFileSync(join(dir, file), 'utf8'))), WARMUP_RUNS + runs);
    return kernelSeries(all.slice(WARMUP_RUNS));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every compared output of one run, on the host as f32 values. */
async function outputValues(ort: OrtApi, model: PeerModel): Promise<Map<string, Float32Array>> {
  return withSession(ort, model.graph, sessionOptions(model), async (session) => {
    const outputs = await session.run({});
    try {
      return new Map(
        model.outputs.map((name) => {
          const data = outputs[name]?.data;
          if (data instanceof Float32Array) return [name, Float32Array.from(data)];
          if (data instanceof Uint16Array) return [name, fromF16Array(data)];
          throw new Error(`ORT returned no ${name} on the host`);
        }),
      );
    } finally {
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
  });
}

/** Each checked output against its float64 reference; passed only where all pass. */
async function checkOutputs(ort: OrtApi, caseModel: CaseModel): Promise<{ passed: boolean; checks: CheckResult[] }> {
  const values = await outputValues(ort, caseModel.model);
  const checks = caseModel.outputs.map(({ output, check, asChecked }) => checkPeerOutput(check, asChecked(values.get(output)!)));
  return { passed: checks.every((c) => c.passed), checks };
}

const series = (samplesMs: number[]) => ({ stats: summarize(samplesMs), samplesMs });

/** The operator's kernels, the rest, and each program's statistics, from the profiled runs. */
function kernelSummary(kernels: KernelSeries): PeerOk['kernels'] {
  const hasBeyond = kernels.programs.some((program) => kernelRole(program) === 'beyond');
  return {
    operator: series(kernels.operatorMs),
    beyond: hasBeyond ? series(kernels.beyondMs) : null,
    programs: kernels.programs.map((program, i) => ({
      program,
      role: kernelRole(program),
      stats: summarize(kernels.perKernelMs[i] as number[]),
    })),
  };
}

/** ONNX Runtime's WebGPU execution provider (onnxruntime-node, its own Dawn) on the case's adapter. */
export class OnnxRuntimePeer implements Peer {
  readonly name = 'onnxruntime' as const;
  /** How ORT's adapter was tied to the case's (set on the first visit, before ORT's Dawn starts). */
  adapterNote: string | undefined;
  private constructor(
    private readonly ort: OrtApi,
    readonly version: string,
  ) {}

  static async open(): Promise<OnnxRuntimePeer> {
    const ort = await loadOnnxRuntime();
    return new OnnxRuntimePeer(ort, ort.version);
  }

  /** One visit: each target of the case (the case, or its GEMM stages one by one), checked where new, then timed. */
  async visit(input: PeerCase, options: PeerVisitOptions): Promise<PeerResult[]> {
    const results: PeerResult[] = [];
    for (const target of peerTargets(input)) {
      const previous = options.previous(target.stage);
      const stage = target.stage === undefined ? {} : { stage: target.stage };
      if (previous?.status === 'numerics-failed' && previous.failingKernels && target.result.kind === 'model') {
        // Never a result again: this visit's kernel times only, pooled by nextPeerEntry.
        const failingKernels = await this.timeFailingKernels(target.result.caseModel.model, input);
        const { failingKernels: _earlier, ...entry } = previous;
        results.push(failingKernels ? { ...entry, failingKernels } : entry);
      } else if (previous && previous.status !== 'ok') results.push(previous);
      else results.push({ ...(await this.visitTarget(target.result, input, !previous)), ...stage });
    }
    return results;
  }

  private async visitTarget(built: CaseModelResult, input: PeerCase, check: boolean): Promise<PeerResult> {
    const base = { peer: this.name, version: this.version };
    if (built.kind === 'unsupported') return { ...base, status: 'unsupported', reason: built.reason };
    const adapter = (this.adapterNote ??= pinPeerAdapter(input.adapter));
    const { model } = built.caseModel;
    const operator = model.operator;
    try {
      let numerics = { passed: true, checks: [] as CheckResult[] };
      if (check) {
        numerics = await checkOutputs(this.ort, built.caseModel);
        if (!numerics.passed) {
          const failingKernels = await this.timeFailingKernels(model, input);
          return { ...base, operator, status: 'numerics-failed', adapter, numerics, ...(failingKernels && { failingKernels }) };
        }
      }
      const wall = await timeWall(this.ort, model, input.rule);
      const kernels = await timeKernels(this.ort, model, Math.min(MAX_PROFILED_RUNS, Math.max(input.rule.minSamples, wall.runMs.length)));
      const run = series(wall.runMs);
      const overhead = series(wall.overheadMs);
      const summary = kernelSummary(kernels);
      return {
        ...base,
        operator,
        status: 'ok',
        adapter,
        numerics,
        kernels: summary,
        wall: { run, overhead, netMedianMs: run.stats.median - overhead.stats.median },
        visits: 1,
        visitMedians: [{ kernelMs: summary.operator.stats.median, wallMs: run.stats.median - overhead.stats.median }],
      };
    } catch (error) {
      return { ...base, operator, status: 'error', message: oneLine(error) };
    }
  }

  /** The kernels of a model whose output failed the check, timed anyway: data about them, never a result. */
  private async timeFailingKernels(model: PeerModel, input: PeerCase): Promise<PeerFailingKernels | null> {
    try {
      const runs = Math.min(MAX_PROFILED_RUNS, Math.max(input.rule.minSamples, MIN_FAILING_RUNS));
      const summary = kernelSummary(await timeKernels(this.ort, model, runs));
      return { ...summary, visitMediansMs: [summary.operator.stats.median] };
    } catch {
      return null;
    }
  }
}
