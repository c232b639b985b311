import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import {
  chooseHostYield,
  HOST_NICE_ON_CPU_ADAPTER,
  niceWhileWaiting,
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
  assert.deepEqual(chooseHostYield(h100, 'linux'), { kind: 'none' });
  assert.deepEqual(chooseHostYield(lavapipe, 'darwin'), { kind: 'none' });
  assert.deepEqual(chooseHostYield(lavapipe, 'win32'), { kind: 'none' });
  assert.equal(niceWhileWaiting({ kind: 'none' }), null);
  assert.equal(getPriority(), before);
});

test('a CPU adapter lowers the host thread while it waits, where the thread may be raised back', () => {
  const thread = fakeThread(0, true);
  assert.deepEqual(chooseHostYield(lavapipe, 'linux', thread), { kind: 'while-waiting', nice: 19, normal: 0 });
  assert.equal(thread.nice, 0, 'its own work keeps the normal priority');
});

test('where it may not be raised back, the host thread stays lowered', () => {
  const thread = fakeThread(0, false);
  const mode = chooseHostYield(lavapipe, 'linux', thread);
  assert.deepEqual(mode, { kind: 'always', nice: HOST_NICE_ON_CPU_ADAPTER });
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
      useHostYield({ kind: 'none' });
    }
  },
);
