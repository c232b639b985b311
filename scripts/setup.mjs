#!/usr/bin/env node
// Makes a fresh clone ready to run: installs npm dependencies if missing, makes sure a WebGPU adapter
// exists (on Linux without one, installs Mesa's lavapipe software Vulkan driver through apt where it
// can, or says exactly what to install), and builds. Uses nothing but node itself.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const say = (message) => console.error(`setup: ${message}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, env, ...options });
  if (result.status !== 0) {
    say(`\`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

// 1. Dependencies.
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say('installing npm dependencies (npm ci)');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 2. A WebGPU adapter.
function probeAdapter() {
  const script = `
    const { create } = await import('webgpu');
    const gpu = create([]);
    try {
      const adapter = await gpu.requestAdapter();
      console.log(JSON.stringify(adapter ? { ok: true, name: adapter.info.description || adapter.info.device } : { ok: false, why: 'no adapter' }));
    } catch (error) { console.log(JSON.stringify({ ok: false, why: String(error.message).split('\\n')[0] })); }
    process.exit(0);`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8' });
  const line = (result.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, why: (result.stderr ?? '').trim().split('\n').pop() || `probe exited ${result.status}` };
  }
}

function osRelease() {
  try {
    return Object.fromEntries(
      readFileSync('/etc/os-release', 'utf8')
        .split('\n')
        .filter((line) => line.includes('='))
        .map((line) => {
          const [key, ...value] = line.split('=');
          return [key, value.join('=').replace(/^"|"$/g, '')];
        }),
    );
  } catch {
    return {};
  }
}

/** The Debian mirror this machine already uses, so backports come from the same place. */
function debianMirror() {
  const files = [
    '/etc/apt/sources.list',
    ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : []),
  ];
  for (const file of files) {
    if (!/\.(list|sources)$/.test(file) || !existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const deb822 = text.match(/^URIs:\s*(\S*debian\/?)\s*$/m);
    if (deb822 && !/security/.test(deb822[1])) return deb822[1];
    const oneLine = text.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S*debian\/?)\s+\S+/m);
    if (oneLine && !/security/.test(oneLine[1])) return oneLine[1];
  }
  return 'http://deb.debian.org/debian';
}

function hasBackports(codename) {
  const dir = '/etc/apt/sources.list.d';
  const files = ['/etc/apt/sources.list', ...(existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [])];
  return files.some(
    (file) => /\.(list|sources)$/.test(file) && existsSync(file) && readFileSync(file, 'utf8').includes(`${codename}-backports`),
  );
}

function canUseApt() {
  return process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

function installLavapipe(release) {
  const codename = release.VERSION_CODENAME;
  const apt = (args) => run('apt-get', args, { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (release.ID === 'debian' && codename === 'bookworm') {
    // bookworm's own Mesa (22.3) is too old for Dawn; bookworm-backports has Mesa 25.
    if (!hasBackports(codename)) {
      const file = '/etc/apt/sources.list.d/mla-bench-bookworm-backports.sources';
      say(`adding ${codename}-backports to apt (${file})`);
      writeFileSync(
        file,
        `Types: deb\nURIs: ${debianMirror()}\nSuites: ${codename}-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
      );
    }
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', '-t', `${codename}-backports`, 'mesa-vulkan-drivers']);
  } else {
    apt(['update', '-qq']);
    apt(['install', '-y', '-qq', 'mesa-vulkan-drivers']);
  }
}

function manualInstructions(release) {
  if (process.platform !== 'linux') {
    return "install your GPU vendor's driver (Metal on macOS and D3D12 on Windows need nothing else)";
  }
  if (release.ID === 'debian' && release.VERSION_CODENAME === 'bookworm') {
    return "as root: add the suite bookworm-backports to apt's sources, `apt-get update`, then `apt-get install -t bookworm-backports mesa-vulkan-drivers` (Mesa >= 24; bookworm's own 22.3 is too old for Dawn)";
  }
  return "install a Vulkan driver: your GPU vendor's, or Mesa >= 24 lavapipe (Debian/Ubuntu: `apt-get install mesa-vulkan-drivers`; Fedora: `dnf install mesa-vulkan-drivers`)";
}

let adapter = probeAdapter();
if (!adapter.ok) {
  const release = osRelease();
  say(`no WebGPU adapter (${adapter.why})`);
  if (canUseApt() && /debian|ubuntu/.test(`${release.ID} ${release.ID_LIKE ?? ''}`)) {
    say('installing Mesa lavapipe, a software Vulkan driver (mesa-vulkan-drivers)');
    installLavapipe(release);
    adapter = probeAdapter();
  }
  if (!adapter.ok) {
    say(`still no WebGPU adapter (${adapter.why}). To fix: ${manualInstructions(release)}`);
    process.exit(1);
  }
}
say(`WebGPU adapter: ${adapter.name}`);

// 3. Build (only when a source is newer than the build).
const built = join(root, 'dist', 'index.js');
if (!existsSync(built) || newestMtime(join(root, 'src')) > statSync(built).mtimeMs) {
  say('building (tsc)');
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
}
