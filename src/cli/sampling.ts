import { Flags } from '@oclif/core';
import { UserError } from '../errors.js';
import { DEFAULT_STOPPING_RULE, type StoppingRule } from '../measure/stopping.js';
import { DEFAULT_RUN_OPTIONS } from '../run/runner.js';

/** Samples a case may keep: each is kept in memory and in the results file. */
const MAX_SAMPLES = 1_000_000;

/** The stopping rule and sample sizing, shared by `run` and `profile`; every count bounded. */
export const samplingFlags = {
  mode: Flags.string({
    description: 'batch: N back-to-back repeats per sample (warm caches); cold: one repeat after evicting caches',
    options: ['batch', 'cold'],
    default: 'batch',
  }),
  'min-samples': Flags.integer({
    description: 'samples before the noise rule may stop a case',
    default: DEFAULT_STOPPING_RULE.minSamples,
    min: 1,
    max: MAX_SAMPLES,
    helpGroup: 'SAMPLING',
  }),
  'max-samples': Flags.integer({
    description: 'samples after which a case stops regardless',
    default: DEFAULT_STOPPING_RULE.maxSamples,
    min: 1,
    max: MAX_SAMPLES,
    helpGroup: 'SAMPLING',
  }),
  'max-noise': Flags.string({
    description: 'stop once the 95% CI of the median is within this many percent',
    default: String(DEFAULT_STOPPING_RULE.maxRelNoise * 100),
    helpGroup: 'SAMPLING',
  }),
  'min-time': Flags.integer({
    description: 'milliseconds of sampling before the noise rule may stop a case',
    default: DEFAULT_STOPPING_RULE.minTimeMs,
    min: 0,
    max: 3_600_000,
    helpGroup: 'SAMPLING',
  }),
  timeout: Flags.integer({
    description: 'seconds of sampling per case at most (shared among its stages when they are timed on their own)',
    default: DEFAULT_STOPPING_RULE.timeoutMs / 1e3,
    min: 1,
    max: 86_400,
    helpGroup: 'SAMPLING',
  }),
  'sample-ms': Flags.string({
    description: 'batch mode: target duration of one sample in ms (sets N)',
    default: String(DEFAULT_RUN_OPTIONS.targetSampleMs),
    helpGroup: 'SAMPLING',
  }),
  warmup: Flags.integer({
    description: 'warm-up samples per case',
    default: DEFAULT_RUN_OPTIONS.warmupSamples,
    min: 0,
    max: 1000,
    helpGroup: 'SAMPLING',
  }),
};

export interface SamplingFlagValues {
  mode: string;
  'min-samples': number;
  'max-samples': number;
  'max-noise': string;
  'min-time': number;
  timeout: number;
  'sample-ms': string;
  warmup: number;
}

export function samplingFrom(flags: SamplingFlagValues): {
  mode: 'batch' | 'cold';
  rule: StoppingRule;
  targetSampleMs: number;
  warmupSamples: number;
} {
  return {
    mode: flags.mode as 'batch' | 'cold',
    rule: {
      minSamples: flags['min-samples'],
      maxSamples: flags['max-samples'],
      maxRelNoise: positive(flags['max-noise'], '--max-noise', 100) / 100,
      minTimeMs: flags['min-time'],
      timeoutMs: flags.timeout * 1e3,
    },
    targetSampleMs: positive(flags['sample-ms'], '--sample-ms', 10_000),
    warmupSamples: flags.warmup,
  };
}

export function positive(text: string, flag: string, max = Number.MAX_VALUE): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UserError(`${flag} must be a positive number, got "${text}"`);
  if (value > max) throw new UserError(`${flag} must be at most ${max}, got "${text}"`);
  return value;
}
