import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NO_PAGE,
  packedFill,
  packedRow,
  pageCounts,
  pageTable,
  poolFill,
  poolLength,
  seededCache,
  sequenceTable,
  splitPools,
} from '../../src/kernels/kv-pages.js';
import { seededUniform } from '../../src/reference/random.js';

const LIMITS = { maxStorageBufferBindingSize: 1000, maxBufferSize: 4000 };

test('page counts: ceil(len / page) per sequence, zero-length sequences own no page, spare pages among them', () => {
  const counts = pageCounts([1, 37, 0, 130], 16);
  assert.deepEqual(counts, { maxPages: 9, used: 1 + 3 + 0 + 9, pageCount: 13 + 1 });
  assert.equal(pageCounts([0, 0], 64).maxPages, 1);
  assert.throws(() => pageCounts([4], 0), /page size 0/);
});

test('page table: every used page owned once, shuffled, NO_PAGE past a sequence, the same for the same seed', () => {
  const lens = [100, 0, 64, 1];
  const table = pageTable(lens, 16, 3);
  assert.deepEqual(table, pageTable(lens, 16, 3));
  assert.notDeepEqual(table.blockTable, pageTable(lens, 16, 4).blockTable);
  const used = Array.from(table.blockTable).filter((p) => p !== NO_PAGE);
  assert.equal(used.length, 7 + 0 + 4 + 1);
  assert.equal(new Set(used).size, used.length);
  assert.notDeepEqual(
    used,
    [...used].sort((a, b) => a - b),
    'pages are not in allocation order',
  );
  lens.forEach((len, b) => {
    for (let j = 0; j < table.maxPages; j++) {
      const page = table.blockTable[b * table.maxPages + j]!;
      if (j >= Math.ceil(len / 16)) assert.equal(page, NO_PAGE);
      else assert.deepEqual([table.owners[2 * page], table.owners[2 * page + 1]], [b, j]);
    }
  });
  const free = Array.from({ length: table.pageCount }, (_, p) => p).filter((p) => table.owners[2 * p] === -1);
  assert.ok(free.length >= 1);
});

test('sequence table: (length, offset) pairs contiguous; (length, block-table row) then the block table paged', () => {
  assert.deepEqual(Array.from(sequenceTable([3, 5])), [3, 0, 5, 3]);
  const pages = pageTable([20, 3], 16, 1);
  const seqs = sequenceTable([20, 3], pages);
  assert.deepEqual(Array.from(seqs.subarray(0, 4)), [20, 4, 3, 4 + pages.maxPages]);
  assert.deepEqual(seqs.subarray(4), pages.blockTable);
});

test('pool split: as many pages per buffer as one binding holds past the canary, balanced; or why a page never fits', () => {
  assert.deepEqual(splitPools(10, 100, LIMITS, 0), { poolPages: 10, pools: 1 });
  // 960 / 100 = 9 pages a buffer: 25 pages in 3 buffers of 9, 9, 7 -> balanced to 9 a buffer.
  assert.deepEqual(splitPools(25, 100, LIMITS, 40), { poolPages: 9, pools: 3 });
  assert.deepEqual(splitPools(25, 100, LIMITS, 0, 500), { poolPages: 5, pools: 5 });
  assert.match(String(splitPools(3, 2000, LIMITS, 0)), /page of 2000 bytes does not fit one storage binding of 1000 bytes/);
});

test('pool fill: each page holds its owner tokens at their slots; free pages and slots past a sequence are NaN', () => {
  const lens = [5, 0, 11];
  const nKv = 2;
  const width = 3;
  const stride = 4;
  const total = (5 + 11) * nKv;
  const row = packedRow(lens, nKv);
  const source = seededCache(total * width, width, 9, 'f32', row);
  const flat = seededUniform(total * width, 9, 'f32');
  const pages = pageTable(lens, 4, 2);
  const split = { poolPages: 3, pools: Math.ceil(pages.pageCount / 3) };
  const seen = new Set<string>();
  for (let pool = 0; pool < split.pools; pool++) {
    const values = new Float32Array(poolLength({ pages, split, nKv, stride }, pool));
    poolFill({ pages, split, nKv, stride, kvLens: lens, source }, pool)(0, values);
    for (let r = 0; r < values.length / stride; r++) {
      const page = pool * split.poolPages + Math.floor(r / (4 * nKv));
      const g = Math.floor(r / 4) % nKv;
      const b = pages.owners[2 * page]!;
      const t = pages.owners[2 * page + 1]! * 4 + (r % 4);
      if (b < 0 || t >= lens[b]!) {
        assert.ok(Number.isNaN(values[r * stride]!), `pool ${pool} row ${r} is a canary`);
        continue;
      }
      const expected = Array.from(flat.subarray(row(b, g, t) * width, row(b, g, t) * width + width));
      assert.deepEqual(Array.from(values.subarray(r * stride, r * stride + width)), expected);
      assert.equal(values[r * stride + 3], 0, 'the pad column is zero');
      seen.add(`${b}/${g}/${t}`);
    }
  }
  assert.equal(seen.size, total, 'every token of every KV head is in exactly one page slot');
});

test('packed fill, chunk by chunk, equals the padded packed layout', () => {
  const lens = [3, 7];
  const source = seededCache(10 * 2 * 5, 5, 4, 'f16', packedRow(lens, 2));
  const flat = seededUniform(10 * 2 * 5, 4, 'f16');
  const whole = new Float32Array(20 * 8);
  const fill = packedFill(source, lens, 2, 8);
  for (let start = 0; start < whole.length; start += 13) fill(start, whole.subarray(start, Math.min(start + 13, whole.length)));
  for (let r = 0; r < 20; r++) {
    assert.deepEqual(Array.from(whole.subarray(r * 8, r * 8 + 5)), Array.from(flat.subarray(r * 5, r * 5 + 5)));
    assert.deepEqual(Array.from(whole.subarray(r * 8 + 5, r * 8 + 8)), [0, 0, 0]);
  }
});

test('a seeded cache past one period repeats the values seededUniform gives the whole array', () => {
  const total = 2 ** 24 + 1000;
  const source = seededCache(total, 8, 5, 'f32', (_b, _g, t) => t);
  const lastRow = Math.floor(total / 8) - 1;
  const start = source.start(0, 0, lastRow);
  const flat = seededUniform(total, 5, 'f32');
  assert.deepEqual(Array.from(source.data.subarray(start, start + 8)), Array.from(flat.subarray(lastRow * 8, lastRow * 8 + 8)));
});
