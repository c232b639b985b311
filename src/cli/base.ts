import { Command, Errors, Flags } from '@oclif/core';
import { UserError } from '../errors.js';
import { BACKENDS, type GpuOptions } from '../gpu/device.js';

export const gpuFlags = {
  adapter: Flags.string({ description: 'use the adapter whose name contains this text (see `mla-bench info`)', helpGroup: 'GPU' }),
  backend: Flags.string({ description: 'graphics API Dawn runs on', options: [...BACKENDS], helpGroup: 'GPU' }),
  'power-preference': Flags.string({ description: 'adapter power preference', options: ['low-power', 'high-performance'], helpGroup: 'GPU' }),
  robustness: Flags.boolean({
    description: 'bounds-check buffer accesses in shaders (Dawn default); --no-robustness measures without it',
    default: true,
    allowNo: true,
    helpGroup: 'GPU',
  }),
};

export function gpuOptionsFrom(flags: { adapter?: string; backend?: string; 'power-preference'?: string; robustness?: boolean }): GpuOptions {
  return {
    ...(flags.adapter && { adapter: flags.adapter }),
    ...(flags.backend && { backend: flags.backend as GpuOptions['backend'] }),
    ...(flags['power-preference'] && { powerPreference: flags['power-preference'] as GpuOptions['powerPreference'] }),
    robustness: flags.robustness !== false,
  };
}

/** Every command: --json (typed data), --verbose (Dawn's own output and stacks), one-line errors. */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    verbose: Flags.boolean({ description: "show Dawn's and the driver's own messages, and stack traces on errors", helpGroup: 'GLOBAL' }),
  };

  protected get verbose(): boolean {
    return this.argv.includes('--verbose');
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error;
    const usage = error instanceof UserError || error.oclif?.exit === 2 || /^(Unexpected argument|Expected|Nonexistent flag|Missing required|--)/.test(error.message);
    this.logToStderr(`Error: ${oneLineMessage(error)}${usage && !(error instanceof UserError) ? ' (see --help)' : ''}`);
    if (this.verbose && error.stack && !(error instanceof UserError)) this.logToStderr(error.stack);
    else if (!usage) this.logToStderr('(run with --verbose for details)');
    return this.exit(usage ? 2 : 1);
  }
}

/**
 * The error's first line; oclif's flag-parse errors put the reason on the next one
 * ("Parsing --min-time \n\tExpected an integer but received: 0.3"), so that is joined on.
 */
export function oneLineMessage(error: Error): string {
  const lines = error.message.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/^See more help/.test(line));
  const [first = String(error), second] = lines;
  return /^Parsing --\S+$/.test(first) && second !== undefined ? `${first}: ${second}` : first;
}
