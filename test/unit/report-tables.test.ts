import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitAxes, titleWithConstants, varyingCells } from '../../src/report/axes.js';
import { markdownTable } from '../../src/report/markdown.js';
import { caseTable } from '../../src/report/results-tables.js';
import { columnParts, renderTable } from '../../src/report/table.js';
import { left, right, type TableModel } from '../../src/report/table-model.js';
import { wrapText } from '../../src/report/wrap.js';
import type { Measurement } from '../../src/results/schema.js';
import { okFixture } from '../helpers/fixtures.js';

const model: TableModel = {
  title: 'suite',
  columns: [left('case'), left('status'), right('rel err')],
  rows: [
    ['a', 'ok', { kind: 'caveat', text: '1.0e-7', note: 'sampled rows' }],
    ['b', { kind: 'reason', text: 'skipped', note: 'too big' }, ''],
    ['c', { kind: 'reason', text: 'skipped', note: 'too big' }, ''],
    ['d', { kind: 'strong', text: 'numerics failed' }, { kind: 'signal', text: 'slower', tone: 'bad' }],
  ],
};

test('terminal: notes become numbered footnotes under the grid, each note once; strong cells in capitals', () => {
  const text = renderTable(model);
  const lines = text.split('\n');
  assert.equal(lines[0], 'suite');
  assert.match(text, /1\.0e-7 \[1\]/);
  assert.equal(text.match(/skipped \[2\]/g)?.length, 2);
  assert.match(text, /NUMERICS FAILED/);
  assert.match(text, /│ slower/);
  assert.deepEqual(lines.slice(-2), ['[1] sampled rows', '[2] too big']);
});

test('Markdown: a heading, aligned columns, reasons after the text, caveats left out, strong in bold, signals marked', () => {
  const text = markdownTable(model);
  assert.deepEqual(text.split('\n').slice(0, 4), ['### suite', '', '| case | status | rel err |', '| --- | --- | ---: |']);
  assert.match(text, /\| a \| ok \| 1\.0e-7 \|/);
  assert.match(text, /\| b \| skipped: too big \| {2}\|/);
  assert.match(text, /\| d \| \*\*numerics failed\*\* \| 🔴 slower \|/);
  assert.doesNotMatch(text, /sampled rows/);
});

test('untitled tables render the grid alone', () => {
  const { title: _title, ...untitled } = model;
  assert.match(renderTable(untitled), /^┌/);
  assert.match(markdownTable(untitled), /^\| case/);
});

test('wrapText: breaks at spaces within the width, indents the continuations, cuts a word longer than a line', () => {
  assert.equal(wrapText('aaa bbb ccc ddd', 8, '  '), 'aaa bbb\n  ccc\n  ddd');
  assert.equal(wrapText('abcdefghij kl', 6, ' '), 'abcdef\n ghij\n kl');
  assert.equal(wrapText('short\nlines stay', 20), 'short\nlines stay');
  assert.throws(() => wrapText('x', 2, '  '), RangeError);
});

test('terminal: a grid wider than the width is cut into parts that each repeat the key columns; prose is wrapped', () => {
  const wide: TableModel = {
    title: 'a title long enough to be wrapped at sixty columns, the width of this test',
    columns: [left('preset'), left('form'), ...Array.from({ length: 8 }, (_, i) => right(`metric ${i}`))],
    rows: [['deepseek-v2-lite', 'absorbed', ...Array.from({ length: 8 }, (_, i) => `${i}.00 ms`)]],
    keyColumns: 2,
    notes: ['a note under the table, which is also longer than sixty columns'],
  };
  const text = renderTable(wide, 60);
  const lines = text.split('\n');
  assert.ok(
    lines.every((line) => [...line].length <= 60),
    text,
  );
  const heads = lines.filter((line) => line.startsWith('│ preset'));
  assert.ok(heads.length >= 2, 'more than one part');
  assert.ok(heads.every((line) => /^│ preset +│ form +│ metric/.test(line)));
  for (let i = 0; i < 8; i++) assert.equal(heads.filter((line) => line.includes(`metric ${i}`)).length, 1, `metric ${i} once`);
  assert.deepEqual(lines.slice(0, 2), ['a title long enough to be wrapped at sixty columns, the', '  width of this test']);
  assert.match(text, /└[^\n]*\na note under the table, which is also longer than sixty\n {2}columns$/);
  assert.deepEqual(columnParts(['a', 'b'], [['x', 'y']], 1, 120), [[0, 1]], 'a narrow table stays whole');
});

test('axes: the axes that vary are columns, the constant ones go to the title once', () => {
  const split = splitAxes([
    { phase: 'decode', variant: 'mha', batch: 1, context: 1024 },
    { phase: 'decode', variant: 'gqa', batch: 1, context: 2048 },
    { phase: 'decode', variant: 'mqa', batch: 1 },
  ]);
  assert.deepEqual(split.varying, ['variant', 'context'], 'an axis some cases lack varies');
  assert.deepEqual(split.constant, [
    ['phase', 'decode'],
    ['batch', 1],
  ]);
  assert.equal(titleWithConstants('attention-decode', split), 'attention-decode (phase=decode, batch=1)');
  assert.equal(titleWithConstants('x', splitAxes([])), 'x');
  assert.deepEqual(varyingCells({ phase: 'decode', variant: 'mqa', batch: 1 }, split), ['mqa', '-']);
});

test('case tables: cases a budget left out are one note under the table, naming them while they are few', () => {
  const ok = (context: number, variant: string): Measurement => ({
    ...okFixture(`attention-decode/${variant},${context}`, [1, 1.1, 0.9]),
    suite: 'attention-decode',
    family: 'attention',
    params: { variant, batch: 1, context },
  });
  const leftOut = (context: number, variant: string): Measurement => ({
    key: `attention-decode/${variant},${context}`,
    suite: 'attention-decode',
    family: 'attention',
    params: { variant, batch: 1, context },
    status: 'left-out',
    reason: 'budget',
  });
  const few = caseTable('attention-decode', [ok(512, 'mha'), ok(512, 'gqa'), leftOut(4096, 'mha'), leftOut(4096, 'gqa')]);
  assert.equal(few.title, 'attention-decode (batch=1, context=512)');
  assert.equal(few.rows.length, 2);
  assert.deepEqual(few.notes, ["left out by the run's time budget: 2 of 4 cases: variant=mha context=4096; variant=gqa context=4096"]);
  const contexts = [512, 1024, 2048, 4096, 8192, 16384, 32768];
  const many = caseTable('attention-decode', [ok(256, 'mha'), ...contexts.flatMap((c) => [leftOut(c, 'mha'), leftOut(c, 'gqa')])]);
  assert.equal(many.rows.length, 1);
  assert.deepEqual(many.notes, [
    "left out by the run's time budget: 14 of 15 cases, spanning variant mha, gqa; context 512-32768 (7 values) (each one in `report -f csv`)",
  ]);
  const none = caseTable('attention-decode', [leftOut(512, 'mha')]);
  assert.deepEqual(none.rows, []);
  assert.match(
    renderTable(none),
    /^attention-decode \(variant=mha, batch=1, context=512\)\nleft out by the run's time budget: 1 of 1 case$/,
  );
});
