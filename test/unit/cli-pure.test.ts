import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneLineMessage } from '../../src/cli/base.js';
import { isNativeChatter, nativeChatterFilter, supervisorExit } from '../../src/cli/launch.js';
import { progressStyle } from '../../src/cli/progress.js';
import { repeatsFor } from '../../src/run/sampler.js';
import { caseSeed } from '../../src/run/run-case.js';
import { caseMisfit } from '../../src/kernels/fit.js';
import type { DeviceLimits } from '../../src/gpu/device.js';

test("Dawn's and Mesa's own stderr lines are recognised; ours are not", () => {
  assert.ok(isNativeChatter('Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16'));
  assert.ok(isNativeChatter('WARNING: lavapipe is not a conformant vulkan implementation, testing use only.'));
  assert.ok(!isNativeChatter('Error: unknown suite "x"'));
  assert.ok(!isNativeChatter('[1/5] calibration/kernel=copy: ok'));
});

test("the stderr filter drops Dawn's warning with its indented source line and the blank line after it, and nothing else", () => {
  const keep = nativeChatterFilter();
  const lines = [
    'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER',
    '    at CheckVkSuccessImpl (/dawn/src/dawn/native/vulkan/VulkanError.cpp:106)',
    '',
    'Error: no WebGPU adapter found',
    '',
    '  an indented line of ours',
  ];
  assert.deepEqual(lines.filter(keep), ['Error: no WebGPU adapter found', '', '  an indented line of ours']);
});

test('a missing argument is named in the one-line message', () => {
  const oclif =
    'Missing 1 required arg:\nsuite  suite name or path to a suite .json file\n\nNote: --axis, --dtype allow multiple values.\nSee more help with --help';
  assert.equal(oneLineMessage(new Error(oclif)), 'Missing 1 required arg: suite');
  assert.equal(
    oneLineMessage(
      new Error('Missing 2 required args:\nbase        base results file\ncandidates  one or more\nSee more help with --help'),
    ),
    'Missing 2 required args: base, candidates',
  );
});

test('progress: a bar on a terminal, lines in CI or a pipe, nothing with --json', () => {
  assert.equal(progressStyle(false, true, {}), 'bar');
  assert.equal(progressStyle(false, true, { CI: 'true' }), 'lines');
  assert.equal(progressStyle(false, false, {}), 'lines');
  assert.equal(progressStyle(true, true, {}), 'none');
});

test('batch mode sizes N so a sample lasts about the target', () => {
  assert.equal(repeatsFor(0.01, 2), 200);
  assert.equal(repeatsFor(5, 2), 1);
  assert.equal(repeatsFor(0, 2), 100_000);
});

test('case seeds are stable per key and differ between keys', () => {
  assert.equal(caseSeed(1, 'a/x=1'), caseSeed(1, 'a/x=1'));
  assert.notEqual(caseSeed(1, 'a/x=1'), caseSeed(1, 'a/x=2'));
  assert.notEqual(caseSeed(1, 'a/x=1'), caseSeed(2, 'a/x=1'));
});

test('a case past the device limits is named with the limit it breaks', () => {
  const limits = {
    maxStorageBufferBindingSize: 1024,
    maxBufferSize: 4096,
    maxUniformBufferBindingSize: 64,
    maxComputeWorkgroupsPerDimension: 8,
  } as DeviceLimits;
  const buffer = { name: 'kv', role: 'kv-cache' as const, usage: 'storage' as const, type: 'f32' as const, length: 512 };
  const stage = {
    name: 's',
    shader: 'x.wgsl',
    dtype: 'f32' as const,
    bindings: ['kv'],
    workgroups: [4] as [number],
    work: { flops: 0, bytesRead: 0, bytesWritten: 0 },
  };
  assert.match(caseMisfit({ buffers: [buffer], stages: [stage] }, { limits }) ?? '', /buffer kv needs .* maxStorageBufferBindingSize/);
  assert.equal(caseMisfit({ buffers: [{ ...buffer, length: 16 }], stages: [stage] }, { limits }), null);
  assert.match(caseMisfit({ buffers: [], stages: [{ ...stage, workgroups: [9] }] }, { limits }) ?? '', /maxComputeWorkgroupsPerDimension/);
  const small = { buffers: [{ ...buffer, length: 16 }], stages: [stage] };
  assert.match(caseMisfit(small, { limits, memoryBytes: 32 }) ?? '', /the case's buffers need .* above the .* of device memory/);
  assert.equal(caseMisfit(small, { limits, memoryBytes: 64 }), null);
  const oneBinding = { ...limits, maxStorageBuffersPerShaderStage: 0 };
  assert.match(
    caseMisfit(small, { limits: oneBinding }) ?? '',
    /stage s binds 1 storage buffers, above .*maxStorageBuffersPerShaderStage \(0\)/,
  );
});

test("errors shrink to one line; oclif's flag-parse reason is joined onto its first line", () => {
  assert.equal(
    oneLineMessage(new Error('Parsing --min-time \n\tExpected an integer but received: 0.3\nSee more help with --help')),
    'Parsing --min-time: Expected an integer but received: 0.3',
  );
  assert.equal(
    oneLineMessage(new Error('Expected --mode=x to be one of: batch, cold\nSee more help with --help')),
    'Expected --mode=x to be one of: batch, cold',
  );
  assert.equal(oneLineMessage(new Error('\nshader failed\n  at line 3')), 'shader failed');
});

test("supervisor exit: the child's code or signal, but a crash after the command finished keeps its exit status, with a note", () => {
  const finished = { mlaBenchFinished: true as const, exitCode: 0 };
  assert.deepEqual(supervisorExit(3, null, undefined), { code: 3 });
  assert.deepEqual(supervisorExit(null, null, undefined), { code: 1 });
  assert.deepEqual(supervisorExit(null, 'SIGSEGV', undefined), { signal: 'SIGSEGV' }, 'a crash mid-command is a crash');
  assert.deepEqual(supervisorExit(null, 'SIGINT', finished), { signal: 'SIGINT' }, 'a user signal passes through');
  const crashed = supervisorExit(null, 'SIGABRT', { ...finished, exitCode: 2 });
  assert.ok('code' in crashed);
  assert.equal(crashed.code, 2);
  assert.match(crashed.note ?? '', /crashed \(SIGABRT\) while shutting down, after the command had finished; its exit status 2 stands/);
  // A child the supervisor stopped because it hung after finishing: the command's status, with a note.
  const hung = supervisorExit(null, 'SIGKILL', { ...finished, exitCode: 0 }, true);
  assert.ok('code' in hung);
  assert.equal(hung.code, 0);
  assert.match(
    hung.note ?? '',
    /hung while shutting down, after the command had finished \(stopped after 20 s\); its exit status 0 stands/,
  );
  assert.deepEqual(supervisorExit(null, 'SIGKILL', finished), { signal: 'SIGKILL' }, 'a SIGKILL from elsewhere passes through');
});
