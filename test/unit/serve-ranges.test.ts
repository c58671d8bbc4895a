import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRange } from '../../src/serve/ranges.js';

test('no header or a malformed one: the whole file', () => {
  assert.deepEqual(parseRange(undefined, 100), { kind: 'whole' });
  assert.deepEqual(parseRange('items=0-5', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=5-2', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=-', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=abc', 100), { kind: 'whole' });
});

test('the three range forms', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'ranges', ranges: [{ start: 0, end: 9 }] });
  assert.deepEqual(parseRange('bytes=90-', 100), { kind: 'ranges', ranges: [{ start: 90, end: 99 }] });
  assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'ranges', ranges: [{ start: 90, end: 99 }] });
  // An end past the file is clipped; a suffix longer than the file is the whole file.
  assert.deepEqual(parseRange('bytes=50-500', 100), { kind: 'ranges', ranges: [{ start: 50, end: 99 }] });
  assert.deepEqual(parseRange('bytes=-500', 100), { kind: 'ranges', ranges: [{ start: 0, end: 99 }] });
});

test('several ranges, and ranges that miss the file', () => {
  assert.deepEqual(parseRange('bytes=0-1, 4-5,-2', 10), {
    kind: 'ranges',
    ranges: [{ start: 0, end: 1 }, { start: 4, end: 5 }, { start: 8, end: 9 }],
  });
  assert.deepEqual(parseRange('bytes=100-200', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=200-300, 0-0', 100), { kind: 'ranges', ranges: [{ start: 0, end: 0 }] });
});
