import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, ROOT } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'mla-bench-plan-'));

interface PlannedOnDevice {
  key: string;
  fits: boolean;
  bytes?: number;
  kvCacheBytes?: number;
  reason?: string;
}

/** FlashMLA's decode grid in mla-decode's standard profile: absorbed, f16, 64-token pages, b 64/128, s_k 4K-32K. */
const isFlashMla = (key: string): boolean => /preset=deepseek-v(2-lite|3),form=absorbed,.*page_size=64,.*dtype=f16/.test(key);
/** FlashInfer's MLA grid: absorbed, f16, one-token pages, seq {1K, 2K, 8K} x batch {64, 128, 768} x h {64, 128}. */
const isFlashInfer = (key: string): boolean => /preset=deepseek-v3(-tp2)?,form=absorbed,.*page_size=1,.*dtype=f16/.test(key);

test("list --limits plans FlashMLA's and FlashInfer's grids on an NVIDIA GPU: every case runs there, with the memory it needs", async () => {
  const { code, stdout, stderr } = await cli([
    'list',
    'mla-decode',
    '--profile',
    'standard',
    '--limits',
    'limits/nvidia-h100-vulkan.json',
    '--json',
  ]);
  assert.equal(code, 0, stderr);
  const { device } = JSON.parse(stdout) as { device: { name: string; cases: PlannedOnDevice[] } };
  assert.match(device.name, /NVIDIA H100/);
  const flash = device.cases.filter((c) => isFlashMla(c.key));
  // h_q 16 (deepseek-v2-lite) and 128 (deepseek-v3) x batch {64, 128} x s_k {4096, 8192, 16384, 32768}.
  assert.equal(flash.length, 2 * 2 * 4);
  for (const c of flash) assert.ok(c.fits, `${c.key}: ${c.reason}`);
  const largest = flash.find((c) => /preset=deepseek-v3,.*batch=128,context=32768,/.test(c.key))!;
  // 128 x 32768 x 576 f16: 4.5 GiB of latent cache, more than one 2 GiB binding holds.
  assert.ok(largest.kvCacheBytes! >= 128 * 32768 * 576 * 2, `${largest.kvCacheBytes}`);
  assert.ok(largest.bytes! > largest.kvCacheBytes!);
  const infer = device.cases.filter((c) => isFlashInfer(c.key));
  const grid = [64, 128].flatMap((h) => [1024, 2048, 8192].flatMap((s) => [64, 128, 768].map((b) => `${h} ${s} ${b}`)));
  const planned = infer.map((c) => {
    const [, preset, b, s] = /preset=([^,]+),form=absorbed,batch=(\d+),context=(\d+),/.exec(c.key)!;
    return `${preset === 'deepseek-v3-tp2' ? 64 : 128} ${s} ${b}`;
  });
  assert.deepEqual(planned.sort(), grid.sort());
  for (const c of infer) assert.ok(c.fits, `${c.key}: ${c.reason}`);
  // 768 x 8192 x 576 f16: 6.75 GiB of latent cache, four 2 GiB bindings' worth, and no page of another case's size.
  const widest = infer.find((c) => /preset=deepseek-v3,.*batch=768,context=8192,/.test(c.key))!;
  assert.ok(widest.kvCacheBytes! >= 768 * 8192 * 576 * 2, `${widest.kvCacheBytes}`);
  assert.ok(widest.bytes! > widest.kvCacheBytes!);
  // The 64-head cases are the same cache with half the query heads: less memory, the same KV cache.
  const half = infer.find((c) => /preset=deepseek-v3-tp2,.*batch=768,context=8192,/.test(c.key))!;
  assert.equal(half.kvCacheBytes, widest.kvCacheBytes);
  assert.ok(half.bytes! < widest.bytes!);
  // Paged naive-latent is planned in both grids: where its K/V scratch fits a binding it runs, else a skip naming it.
  const asAbsorbed = (key: string): string => key.replace('form=naive-latent', 'form=absorbed');
  const naive = device.cases.filter(
    (c) => c.key.includes('form=naive-latent') && (isFlashMla(asAbsorbed(c.key)) || isFlashInfer(asAbsorbed(c.key))),
  );
  assert.equal(naive.length, flash.length + infer.length);
  assert.ok(naive.some((c) => c.fits) && naive.some((c) => !c.fits));
  for (const c of naive.filter((n) => !n.fits))
    assert.match(c.reason ?? '', /^buffer (k|v|latent_ws) needs .*maxStorageBufferBindingSize/, c.key);
});

