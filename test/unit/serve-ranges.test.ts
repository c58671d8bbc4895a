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
  assert.deepEqual(parseRange('bytes=0-1, 400-500,-2', 1000), {
    kind: 'ranges',
    ranges: [{ start: 0, end: 1 }, { start: 400, end: 500 }, { start: 998, end: 999 }],
  });
  assert.deepEqual(parseRange('bytes=100-200', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=200-300, 0-0', 100), { kind: 'ranges', ranges: [{ start: 0, end: 0 }] });
});

test('overlapping and adjacent ranges are merged: no byte is sent twice', () => {
  const whole = { kind: 'ranges', ranges: [{ start: 0, end: 29_999 }] };
  // The amplification of the issue: 50 times the whole file.
  assert.deepEqual(parseRange(`bytes=${Array(50).fill('0-').join(',')}`, 30_000), whole);
  assert.deepEqual(parseRange('bytes=0-,-500,100-', 30_000), whole);
  assert.deepEqual(parseRange('bytes=0-99,100-199,200-', 30_000), whole);
  assert.deepEqual(parseRange('bytes=0-0,-1', 1), { kind: 'ranges', ranges: [{ start: 0, end: 0 }] });
  assert.deepEqual(parseRange('bytes=500-999,0-599,2000-2099', 30_000), {
    kind: 'ranges',
    ranges: [{ start: 0, end: 999 }, { start: 2000, end: 2099 }],
  });
  // Disjoint ranges keep the order they were asked in (RFC 9110 §15.3.7.2), merged ones the first of theirs.
  assert.deepEqual(parseRange('bytes=-1000,0-0,5000-5999,100-200,150-300', 30_000), {
    kind: 'ranges',
    ranges: [{ start: 29_000, end: 29_999 }, { start: 0, end: 0 }, { start: 5000, end: 5999 }, { start: 100, end: 300 }],
  });
});

test('a multipart answer never costs more than the file: the file instead', () => {
  // Many one-byte ranges with gaps: on a small file the part headers would outweigh it.
  const comb = Array.from({ length: 50 }, (_, i) => `${i * 2}-${i * 2}`).join(',');
  assert.equal((parseRange(`bytes=${comb}`, 30_000) as { ranges: unknown[] }).ranges.length, 50);
  assert.deepEqual(parseRange(`bytes=${comb}`, 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-0,-1', 100), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-0,-1', 30_000), { kind: 'ranges', ranges: [{ start: 0, end: 0 }, { start: 29_999, end: 29_999 }] });
  // More ranges than any player asks for: ignored.
  assert.deepEqual(parseRange(`bytes=${Array.from({ length: 51 }, (_, i) => `${i * 1000}-${i * 1000 + 9}`).join(',')}`, 1_000_000), { kind: 'whole' });
  // Malformed members make the header ignored, whatever else it holds.
  assert.deepEqual(parseRange('bytes=0-9,x-y', 30_000), { kind: 'whole' });
  assert.deepEqual(parseRange('bytes=0-9,20-10', 30_000), { kind: 'whole' });
  // Out of bounds members are dropped; none left is 416.
  assert.deepEqual(parseRange('bytes=40000-,0-9', 30_000), { kind: 'ranges', ranges: [{ start: 0, end: 9 }] });
  assert.deepEqual(parseRange('bytes=40000-,50000-50001', 30_000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
});
