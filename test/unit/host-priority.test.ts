import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { HOST_NICE_ON_CPU_ADAPTER, yieldHostThread } from '../../src/gpu/host-priority.js';

const lavapipe = { isFallbackAdapter: true, architecture: 'software' };
const h100 = { isFallbackAdapter: false, architecture: 'hopper' };

test('the host thread keeps its priority on a GPU and off Linux', () => {
  const before = getPriority();
  assert.equal(yieldHostThread(h100, 'linux'), null);
  assert.equal(yieldHostThread(lavapipe, 'darwin'), null);
  assert.equal(yieldHostThread(lavapipe, 'win32'), null);
  assert.equal(getPriority(), before);
});

test(
  'on Linux with a CPU adapter the host thread drops to the lowest priority',
  { skip: process.platform !== 'linux' && 'nice is per thread only on Linux' },
  () => {
    assert.equal(yieldHostThread(lavapipe, 'linux'), HOST_NICE_ON_CPU_ADAPTER);
    assert.equal(getPriority(), HOST_NICE_ON_CPU_ADAPTER);
  },
);