test('list --limits prints each case with its memory or its skip reason; on a 128 MiB-binding device the largest cases skip, naming the limit', async () => {
  const limits = join(dir, 'small.json');
  const nvidia = JSON.parse(readFileSync(join(ROOT, 'limits', 'nvidia-h100-vulkan.json'), 'utf8'));
  const small = {
    ...nvidia,
    name: 'small device',
    limits: { ...nvidia.limits, maxStorageBufferBindingSize: 2 ** 27, maxStorageBuffersPerShaderStage: 8 },
  };
  writeFileSync(limits, JSON.stringify(small));
  const { code, stdout, stderr } = await cli([
    'list',
    'mla-decode',
    '--profile',
    'standard',
    '--limits',
    limits,
    '--filter',
    'page_size=64',
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Plan on small device \(79\.6 GiB of device memory\), profile standard: \d+ of \d+ cases would run/m);
  assert.match(stdout, /form=absorbed,batch=64,context=4096,page_size=64,.*dtype=f16.*needs [\d.]+ (MiB|GiB) \(KV cache/);
  assert.match(
    stdout,
    /deepseek-v3,form=absorbed,batch=128,context=32768,.*\(skipped: .*storage buffers.*maxStorageBuffersPerShaderStage \(8\)/,
  );
});

test('list --limits with a bad file is a one-line error and exit 2', async () => {
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'x', memoryBytes: 1, limits: { maxBufferSize: 4 } }));
  const missing = await cli(['list', '--limits', bad]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr.trim(), /^Error: limits file .*bad\.json: limits\.maxStorageBufferBindingSize must be a number$/m);
  writeFileSync(bad, '{ not json');
  const broken = await cli(['list', '--limits', bad]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /limits file .*bad\.json: not JSON/);
  const absent = await cli(['list', '--limits', join(dir, 'absent.json')]);
  assert.equal(absent.code, 2);
  assert.match(absent.stderr, /limits file .*absent\.json: cannot read it \(ENOENT\)/);
});

test('info --limits-out writes the live device as a limits file that list --limits plans from', async () => {
  const file = join(dir, 'live.json');
  const written = await cli(['info', '--limits-out', file, '--memory-gib', '0.1']);
  assert.equal(written.code, 0, written.stderr);
  const live = JSON.parse(readFileSync(file, 'utf8'));
  const { stdout } = await cli(['info', '--json']);
  const selected = JSON.parse(stdout).selected;
  assert.equal(live.memoryBytes, Math.floor(0.1 * 2 ** 30));
  assert.equal(live.limits.maxStorageBufferBindingSize, selected.deviceLimits.maxStorageBufferBindingSize, 'what Dawn reported');
  assert.deepEqual(
    live.features,
    [...selected.deviceFeatures].filter((f: string) => ['shader-f16', 'subgroups', 'timestamp-query'].includes(f)).sort(),
  );
  assert.match(live.name, new RegExp(selected.description.replace(/[()+.]/g, '\\$&')));
  assert.match(live.source, /info --limits-out on \d{4}-\d\d-\d\d: what Dawn reported/);
  // 102 MiB of device memory: MHA's 128 MiB cache no longer fits and says so; GQA's 8 MiB does.
  const planned = await cli(['list', 'attention-decode', '--profile', 'quick', '--limits', file, '--json']);
  assert.equal(planned.code, 0, planned.stderr);
  const { device } = JSON.parse(planned.stdout) as { device: { name: string; cases: PlannedOnDevice[] } };
  assert.equal(device.name, live.name);
  const mha = device.cases.find((c) => /variant=mha,.*page_size=0/.test(c.key));
  const gqa = device.cases.find((c) => /variant=gqa,.*page_size=0/.test(c.key));
  assert.ok(mha && !mha.fits && /of device memory it may use/.test(mha.reason ?? ''), JSON.stringify(mha));
  assert.ok(gqa?.fits, JSON.stringify(gqa));

  const bad = await cli(['info', '--limits-out', file, '--memory-gib', 'lots']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr.trim(), /^Error: --memory-gib lots: must be a positive number of GiB$/m);
  const unwritable = await cli(['info', '--limits-out', join(dir, 'absent', 'x.json'), '--memory-gib', '1']);
  assert.equal(unwritable.code, 2);
  assert.match(unwritable.stderr, /--limits-out .*x\.json: cannot write it \(ENOENT\)/);
});
