#!/usr/bin/env node
// Runs every test file under test/ with node's test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [unit|gpu|cli ...]   (default: all, after ESLint and Prettier's check)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const groups = process.argv.slice(2);
const dirs = (groups.length ? groups : ['unit', 'gpu', 'cli']).map((group) => join(root, 'test', group));

function testFiles(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? testFiles(path) : name.endsWith('.test.ts') ? [path] : [];
    })
    .sort();
}

// The HTML report test drives a headless Chromium: install it (apt, as root on Debian/Ubuntu) or say what to install.
const chromium = spawnSync(process.execPath, [join(root, 'scripts', 'ensure-chromium.mjs')], { stdio: 'inherit', cwd: root });
if (chromium.status !== 0) process.exit(chromium.status ?? 1);

// The peer tests run ONNX Runtime's WebGPU EP: install it into .peers/ (the npm registry; a no-op once there).
const peer = spawnSync(process.execPath, [join(root, 'scripts', 'install-peer.mjs'), 'onnxruntime'], { stdio: 'inherit', cwd: root });
if (peer.status !== 0) process.exit(peer.status ?? 1);

const files = dirs.flatMap(testFiles);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// Lint (typescript-eslint, function length, the layering of src/) and formatting, before a full run.
for (const [tool, args] of groups.length
  ? []
  : [
      ['eslint', ['.']],
      ['prettier', ['--check', '.', '--log-level', 'warn']],
    ]) {
  const bin = join(root, 'node_modules', tool, 'bin', tool === 'eslint' ? 'eslint.js' : 'prettier.cjs');
  const checked = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', cwd: root });
  if (checked.status !== 0) {
    console.error(`${tool} found problems: fix them (npx prettier --write . formats the tree)`);
    process.exit(checked.status ?? 1);
  }
}
// Tests are TypeScript too: typecheck them (tsx only strips types).
const typecheck = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json'], {
  stdio: 'inherit',
  cwd: root,
});
if (typecheck.status !== 0) process.exit(typecheck.status ?? 1);

const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
});
process.exit(result.status ?? 1);
