import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { execute } from '@oclif/core';

/**
 * Lines Dawn, the Vulkan loader and Mesa write straight to the process's stderr (native code, out of
 * JavaScript's reach). They are hidden unless --verbose; everything else passes through.
 */
const NATIVE_CHATTER = [
  /^Warning: /,
  /^WARNING: lavapipe is not a conformant/,
  /^MESA[:-]/,
  /^ERROR: \[Loader Message\]/,
  /^(INFO|WARNING): \[Loader Message\]/,
  /^using GPU adapter/,
];

export function isNativeChatter(line: string): boolean {
  return NATIVE_CHATTER.some((pattern) => pattern.test(line));
}

/**
 * A stateful stderr line filter: native chatter, and the lines that belong to it (Dawn follows a warning with an
 * indented `    at Function (file:line)` and a blank line), are dropped; any other line ends the chatter.
 */
export function nativeChatterFilter(): (line: string) => boolean {
  let inChatter = false;
  return (line) => {
    if (isNativeChatter(line)) inChatter = true;
    else if (!(inChatter && (line.trim() === '' || /^\s/.test(line)))) inChatter = false;
    return !inChatter;
  };
}

const CHILD_MARK = 'MLA_BENCH_CHILD';

/**
 * How long a child may take to exit once its command has finished. Dawn on lavapipe now and then deadlocks in
 * its event processing after the command returned (a mutex it waits on in InstanceBase::ProcessEvents is never
 * released): the results are written by then, so the supervisor stops it and keeps the command's status.
 */
export const SHUTDOWN_GRACE_MS = 20_000;

/** Signals of a crash, as opposed to the ones a user or a supervisor sends. */
const CRASH_SIGNALS: readonly string[] = ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGILL', 'SIGFPE'];

/** What the child reports over IPC once its command has returned, before node and Dawn tear down. */
export interface ChildFinished {
  mlaBenchFinished: true;
  exitCode: number;
}

function isChildFinished(message: unknown): message is ChildFinished {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as ChildFinished).mlaBenchFinished === true &&
    Number.isInteger((message as ChildFinished).exitCode)
  );
}

/**
 * How the supervisor exits when the child does: its code, or its signal, except for a crash after the child
 * reported that its command had finished. Dawn now and then crashes tearing down an instance whose device
 * was lost; by then the results are written, so the command's own status stands, with a note.
 */
export function supervisorExit(
  code: number | null,
  signal: NodeJS.Signals | null,
  finished: ChildFinished | undefined,
  killedHanging = false,
): { code: number; note?: string } | { signal: NodeJS.Signals } {
  if (signal && finished && killedHanging) {
    return {
      code: finished.exitCode,
      note: `mla-bench: the GPU runtime hung while shutting down, after the command had finished (stopped after ${SHUTDOWN_GRACE_MS / 1e3} s); its exit status ${finished.exitCode} stands`,
    };
  }
  if (signal && finished && CRASH_SIGNALS.includes(signal)) {
    return {
      code: finished.exitCode,
      note: `mla-bench: the GPU runtime crashed (${signal}) while shutting down, after the command had finished; its exit status ${finished.exitCode} stands`,
    };
  }
  if (signal) return { signal };
  return { code: code ?? 1 };
}

/** Runs the CLI in a child whose stderr is filtered line by line; signals and the exit status pass through. */
function supervise(): void {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? '', ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD_MARK]: '1', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
  });
  let pending = '';
  const keep = nativeChatterFilter();
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    const kept = lines.filter(keep);
    if (kept.length) process.stderr.write(kept.map((line) => line + '\n').join(''));
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  let finished: ChildFinished | undefined;
  let killedHanging = false;
  child.on('message', (message) => {
    if (!isChildFinished(message) || finished) return;
    finished = message;
    setTimeout(() => {
      killedHanging = child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS).unref();
  });
  child.on('exit', (code, signal) => {
    if (pending && keep(pending)) process.stderr.write(pending);
    const exit = supervisorExit(code, signal, finished, killedHanging);
    if ('signal' in exit) {
      process.removeAllListeners(exit.signal);
      process.kill(process.pid, exit.signal);
      return;
    }
    if (exit.note) process.stderr.write(exit.note + '\n');
    process.exit(exit.code);
  });
}

export async function launch(binUrl: string, development = false): Promise<void> {
  const args = process.argv.slice(2);
  if (process.env[CHILD_MARK] !== '1' && !args.includes('--verbose')) {
    supervise();
    return;
  }
  if (process.env[CHILD_MARK] === '1' && process.connected) {
    // The supervisor died (even by SIGKILL): stop at once rather than run on unseen.
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
    process.channel?.unref();
  }
  let reported = false;
  const reportFinished = (exitCode: number): void => {
    if (reported || process.env[CHILD_MARK] !== '1' || !process.connected) return;
    reported = true;
    process.send?.({ mlaBenchFinished: true, exitCode } satisfies ChildFinished);
  };
  // First of the exit listeners, on every way out (oclif's process.exit after an error): node and Dawn tear
  // down after these, and a small IPC message is written at once.
  process.prependListener('exit', reportFinished);
  await execute({ args, dir: binUrl, development });
  // The command returned: what follows is teardown (Dawn's event loop, node's exit), where a crash or a hang
  // must not cost the command its status.
  reportFinished(typeof process.exitCode === 'number' ? process.exitCode : 0);
}
