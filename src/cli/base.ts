import { Command, Errors, Flags } from '@oclif/core';
import { UserError } from '../errors.js';
import { BACKENDS, POWER_PREFERENCES, type Backend, type GpuOptions, type PowerPreference } from '../core/gpu-options.js';
import { terminalText } from '../report/sanitize.js';

export const gpuFlags = {
  adapter: Flags.string({ description: 'use the adapter whose name contains this text (see `mla-bench info`)', helpGroup: 'GPU' }),
  backend: Flags.string({ description: 'graphics API Dawn runs on', options: [...BACKENDS], helpGroup: 'GPU' }),
  'power-preference': Flags.string({ description: 'adapter power preference', options: [...POWER_PREFERENCES], helpGroup: 'GPU' }),
  robustness: Flags.boolean({
    description: 'bounds-check buffer accesses in shaders (Dawn default); --no-robustness measures without it',
    default: true,
    allowNo: true,
    helpGroup: 'GPU',
  }),
};

export function gpuOptionsFrom(flags: {
  adapter?: string;
  backend?: string;
  'power-preference'?: string;
  robustness?: boolean;
}): GpuOptions {
  return {
    adapter: flags.adapter ?? null,
    backend: (flags.backend as Backend | undefined) ?? null,
    powerPreference: (flags['power-preference'] as PowerPreference | undefined) ?? null,
    robustness: flags.robustness !== false,
  };
}

/** Every command: --json (typed data), --verbose (Dawn's own output and stacks), one-line errors. */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    verbose: Flags.boolean({ description: "show Dawn's and the driver's own messages, and stack traces on errors", helpGroup: 'GLOBAL' }),
  };

  /** Human output: strings from results files (device names, keys, messages) never send escapes to the terminal. */
  override log(message = '', ...args: unknown[]): void {
    super.log(terminalText(message), ...args);
  }

  override logToStderr(message = '', ...args: unknown[]): void {
    super.logToStderr(terminalText(message), ...args);
  }

  /**
   * A one-line warning on stderr, also under --json. Not oclif's `warn`: its `Warning: ` prefix is what the stderr
   * filter drops as Dawn's native chatter (launch.ts).
   */
  protected warnLine(line: string): void {
    process.stderr.write(`warning: ${terminalText(line).replace(/\s*\n\s*/g, ' ')}\n`);
  }

  protected get verbose(): boolean {
    return this.argv.includes('--verbose');
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (error instanceof Errors.ExitError) throw error;
    const usage =
      error instanceof UserError ||
      error.oclif?.exit === 2 ||
      /^(Unexpected argument|Expected|Nonexistent flag|Missing required|--)/.test(error.message);
    const message = `${oneLineMessage(error)}${usage && !(error instanceof UserError) ? ' (see --help)' : ''}`;
    const exitCode = usage ? 2 : 1;
    // oclif's logToStderr is silent under --json; an error must reach the user either way.
    process.stderr.write(`Error: ${terminalText(message)}\n`);
    if (this.jsonEnabled()) this.logJson({ error: { message, exitCode } });
    if (this.verbose && error.stack && !(error instanceof UserError)) process.stderr.write(`${error.stack}\n`);
    else if (!usage) process.stderr.write('(run with --verbose for details)\n');
    return this.exit(exitCode);
  }
}

/**
 * The error's first line; oclif's flag-parse errors put the reason on the next one
 * ("Parsing --min-time \n\tExpected an integer but received: 0.3"), so that is joined on.
 */
export function oneLineMessage(error: Error): string {
  const lines = error.message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/^See more help/.test(line));
  const [first = String(error), second] = lines;
  // "Missing 2 required args:" is followed by one "name  description" line per argument.
  if (/^Missing \d+ required args?:$/.test(first)) {
    const names: string[] = [];
    for (const line of error.message.split('\n').slice(1)) {
      const arg = /^(\S+)\s{2,}\S/.exec(line);
      if (!arg) break;
      names.push(arg[1]!);
    }
    if (names.length) return `${first} ${names.join(', ')}`;
  }
  return /^Parsing --\S+$/.test(first) && second !== undefined ? `${first}: ${second}` : first;
}
