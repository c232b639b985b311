import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrackedAllocator } from '../../src/gpu/memory.js';

/** Just enough of a GPUDevice for the allocator: buffers that remember whether they were destroyed. */
function fakeDevice() {
  const destroyed: object[] = [];
  const device = {
    createBuffer: (descriptor: GPUBufferDescriptor) => ({
      size: descriptor.size,
      destroy() {
        destroyed.push(this);
      },
    }),
  };
  return { device: device as unknown as GPUDevice, destroyed };
}

test('current and peak bytes by role', () => {
  const { device, destroyed } = fakeDevice();
  const allocator = new TrackedAllocator(device);
  const weights = allocator.createBuffer('weights', { size: 100, usage: 0 });
  const kv = allocator.createBuffer('kv-cache', { size: 50, usage: 0 });
  allocator.destroy(weights);
  allocator.createBuffer('scratch', { size: 20, usage: 0 });
  const report = allocator.report();
  assert.equal(report.currentBytes, 70);
  assert.equal(report.peakBytes, 150);
  assert.deepEqual(report.peakByRole, { weights: 100, 'kv-cache': 50, activations: 0, scratch: 0 });
  assert.deepEqual(report.maxByRole, { weights: 100, 'kv-cache': 50, activations: 0, scratch: 20 });
  assert.equal(allocator.bytesOf('kv-cache'), 50);
  assert.equal(destroyed.length, 1);
  allocator.destroy(kv);
  allocator.destroy(kv);
  assert.equal(allocator.bytesOf('kv-cache'), 0, 'destroying twice counts once');
});

test('resetPeak starts a new case from what is still alive', () => {
  const { device } = fakeDevice();
  const allocator = new TrackedAllocator(device);
  const big = allocator.createBuffer('activations', { size: 1000, usage: 0 });
  allocator.createBuffer('scratch', { size: 10, usage: 0 });
  allocator.destroy(big);
  allocator.resetPeak();
  allocator.createBuffer('weights', { size: 5, usage: 0 });
  assert.equal(allocator.report().peakBytes, 15);
  allocator.destroyAll();
  assert.equal(allocator.report().currentBytes, 0);
});
