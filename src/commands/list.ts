import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../cli/base.js';
import { expandAxis, parseAxisOverride, type PlannedCase } from '../suites/expand.js';
import { builtInSuiteNames, loadSuite, planSuite } from '../suites/registry.js';
import { PROFILES, hasOwnKey, type AxisValue, type Profile } from '../suites/schema.js';

export interface ListedSuite {
  name: string;
  description: string;
  family: string;
  axes: Record<string, AxisValue[]>;
  cases: number;
  skipped: number;
}

export interface ListResult {
  profile: Profile;
  suites: ListedSuite[];
  cases?: PlannedCase[];
}

export default class List extends BaseCommand {
  static override summary = 'List the built-in suites and their axes, or the cases one suite expands to.';
  static override description =
    'Without a GPU: `auto` resolves to quick on software adapters and standard on GPUs at run time; here it shows standard unless --profile says otherwise.';
  static override examples = ['<%= config.bin %> list', '<%= config.bin %> list calibration --profile quick', '<%= config.bin %> list calibration -a mib=8,16'];
  static override args = { suite: Args.string({ description: 'suite name or path to a suite .json: list its cases' }) };
  static override flags = {
    profile: Flags.string({ description: 'size profile', options: [...PROFILES], default: 'standard' }),
    axis: Flags.string({ char: 'a', description: 'override an axis: name=v1,v2 | name=start:stop[:step] | name=pow2:from:to', multiple: true }),
    filter: Flags.string({ description: 'keep cases whose key contains this text, or that match every axis=value in it' }),
    dtype: Flags.string({ description: 'storage types to run', options: ['f32', 'f16'], multiple: true }),
  };

  async run(): Promise<ListResult> {
    const { args, flags } = await this.parse(List);
    const profile = flags.profile as Profile;
    const overrides = (flags.axis ?? []).map(parseAxisOverride);
    const names = args.suite ? [args.suite] : builtInSuiteNames();
    const suites = names.map((name) => loadSuite(name));
    const listed: ListedSuite[] = [];
    let cases: PlannedCase[] | undefined;
    for (const suite of suites) {
      const own = overrides.filter((o) => hasOwnKey(suite.axes, o.axis));
      const planned = planSuite(suite, {
        profile,
        overrides: args.suite ? overrides : own,
        ...(flags.filter && { filter: flags.filter }),
        ...(flags.dtype && { dtypes: flags.dtype }),
      });
      const axes: Record<string, AxisValue[]> = {};
      for (const [name, spec] of Object.entries({ ...suite.axes, ...suite.profiles?.[profile]?.axes })) axes[name] = expandAxis(spec);
      for (const o of own) axes[o.axis] = o.values;
      listed.push({
        name: suite.name,
        description: suite.description,
        family: suite.family,
        axes,
        cases: planned.length,
        skipped: planned.filter((c) => c.skip).length,
      });
      if (args.suite) cases = planned;
    }
    if (!this.jsonEnabled()) {
      for (const suite of listed) {
        this.log(`${suite.name} (${suite.cases} cases${suite.skipped ? `, ${suite.skipped} skipped by rule` : ''}, profile ${profile})`);
        this.log(`  ${suite.description}`);
        for (const [name, values] of Object.entries(suite.axes)) this.log(`  ${name}: ${values.join(', ')}`);
      }
      if (cases) {
        this.log('');
        for (const planned of cases) this.log(`  ${planned.key}${planned.skip ? `  (skipped: ${planned.skip})` : ''}`);
      }
    }
    return { profile, suites: listed, ...(cases && { cases }) };
  }
}
