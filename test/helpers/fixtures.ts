import { summarize } from '../../src/measure/statistics.js';
import {
  RESULTS_SCHEMA_ID,
  RESULTS_SCHEMA_VERSION,
  type Measurement,
  type ResultFile,
  type ResultHeader,
} from '../../src/results/schema.js';

export function headerFixture(): ResultHeader {
  return {
    schema: RESULTS_SCHEMA_ID,
    schemaVersion: RESULTS_SCHEMA_VERSION,
    tool: { name: 'mla-bench', version: '0.0.0', gitSha: null },
    createdAt: '2026-01-01T00:00:00.000Z',
    environment: {
      adapter: {
        vendor: 'test',
        architecture: 'fixture',
        device: 'fixture-gpu',
        description: 'Fixture GPU',
        backend: 'vulkan',
        isFallbackAdapter: false,
        features: ['timestamp-query'],
        limits: { maxBufferSize: 1024 },
      },
      device: { features: ['timestamp-query'], limits: { maxBufferSize: 1024 } },
      toggles: { enabled: ['vulkan_enable_f16_on_nvidia'], disabled: ['timestamp_quantization'] },
      robustness: true,
      hostThreadNice: null,
      hostWait: 'spin',
      node: 'v20',
      dawn: 'webgpu@0',
      os: { platform: 'linux', release: '6', arch: 'x64' },
      cpu: { model: 'cpu', cores: 2 },
      memoryBytes: 1,
    },
    config: {
      suites: ['calibration'],
      profile: 'quick',
      requestedProfile: 'auto',
      overrides: [],
      filter: null,
      dtypes: null,
      mode: 'batch',
      rule: { minSamples: 10, maxSamples: 100, maxRelNoise: 0.01, minTimeMs: 0, timeoutMs: 1000 },
      targetSampleMs: 2,
      warmupSamples: 1,
      seed: 1,
      visits: 1,
      budget: null,
      plan: null,
      peers: [],
      tuning: null,
      gpu: { adapter: null, backend: null, powerPreference: null, robustness: true },
    },
  };
}

export function okFixture(key: string, samplesMs: number[]): Measurement {
  const stats = summarize(samplesMs);
  return {
    key,
    suite: 'calibration',
    family: 'calibration',
    params: { kernel: 'copy', mib: 1 },
    status: 'ok',
    dtype: 'f32',
    work: { flops: 0, bytesRead: 1e6, bytesWritten: 1e6 },
    timing: {
      mode: 'batch',
      timer: 'timestamp',
      repeats: 4,
      dispatches: 1,
      stopReason: 'converged',
      elapsedMs: 10,
      gpu: stats,
      wall: stats,
      samplesMs,
      wallSamplesMs: samplesMs,
    },
    rates: { gflops: 0, gbps: 2, intensity: 0, memoryFraction: 1, computeFraction: null, bound: 'memory' },
    memory: {
      peakBytes: 2e6,
      peakByRole: { weights: 0, 'kv-cache': 0, activations: 2e6, scratch: 0 },
      maxByRole: { weights: 0, 'kv-cache': 0, activations: 2e6, scratch: 0 },
    },
    numerics: {
      passed: true,
      checks: [
        {
          buffer: 'dst',
          passed: true,
          checked: 4,
          mismatches: 0,
          maxAbsError: 0,
          maxRelError: 0,
          normRelError: 0,
          worstIndex: 0,
          worstActual: 1,
          worstExpected: 1,
          tolerance: { atol: 0, rtol: 0 },
        },
      ],
    },
    transfers: { uploadBytes: 1, uploadMs: 1, readbackBytes: 1, readbackMs: 1 },
    compileMs: { 'copy.wgsl:main': 1 },
    ceiling: 'copy',
  };
}

export function resultFixture(cases: Measurement[] = [okFixture('calibration/kernel=copy,mib=1', [1, 1.1, 0.9, 1.05])]): ResultFile {
  return {
    ...headerFixture(),
    finishedAt: '2026-01-01T00:01:00.000Z',
    ceilings: { copyGBs: 2, readGBs: null, fmaF32Gflops: null, fmaF16Gflops: null, dispatchUs: null },
    cases,
  };
}

/** A case of an untimed suite: the fixture's check, memory and work, no timing or rates. */
export function checkedFixture(key: string): Measurement {
  const ok = okFixture(key, [1]);
  if (ok.status !== 'ok') throw new Error('unreachable');
  const { timing: _timing, rates: _rates, ceiling: _ceiling, ...rest } = ok;
  return { ...rest, status: 'checked' };
}

/**
 * The same results as a budgeted run that had no room for the cases `leftOut` picks: those become status
 * `left-out`, and the config records the budget.
 */
export function withLeftOut(results: ResultFile, leftOut: (m: Measurement) => boolean, budgetMs = 600_000): ResultFile {
  return {
    ...results,
    config: { ...results.config, budget: { ms: budgetMs } },
    cases: results.cases.map((m) =>
      leftOut(m) ? { key: m.key, suite: m.suite, family: m.family, params: m.params, status: 'left-out', reason: 'budget' } : m,
    ),
  };
}
