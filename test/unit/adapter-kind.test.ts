import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSoftwareAdapter } from '../../src/util/adapter-kind.js';

test('software and fallback adapters are recognised; GPUs are not', () => {
  assert.equal(isSoftwareAdapter({ isFallbackAdapter: true, architecture: 'software' }), true);
  assert.equal(isSoftwareAdapter({ isFallbackAdapter: false, architecture: 'software' }), true);
  assert.equal(isSoftwareAdapter({ isFallbackAdapter: true, architecture: '' }), true);
  assert.equal(isSoftwareAdapter({ isFallbackAdapter: false, architecture: 'hopper' }), false);
});
