#!/usr/bin/env node
// Installs an optional peer runtime into the project-local, git-ignored prefix .peers/<name>/, so that
// `mla-bench run --peer <name>` can load it; the project's own dependencies and package-lock stay as they are.
// Usage: node scripts/install-peer.mjs onnxruntime [--check]
//   --check: exit 0 if installed at the pinned version, 1 if not (installs nothing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/**
 * Each peer: the npm package, pinned (a new ORT release changes kernels and numbers: bump it deliberately), and
 * the environment its install scripts need. onnxruntime-node's postinstall would download the CUDA/TensorRT
 * provider libraries from NuGet on linux/x64; its documented flag --onnxruntime-node-install=skip (read from
 * ONNXRUNTIME_NODE_INSTALL or npm_config_onnxruntime_node_install) leaves them out. The WebGPU EP (with its
 * own Dawn) is inside libonnxruntime.so in the npm package itself.
 */
const PEERS = {
  onnxruntime: {
    package: 'onnxruntime-node',
    version: '1.31.1',
    env: { ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_onnxruntime_node_install: 'skip' },
  },
};

const say = (message) => console.error(`install-peer: ${message}`);
const [name, ...rest] = process.argv.slice(2);
const peer = PEERS[name];
if (!peer) {
  say(`unknown peer "${name ?? ''}"; known: ${Object.keys(PEERS).join(', ')}`);
  process.exit(2);
}
const prefix = join(root, '.peers', name);
const installedManifest = join(prefix, 'node_modules', peer.package, 'package.json');

function installedVersion() {
  try {
    return JSON.parse(readFileSync(installedManifest, 'utf8')).version;
  } catch {
    return null;
  }
}

if (rest.includes('--check')) process.exit(installedVersion() === peer.version ? 0 : 1);
if (installedVersion() === peer.version) {
  say(`${peer.package}@${peer.version} already in ${prefix}`);
  process.exit(0);
}

mkdirSync(prefix, { recursive: true });
writeFileSync(
  join(prefix, 'package.json'),
  `${JSON.stringify({ name: `mla-bench-peer-${name}`, private: true, description: 'installed by scripts/install-peer.mjs', dependencies: { [peer.package]: peer.version } }, null, 2)}\n`,
);
say(`installing ${peer.package}@${peer.version} into ${prefix} (about 300 MB)`);
const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', '--onnxruntime-node-install=skip'], {
  cwd: prefix,
  stdio: 'inherit',
  env: { ...process.env, ...peer.env },
});
if (result.status !== 0 || installedVersion() !== peer.version) {
  say(`npm install failed (exit ${result.status ?? result.signal}); nothing else was changed`);
  process.exit(1);
}
if (!existsSync(join(prefix, 'node_modules', peer.package, 'bin'))) say('warning: the package has no bin/ folder of native libraries');
say(`done: ${peer.package}@${peer.version}`);
