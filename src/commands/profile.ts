import { Args, Flags } from '@oclif/core';
import { BaseCommand, gpuFlags, gpuOptionsFrom } from '../cli/base.js';
import { samplingFlags, samplingFrom } from '../cli/sampling.js';
import { UserError } from '../errors.js';
import { captureCases, profileCase, type CaptureOutcome, type ProfiledCase } from '../profile/profiler.js';
import { renderCapture, renderProfile } from '../profile/render.js';
import { DEFAULT_RUN_OPTIONS, type RequestedProfile } from '../run/runner.js';
import { PROFILES } from '../suites/schema.js';

export default class Profile extends BaseCommand {
  static override summary = 'Profile one case: every stage timed on its own, end to end, compile, transfers, memory, and a Chrome trace.';
  static override description = `Selects one case of SUITE (with -a/--filter/--dtype, or --case KEY from a results file), calibrates the device, checks the case against its float64 reference, times it end to end and each stage on its own, then records a timeline with every stage in its own timestamped pass.
--trace FILE writes Chrome trace-event JSON (Perfetto, chrome://tracing): a track per stage with GPU times, host submit-to-done spans and GPU memory counters.
--capture runs every selected case once with no timestamp queries, for external GPU profilers (see docs/profiling.md).`;
  static override examples = [
    '<%= config.bin %> profile mla-decode -a form=absorbed --filter batch=1',
    '<%= config.bin %> profile attention-decode --case "attention-decode/phase=decode,variant=gqa,batch=1,context=1024,q_len=1,dtype=f32,tiling=rows" --trace gqa.trace.json',
    'nsys profile --trace=vulkan <%= config.bin %> profile mla-decode -a form=absorbed --filter batch=1 --capture',
  ];
  static override args = { suite: Args.string({ description: 'suite name or path to a suite .json file', required: true }) };
  static override flags = {
    profile: Flags.string({
      char: 'p',
      description: 'size profile the case is chosen from; auto = quick on a software adapter, standard on a GPU',
      options: ['auto', ...PROFILES],
      default: 'auto',
    }),
    axis: Flags.string({
      char: 'a',
      description: 'override an axis: name=v1,v2 | name=start:stop[:step] | name=pow2:from:to',
      multiple: true,
    }),
    filter: Flags.string({ description: 'keep cases whose key contains this text, or that match every axis=value in it' }),
    dtype: Flags.string({ description: 'storage type', options: ['f32', 'f16'], multiple: true }),
    case: Flags.string({ description: 'the case key, suite/axis=value,... (as in results files and `run` output)' }),
    trace: Flags.string({ description: 'write a Chrome trace-event JSON file (Perfetto / chrome://tracing)' }),
    capture: Flags.boolean({ description: 'run each selected case once, no timestamps: for RenderDoc / Nsight / Xcode captures' }),
    iterations: Flags.integer({
      description: 'timeline iterations (each stage in its own timestamped pass)',
      default: 5,
      min: 1,
      max: 100,
    }),
    calibrate: Flags.boolean({
      description: 'measure the device ceilings first (for % of ceiling and the dispatch-overhead check)',
      default: true,
      allowNo: true,
    }),
    ...samplingFlags,
    seed: Flags.integer({ description: 'seed of the generated inputs', default: DEFAULT_RUN_OPTIONS.seed }),
    ...gpuFlags,
  };

  async run(): Promise<ProfiledCase | CaptureOutcome> {
    const { args, flags } = await this.parse(Profile);
    if (flags.capture && flags.trace) throw new UserError('--capture runs without timestamps: it cannot write a --trace');
    const options = {
      suite: args.suite,
      overrides: flags.axis ?? [],
      ...(flags.filter && { filter: flags.filter }),
      ...(flags.dtype && { dtypes: flags.dtype as ('f32' | 'f16')[] }),
      ...(flags.case && { caseKey: flags.case }),
      profile: flags.profile as RequestedProfile,
      gpu: gpuOptionsFrom(flags),
      ...samplingFrom(flags),
      seed: flags.seed,
      calibrate: flags.calibrate,
      timelineIterations: flags.iterations,
      ...(flags.trace && { trace: flags.trace }),
    };
    if (flags.capture) {
      const outcome = await captureCases(options);
      if (!this.jsonEnabled()) this.log(renderCapture(outcome));
      if (outcome.cases.some((c) => c.status === 'error' || c.status === 'numerics-failed')) process.exitCode = 1;
      return outcome;
    }
    const result = await profileCase(options);
    if (!this.jsonEnabled()) this.log(renderProfile(result));
    if (result.measurement.status !== 'ok') process.exitCode = 1;
    return result;
  }
}
