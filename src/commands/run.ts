import { Flags } from '@oclif/core';
import { BaseCommand, gpuFlags, gpuOptionsFrom } from '../cli/base.js';
import { profileFlag, suitesArg } from '../cli/selection.js';
import { progressHooks, progressStyle } from '../cli/progress.js';
import { positive, samplingFlags, samplingFrom } from '../cli/sampling.js';
import { UserError } from '../errors.js';
import { DEFAULT_MEMORY_BUDGET_GB } from '../report/mla.js';
import { renderResults } from '../report/table.js';
import { latestJournal } from '../results/store.js';
import type { ResultFile } from '../results/schema.js';
import { DEFAULT_BUDGET_MS, MIN_BUDGET_MS, NO_BUDGET, formatBudget, parseBudget } from '../run/budget.js';
import {
  DEFAULT_RUN_OPTIONS,
  MAX_VISITS,
  resumeBenchmarks,
  runBenchmarks,
  type RequestedProfile,
  type RunHooks,
  type RunOutcome,
} from '../run/runner.js';
import { parseTuningRequest } from '../run/tuning.js';
import { parsePeerNames } from '../peer/registry.js';
import { PEER_NAMES } from '../peer/types.js';

export interface RunResult {
  resultsPath: string;
  results: ResultFile;
}

/** Flags that apply to a resumed run; every other one is part of the interrupted run's recorded settings. */
const RESUME_FLAGS = new Set([
  'resume',
  'journal',
  'out',
  'force',
  'save-tensors',
  'results-dir',
  'memory-budget',
  'budget',
  'json',
  'verbose',
]);

export default class Run extends BaseCommand {
  static override summary = 'Run benchmark suites: every case checked against a float64 reference, then timed on the GPU.';
  static override description = `With no suite, runs every built-in suite. The calibration suite always runs first: its ceilings (copy/read GB/s, f32/f16 FMA GFLOP/s, dispatch overhead) are what every other case is reported against.
Takes 10 minutes by default on any adapter (--budget): on a software adapter the quick profile, which fits; on a GPU the standard profile's headline cases, then as much of the rest as fits, breadth-first. Cases the budget has no room for are recorded as left out. --budget none runs every case at its full stopping rule.
Results go to results/<date>-<device>.json; a journal beside it keeps every finished case, so an interrupted run loses nothing and --resume completes it.`;
  static override examples = [
    '<%= config.bin %> run',
    '<%= config.bin %> run --budget 3m',
    '<%= config.bin %> run attention-decode --budget none',
    '<%= config.bin %> run calibration --profile quick',
    '<%= config.bin %> run calibration -a mib=8,32 --filter kernel=copy',
    '<%= config.bin %> run attention-decode attention-prefill --peer onnxruntime',
    '<%= config.bin %> run --resume',
    '<%= config.bin %> run attention-decode --tuning none',
    '<%= config.bin %> run attention-decode --tune --budget 20m',
  ];
  static override strict = false;
  static override args = {
    suites: suitesArg,
  };
  static override flags = {
    profile: profileFlag,
    budget: Flags.string({
      char: 'b',
      description: `wall time for the whole run (45s, 10m, 1h30m; at least ${MIN_BUDGET_MS / 1e3}s), or none: calibration first, then the headline cases, then the rest breadth-first, each case sampling its share; what does not fit is recorded as left out. Default ${formatBudget({ kind: 'bounded', ms: DEFAULT_BUDGET_MS })} on any adapter (the quick profile fits it on lavapipe); with --resume, the interrupted run's own budget again`,
      default: formatBudget({ kind: 'bounded', ms: DEFAULT_BUDGET_MS }),
    }),
    axis: Flags.string({
      char: 'a',
      description: 'override an axis: name=v1,v2 | name=start:stop[:step] | name=pow2:from:to',
      multiple: true,
    }),
    filter: Flags.string({ description: 'keep cases whose key contains this text, or that match every axis=value in it' }),
    dtype: Flags.string({ description: 'storage types to run (suites with a dtype axis)', options: ['f32', 'f16'], multiple: true }),
    out: Flags.string({
      char: 'o',
      description: 'results file (default: results/<date>-<device>.json); with --resume, where the finished results go',
    }),
    force: Flags.boolean({ description: "discard an unfinished run's journal at --out, or replace a finished results file there" }),
    'results-dir': Flags.string({ description: 'folder for results and journals', default: DEFAULT_RUN_OPTIONS.resultsDir }),
    resume: Flags.boolean({ description: 'finish an interrupted run: the newest journal in --results-dir, or --journal' }),
    journal: Flags.string({ description: 'journal of the interrupted run to resume (*.journal.jsonl)', dependsOn: ['resume'] }),
    ...samplingFlags,
    seed: Flags.integer({ description: 'seed of the generated inputs', default: DEFAULT_RUN_OPTIONS.seed }),
    visits: Flags.integer({
      description:
        "visits per case: every case's first, then every case's second, ...; each samples a share of the case's time budget, and the samples are pooled, so a machine drifting over minutes shows in every case",
      default: DEFAULT_RUN_OPTIONS.visits,
      min: 1,
      max: MAX_VISITS,
      helpGroup: 'SAMPLING',
    }),
    'memory-budget': Flags.string({
      description: 'GB of memory for the KV-cache capacity table (kv-cache suite): the longest context that fits',
      default: String(DEFAULT_MEMORY_BUDGET_GB),
    }),
    peer: Flags.string({
      description: `run a peer runtime beside every case with a matching operator (${PEER_NAMES.join(', ')}): same shape, dtype, adapter and float64 reference, timed in the same visits; optional, installed with \`node scripts/install-peer.mjs NAME\` (see docs/peer.md)`,
      multiple: true,
    }),
    tuning: Flags.string({
      description:
        "tuning file to build the cases with: auto = this adapter's file in the tuning cache where there is one (see `mla-bench tune`), none = every kernel's default plan, or a file; a corrupt or foreign file is a warning and the defaults",
      default: 'auto',
    }),
    tune: Flags.boolean({
      description: `tune the run's cases first (half of --budget), into the --tuning file (auto: the tuning cache), then run them with it`,
    }),
    'save-tensors': Flags.string({
      description: "write each checked case's inputs, outputs and references as .npy files with an index.json",
    }),
    ...gpuFlags,
  };

