import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

// In a child process: Dawn now and then crashes (SIGSEGV/SIGABRT) while tearing down an instance whose device
// was destroyed, after everything below has happened; the outcome line is what is judged.
test('device loss is detected and every later case is reported as an error, not a crash', () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', new URL('../helpers/device-loss-child.ts', import.meta.url).pathname], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no outcome line from the child (exit ${child.status}, signal ${child.signal}): ${child.stderr.slice(-500)}`);
  const outcome = JSON.parse(line) as { lostReason: string | null; status: string; message: string | null };
  assert.match(outcome.lostReason ?? '', /destroyed/);
  assert.equal(outcome.status, 'error');
  assert.match(outcome.message ?? '', /^device lost/);
});
