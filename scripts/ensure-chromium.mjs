#!/usr/bin/env node
// Makes sure a headless Chromium exists for the HTML report test (test/cli/report-html.test.ts).
// Dependency-free: if /usr/bin/chromium (or $CHROMIUM_PATH) is missing and we are root on
// Debian/Ubuntu, installs Debian's `chromium` package with apt-get; otherwise says what to install
// and exits 1. The test fails (never skips) without it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function osRelease() {
  try {
    return readFileSync('/etc/os-release', 'utf8');
  } catch {
    return '';
  }
}

function run(command, args) {
  console.error(`ensure-chromium: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return result.status === 0;
}

if (!existsSync(CHROMIUM)) {
  const release = osRelease();
  const debian = /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(release);
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform === 'linux' && debian && root && existsSync('/usr/bin/apt-get')) {
    // Ubuntu's `chromium` is a snap stub; Debian's is the real browser at /usr/bin/chromium.
    if (!run('apt-get', ['update']) || !run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'])) {
      console.error('ensure-chromium: apt-get failed; install Chromium yourself: apt-get install -y chromium');
      process.exit(1);
    }
  }
  if (!existsSync(CHROMIUM)) {
    console.error(
      `ensure-chromium: no Chromium at ${CHROMIUM}; the HTML report test needs a headless Chromium.\n` +
        '  Debian/Ubuntu (as root): apt-get update && apt-get install -y chromium\n' +
        '  elsewhere: install Chromium or Chrome and set CHROMIUM_PATH=/path/to/chromium',
    );
    process.exit(1);
  }
}
if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) console.error(`ensure-chromium: ${CHROMIUM}`);
