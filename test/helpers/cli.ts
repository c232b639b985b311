import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const BIN = join(ROOT, 'bin', 'run.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The real CLI, as a user runs it (compiled, through bin/run.js and its stderr filter). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}

/** Flags that make a calibration run take seconds: tiny buffers and a lax stopping rule. */
export function fastRun({ minSamples = 5, minTimeMs = 0 } = {}): string[] {
  return [
    '-a',
    'mib=1',
    '-a',
    'iterations=32',
    '--min-samples',
    String(minSamples),
    '--max-noise',
    '50',
    '--min-time',
    String(minTimeMs),
    '--timeout',
    '60',
    '--warmup',
    '1',
  ];
}

export const FAST_RUN = fastRun();
