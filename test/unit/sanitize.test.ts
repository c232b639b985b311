import assert from 'node:assert/strict';
import { test } from 'node:test';
import { csvField, markdownCode, markdownText, terminalText } from '../../src/report/sanitize.js';

test('CSV: text a spreadsheet would evaluate is kept as text; numbers, plain text and quoting as RFC 4180', () => {
  assert.equal(csvField('=1+2'), "'=1+2");
  assert.equal(csvField('+1'), "'+1");
  assert.equal(csvField('-cmd'), "'-cmd");
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  assert.equal(csvField('\t=1'), "'\t=1");
  assert.equal(csvField('=HYPERLINK("a","b")'), `"'=HYPERLINK(""a"",""b"")"`);
  assert.equal(csvField(-0.5), '-0.5');
  assert.equal(csvField(Infinity), '');
  assert.equal(csvField('mha, decode'), '"mha, decode"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(true), 'true');
});

test('Markdown: raw HTML, links, code spans and cell breaks from a results file are escaped; code spans hold any text', () => {
  assert.equal(markdownText('<img src=x onerror=alert(1)>'), '&lt;img src=x onerror=alert(1)&gt;');
  assert.equal(markdownText('[click](http://x)'), '\\[click\\](http://x)');
  assert.equal(markdownText('a|b\nc`d\\'), 'a\\|b c\\`d\\\\');
  assert.equal(markdownText('GPU\u001b[31m'), 'GPU\\[31m');
  assert.equal(markdownCode('results/a.json'), '`results/a.json`');
  assert.equal(markdownCode('a`b'), '``a`b``');
  assert.equal(markdownCode('`x'), '`` `x ``');
});

test('terminal: escapes, bells and bidi overrides are stripped; newlines and tabs stay', () => {
  assert.equal(terminalText('Evil\u001b]0;pwned\u0007 GPU\u009b2J'), 'Evil]0;pwned GPU2J');
  assert.equal(terminalText('abc\u202edef'), 'abcdef');
  assert.equal(terminalText('a\n\tb'), 'a\n\tb');
});
