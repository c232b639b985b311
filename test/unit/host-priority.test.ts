import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import {
  chooseHostYield,
  HOST_NICE_ON_CPU_ADAPTER,
  niceWhileWaiting,
  sleepSliceMs,
  useHostYield,
  waitForAdapter,
  type ThreadPriority,
} from '../../src/gpu/host-priority.js';

const lavapipe = { isFallbackAdapter: true, architecture: 'software' };
const h100 = { isFallbackAdapter: false, architecture: 'hopper' };

/** A thread whose nice value starts at `start` and may only be raised (lowered in number) where `mayRaise`. */
function fakeThread(start: number, mayRaise: boolean): ThreadPriority & { nice: number } {
  return {
    nice: start,
    getPriority() {
      return this.nice;
    },
    setPriority(nice: number) {
      if (nice < this.nice && !mayRaise) throw new Error('EACCES');
      this.nice = nice;
    },
  };
}

/** A wait that records the host thread's nice value while it is pending. */
function pendingWait(seen: number[]): Promise<void> {
  return new Promise((resolve) =>
    setImmediate(() => {
      seen.push(getPriority());
      resolve();
    }),
  );
}

test('the host thread keeps its priority on a GPU and off Linux', () => {
  const before = getPriority();
  assert.deepEqual(chooseHostYield(h100, 'linux'), { kind: 'none', sleeps: false });
  assert.deepEqual(chooseHostYield(lavapipe, 'darwin'), { kind: 'none', sleeps: true }, 'a CPU adapter sleeps through its waits anywhere');
  assert.deepEqual(chooseHostYield(lavapipe, 'win32'), { kind: 'none', sleeps: true });
  assert.equal(niceWhileWaiting({ kind: 'none', sleeps: false }), null);
  assert.equal(getPriority(), before);
});

test('a CPU adapter lowers the host thread while it waits, where the thread may be raised back', () => {
  const thread = fakeThread(0, true);
  assert.deepEqual(chooseHostYield(lavapipe, 'linux', thread), { kind: 'while-waiting', nice: 19, normal: 0, sleeps: true });
  assert.equal(thread.nice, 0, 'its own work keeps the normal priority');
});

test('where it may not be raised back, the host thread stays lowered', () => {
  const thread = fakeThread(0, false);
  const mode = chooseHostYield(lavapipe, 'linux', thread);
  assert.deepEqual(mode, { kind: 'always', nice: HOST_NICE_ON_CPU_ADAPTER, sleeps: true });
  assert.equal(thread.nice, HOST_NICE_ON_CPU_ADAPTER);
  assert.equal(niceWhileWaiting(mode), HOST_NICE_ON_CPU_ADAPTER);
});

test(
  'waits lower the real host thread once, nested or not, and raise it back after the last',
  { skip: process.platform !== 'linux' && 'nice is per thread only on Linux' },
  async () => {
    const mode = useHostYield(chooseHostYield(lavapipe, 'linux'));
    try {
      if (mode.kind === 'always') {
        assert.equal(getPriority(), HOST_NICE_ON_CPU_ADAPTER, 'not permitted to raise it back: it stays lowered');
        return;
      }
      assert.equal(mode.kind, 'while-waiting');
      const normal = getPriority();
      const seen: number[] = [];
      await waitForAdapter(pendingWait(seen));
      assert.equal(getPriority(), normal);
      const slow = waitForAdapter(new Promise<void>((resolve) => setTimeout(resolve, 20)));
      await waitForAdapter(pendingWait(seen));
      seen.push(getPriority());
      await slow;
      assert.deepEqual(seen, [19, 19, 19], 'lowered during each wait and while another is still pending');
      assert.equal(getPriority(), normal);
    } finally {
      useHostYield({ kind: 'none', sleeps: false });
    }
  },
);

test('a sleeping wait sleeps a tenth of the wait so far between event ticks, 20 us to 1 ms', () => {
  assert.equal(sleepSliceMs(0), 0.02);
  assert.equal(sleepSliceMs(3), 0.3);
  assert.equal(sleepSliceMs(500), 1);
});

/** CPU time (ms) this process spends while `wait` is pending beside a Dawn-like spin (a setImmediate loop). */
async function cpuMsBesideSpin(wait: Promise<unknown>): Promise<number> {
  let pending = true;
  const spin = (): void => {
    if (pending) setImmediate(spin);
  };
  spin();
  const before = process.cpuUsage();
  try {
    await wait;
  } finally {
    pending = false;
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

test('a sleeping wait returns what it waited for, passes rejections on, and leaves a spinning event loop idle', async () => {
  useHostYield({ kind: 'none', sleeps: true });
  try {
    assert.equal(await waitForAdapter(new Promise((resolve) => setTimeout(() => resolve(7), 5))), 7);
    await assert.rejects(waitForAdapter(Promise.reject(new Error('device lost'))), /device lost/);
    const [a, b] = await Promise.all([
      waitForAdapter(new Promise((resolve) => setTimeout(() => resolve('a'), 10))),
      waitForAdapter(new Promise((resolve) => setTimeout(() => resolve('b'), 3))),
    ]);
    assert.deepEqual([a, b], ['a', 'b'], 'concurrent waits share one sleeper');
    // Spinning through 80 ms would take ~80 ms of CPU; asleep between ticks, a few.
    const cpuMs = await cpuMsBesideSpin(waitForAdapter(new Promise((resolve) => setTimeout(resolve, 80))));
    assert.ok(cpuMs < 40, `${cpuMs.toFixed(1)} ms of CPU during an 80 ms wait`);
  } finally {
    useHostYield({ kind: 'none', sleeps: false });
  }
});
