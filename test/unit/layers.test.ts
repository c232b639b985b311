import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** The src files a module loads at run time (relative imports; `import type` is erased), as paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return [...text.matchAll(/^(?:import|export)(?! type )[^;]*?from '(\.{1,2}\/[^']+)\.js';/gms)].map((m) =>
    relative(SRC, join(dirname(join(SRC, file)), `${m[1]}.ts`)),
  );
}

function reachable(from: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...from];
  while (stack.length) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...importsOf(file));
  }
  return seen;
}

const reportFiles = readdirSync(join(SRC, 'report'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => join('report', name));

test('the report layer reads results only: nothing it loads, directly or not, is GPU code', () => {
  const gpu = [...reachable(reportFiles)].filter((file) => file.startsWith('gpu/'));
  assert.deepEqual(gpu, []);
});

test('no import circles among the report modules', () => {
  const circles: string[] = [];
  for (const file of reportFiles) {
    for (const imported of importsOf(file)) {
      if (imported !== file && reachable([imported]).has(file)) circles.push(`${file} <-> ${imported}`);
    }
  }
  assert.deepEqual(circles, []);
});
