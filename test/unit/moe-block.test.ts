import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultBlock } from '../../src/kernels/moe-stages.js';

test("defaultBlock: 8 rows on CPU adapters; on GPUs vLLM fused_moe's 64, or 16 with no more tokens than experts", () => {
  assert.equal(defaultBlock({ tokens: 16384, experts: 256 }, 'rows'), 8);
  assert.equal(defaultBlock({ tokens: 1, experts: 8 }, 'rows'), 8);
  assert.equal(defaultBlock({ tokens: 1024, experts: 256 }, 'workgroup'), 64);
  assert.equal(defaultBlock({ tokens: 256, experts: 256 }, 'workgroup'), 16);
  assert.equal(defaultBlock({ tokens: 64, experts: 256 }, 'workgroup'), 16);
  assert.equal(defaultBlock({ tokens: 65, experts: 64 }, 'workgroup'), 64);
});
