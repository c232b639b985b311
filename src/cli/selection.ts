import { Args, Flags } from '@oclif/core';
import { PROFILES } from '../suites/schema.js';

/** The suites argument of the commands that select cases (run, tune). */
export const suitesArg = Args.string({ description: 'suite names or paths to suite .json files (default: all built-in suites)' });

/** The size profile flag of the commands that select cases (run, tune). */
export const profileFlag = Flags.string({
  char: 'p',
  description: 'size profile; auto = quick on a software/fallback adapter, standard on a GPU',
  options: ['auto', ...PROFILES],
  default: 'auto',
});
