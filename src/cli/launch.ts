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

const CHILD_MARK = 'MLA_BENCH_CHILD';

/** Runs the CLI in a child whose stderr is filtered line by line; signals and the exit status pass through. */
function supervise(): void {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? '', ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, [CHILD_MARK]: '1', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
  });
  let pending = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    const kept = lines.filter((line) => !isNativeChatter(line));
    if (kept.length) process.stderr.write(kept.map((line) => line + '\n').join(''));
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => child.kill(signal));
  }
  child.on('exit', (code, signal) => {
    if (pending && !isNativeChatter(pending)) process.stderr.write(pending);
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
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
  await execute({ args, dir: binUrl, development });
}
