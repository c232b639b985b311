import { Flags } from '@oclif/core';
import { BaseCommand, gpuFlags, gpuOptionsFrom } from '../cli/base.js';
import { profileFlag, suitesArg } from '../cli/selection.js';
import { positive } from '../cli/sampling.js';
import { compactDuration } from '../util/duration.js';
import { DEFAULT_BUDGET_MS, formatBudget, MIN_TUNE_BUDGET_MS, parseBudget } from '../run/budget.js';
import { DEFAULT_RUN_OPTIONS, type RequestedProfile } from '../run/runner.js';
import { renderTune, formatSpeedup } from '../tune/render.js';
import { tuneBenchmarks, type TuneOutcome } from '../tune/benchmarks.js';
import { PER_CASE_UNBOUNDED_MS, type TuneRow } from '../tune/tuner.js';
import { describeKey } from '../tune/tuning-file.js';

function progressLine(index: number, total: number, row: TuneRow): string {
  const { result } = row;
  const seconds = `${(result.elapsedMs / 1e3).toFixed(0)}s`;
  const what =
    result.status === 'tuned'
      ? `tuned ${formatSpeedup(result.speedup)}`
      : result.status === 'default-kept'
        ? `defaults kept (${result.evaluated} configs)`
        : `${result.status}: ${result.reason}`;
  return `[${index + 1}/${total}] ${row.planned.key}: ${what}, ${seconds}`;
}

export default class Tune extends BaseCommand {
  static override summary = "Tune the kernels' plans for this adapter: search each case's legal configurations, keep the fastest.";
  static override description = `For each case of the suites (the same cases \`run\` would run, with -a, --filter, --dtype, --profile), enumerates the legal plans of each tunable slot (the attend, each GEMM stage, the MoE step) for the shape and the device's limits, checks every configuration against the float64 reference, and races them paired and alternating (coordinate descent over the plan's fields, successive halving within each); the result is kept only where fresh paired rounds find it faster than the defaults.
Writes the adapter's tuning file (human-readable JSON in the tuning cache, keyed by vendor, architecture, device, driver and mla-bench version; see docs/tuning.md), which \`run\` then uses (--tuning). Each case gets an equal share of what is left of --budget.`;
  static override examples = [
    '<%= config.bin %> tune attention-decode attention-prefill mla-decode',
    '<%= config.bin %> tune attention-decode -a batch=1,16 --budget 30m',
    '<%= config.bin %> tune gemm --filter op=up-project -o my-tuning.json',
  ];
  static override strict = false;
  static override args = {
    suites: suitesArg,
  };
  static override flags = {
    profile: profileFlag,
    budget: Flags.string({
      char: 'b',
      description: `wall time for the whole tune (45s, 10m, 1h30m), each case an equal share of what is left; none: ${PER_CASE_UNBOUNDED_MS / 1e3}s per case`,
      default: formatBudget({ kind: 'bounded', ms: DEFAULT_BUDGET_MS }),
    }),
    axis: Flags.string({
      char: 'a',
      description: 'override an axis: name=v1,v2 | name=start:stop[:step] | name=pow2:from:to',
      multiple: true,
    }),
    filter: Flags.string({ description: 'keep cases whose key contains this text, or that match every axis=value in it' }),
    dtype: Flags.string({ description: 'storage types to tune (suites with a dtype axis)', options: ['f32', 'f16'], multiple: true }),
    out: Flags.string({ char: 'o', description: "tuning file to write (default: this adapter's file in the tuning cache)" }),
    seed: Flags.integer({ description: 'seed of the generated inputs', default: DEFAULT_RUN_OPTIONS.seed }),
    'sample-ms': Flags.string({
      description: 'target duration of one sample in ms (sets the repeats per sample)',
      default: String(DEFAULT_RUN_OPTIONS.targetSampleMs),
    }),
    ...gpuFlags,
  };

  async run(): Promise<TuneOutcome> {
    const { argv, flags } = await this.parse(Tune);
    const started = performance.now();
    const outcome = await tuneBenchmarks(
      {
        suites: argv as string[],
        profile: flags.profile as RequestedProfile,
        overrides: flags.axis ?? [],
        ...(flags.filter && { filter: flags.filter }),
        ...(flags.dtype && { dtypes: flags.dtype as ('f32' | 'f16')[] }),
        seed: flags.seed,
        targetSampleMs: positive(flags['sample-ms'], '--sample-ms', 10_000),
        budget: parseBudget(flags.budget, MIN_TUNE_BUDGET_MS),
        gpu: gpuOptionsFrom(flags),
        ...(flags.out && { out: flags.out }),
        ...(this.verbose && { trace: (line: string) => process.stderr.write(`${line}\n`) }),
      },
      this.jsonEnabled() ? {} : { onCaseEnd: (index, total, row) => process.stderr.write(`${progressLine(index, total, row)}\n`) },
    );
    for (const warning of outcome.warnings) this.warnLine(warning);
    if (!this.jsonEnabled()) {
      this.log(renderTune(outcome.rows));
      this.log(`\ntuned on ${describeKey(outcome.key)} in ${compactDuration(performance.now() - started)}`);
      this.log(`tuning file: ${outcome.path}`);
    }
    return outcome;
  }
}