  async run(): Promise<RunResult> {
    const { argv, flags, metadata } = await this.parse(Run);
    if (flags.resume) {
      const given = Object.keys(flags).filter((name) => !RESUME_FLAGS.has(name) && metadata.flags[name]?.setFromDefault !== true);
      if (given.length)
        throw new UserError(`--resume finishes the interrupted run with its own settings: --${given[0]} cannot change them`);
    }
    const suites = argv as string[];
    const memoryBudgetGB = positive(flags['memory-budget'], '--memory-budget');
    // A resumed run gets its own recorded budget again unless --budget says otherwise.
    const budget = flags.resume && metadata.flags['budget']?.setFromDefault ? undefined : parseBudget(flags.budget);
    const style = progressStyle(this.jsonEnabled(), Boolean(process.stdout.isTTY), process.env);
    const progress = progressHooks(style, { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
    let journal: string | undefined;
    const hooks: RunHooks = {
      ...progress,
      onWarning: (line) => this.warnLine(line),
      onStart: (info) => {
        journal = info.journalPath;
        progress.onStart?.(info);
      },
    };
    const interrupt = (): void => {
      const how = journal ? `finish with \`mla-bench run --resume --journal ${journal}\`` : 'nothing was measured yet';
      process.stderr.write(`\ninterrupted: every finished case is in the journal; ${how}\n`);
      process.exit(130);
    };
    process.once('SIGINT', interrupt);
    process.once('SIGTERM', interrupt);
    let outcome: RunOutcome;
    const saveTensors = flags['save-tensors'] ? { saveTensors: flags['save-tensors'] } : {};
    try {
      if (flags.resume) {
        if (suites.length) throw new UserError('--resume takes no suites: it finishes the plan of the interrupted run');
        const journalFile = flags.journal ?? latestJournal(flags['results-dir']);
        if (!journalFile) throw new UserError(`no interrupted run to resume in ${flags['results-dir']}/ (no *.journal.jsonl)`);
        outcome = await resumeBenchmarks(
          journalFile,
          { ...saveTensors, ...(flags.out && { out: flags.out }), force: flags.force, ...(budget && { budget }) },
          hooks,
        );
      } else {
        outcome = await runBenchmarks(
          {
            ...DEFAULT_RUN_OPTIONS,
            suites,
            profile: flags.profile as RequestedProfile,
            overrides: flags.axis ?? [],
            ...(flags.filter && { filter: flags.filter }),
            ...(flags.dtype && { dtypes: flags.dtype as ('f32' | 'f16')[] }),
            ...samplingFrom(flags),
            seed: flags.seed,
            visits: flags.visits,
            gpu: gpuOptionsFrom(flags),
            ...(flags.out && { out: flags.out }),
            resultsDir: flags['results-dir'],
            force: flags.force,
            budget: budget ?? NO_BUDGET,
            peers: parsePeerNames(flags.peer ?? []),
            tuning: parseTuningRequest(flags.tuning),
            tune: flags.tune,
            ...saveTensors,
          },
          hooks,
        );
      }
    } finally {
      process.removeListener('SIGINT', interrupt);
      process.removeListener('SIGTERM', interrupt);
    }
    if (!this.jsonEnabled()) {
      this.log(renderResults(outcome.results, { memoryBudgetGB }));
      this.log(`\nresults: ${outcome.resultsPath}`);
    }
    return { resultsPath: outcome.resultsPath, results: outcome.results };
  }
}
