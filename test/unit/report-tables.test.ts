import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markdownTable } from '../../src/report/markdown.js';
import { renderTable } from '../../src/report/table.js';
import { left, right, type TableModel } from '../../src/report/table-model.js';

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
