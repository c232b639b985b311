// Compares two dumps of test/tools/dump-cases.ts: the cases that differ, grouped by what differs (with a few
// examples each), and the shaders whose source differs, by top-level WGSL declaration.
// Usage: node --import tsx test/tools/diff-cases.ts BEFORE.json AFTER.json
import { readFileSync } from 'node:fs';

interface Dump {
  shaders: Record<string, { text: string; declarations: string[] }>;
  cases: Record<string, unknown>;
}

const [beforePath, afterPath] = process.argv.slice(2);
if (!beforePath || !afterPath) throw new Error('usage: diff-cases.ts BEFORE.json AFTER.json');
const before = JSON.parse(readFileSync(beforePath, 'utf8')) as Dump;
const after = JSON.parse(readFileSync(afterPath, 'utf8')) as Dump;

/** An array element's name in a path: its `name` or `buffer` field where it has one. */
function label(item: unknown, index: number): string {
  if (item && typeof item === 'object') {
    const named = (item as Record<string, unknown>)['name'] ?? (item as Record<string, unknown>)['buffer'];
    if (typeof named === 'string') return named;
  }
  return String(index);
}

function differences(a: unknown, b: unknown, path: string, out: [string, unknown, unknown][]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (Array.isArray(a) && Array.isArray(b) && !a.every((x) => typeof x === 'number')) {
    const byLabel = (list: unknown[]) => new Map(list.map((item, i) => [label(item, i), item]));
    const [left, right] = [byLabel(a), byLabel(b)];
    const order = [...left.keys()].join(',') === [...right.keys()].join(',');
    if (!order) out.push([`${path}[order]`, [...left.keys()], [...right.keys()]]);
    for (const key of new Set([...left.keys(), ...right.keys()])) differences(left.get(key), right.get(key), `${path}[${key}]`, out);
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const [left, right] = [a as Record<string, unknown>, b as Record<string, unknown>];
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) differences(left[key], right[key], `${path}.${key}`, out);
    return;
  }
  out.push([path, a, b]);
}

const groups = new Map<string, { count: number; examples: string[] }>();
const keys = new Set([...Object.keys(before.cases), ...Object.keys(after.cases)]);
let differing = 0;
for (const key of [...keys].sort()) {
  const found: [string, unknown, unknown][] = [];
  if (!(key in before.cases)) found.push(['(case only after)', undefined, undefined]);
  else if (!(key in after.cases)) found.push(['(case only before)', undefined, undefined]);
  else differences(before.cases[key], after.cases[key], '', found);
  if (found.length) differing++;
  for (const [path, a, b] of found) {
    // Group by path with the array labels kept and the values dropped.
    const group = groups.get(path) ?? { count: 0, examples: [] };
    group.count++;
    if (group.examples.length < 2) group.examples.push(`${key}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`.slice(0, 400));
    groups.set(path, group);
  }
}
console.log(`${keys.size} cases, ${differing} differ`);
for (const [path, { count, examples }] of [...groups].sort((x, y) => y[1].count - x[1].count)) {
  console.log(`\n${count} x ${path}`);
  for (const example of examples) console.log(`    ${example}`);
}

const shaderKeys = new Set([...Object.keys(before.shaders), ...Object.keys(after.shaders)]);
const seen = new Set<string>();
for (const key of [...shaderKeys].sort()) {
  const [a, b] = [before.shaders[key], after.shaders[key]];
  if (a && b && a.text === b.text) continue;
  if (!a || !b) {
    console.log(`\nshader ${key}: only ${a ? 'before' : 'after'}`);
    continue;
  }
  const removed = a.declarations.filter((d) => !b.declarations.includes(d));
  const added = b.declarations.filter((d) => !a.declarations.includes(d));
  // The same change in many (dtype, sizes) variants of a file: print it once.
  const summary = JSON.stringify([key.split('|')[0], removed, added]).replaceAll(
    /alias T = f(16|32);|enable f16;|const MAX[QV]: u32 = \d+u;/g,
    '',
  );
  if (seen.has(summary)) continue;
  seen.add(summary);
  console.log(`\nshader ${key}: text differs; ${removed.length} declarations removed, ${added.length} added`);
  for (const d of removed) console.log(`  - ${d.slice(0, 600)}`);
  for (const d of added) console.log(`  + ${d.slice(0, 600)}`);
}
