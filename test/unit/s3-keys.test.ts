/**
 * Object keys and watched prefixes are literal: decoding of URL-encoded keys (listings with
 * encoding-type=url, S3 event notifications), the watch target and --prefix, and object URIs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VidpipeError } from '../../src/errors.js';
import { parseWatchTarget } from '../../src/cli/commands/watch.js';
import { decodeFormEncodedKey, formatS3Uri, literalPrefix, parseObjectUri } from '../../src/storage/uri.js';
import { parseS3Notification } from '../../src/watch/sqs.js';
import { ODD_KEY_NAMES } from '../helpers/key-faithful-s3.js';

/** What AWS sends for a key with encoding-type=url and in event notifications. */
const formEncode = (key: string): string => encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+');

describe('URL-encoded keys', () => {
  it('decode back to the exact key: control characters, spaces as +, literal + and %, unicode', () => {
    for (const name of ODD_KEY_NAMES) {
      const key = `in/${name}`;
      assert.equal(decodeFormEncodedKey(formEncode(key)), key, JSON.stringify(key));
      assert.equal(decodeFormEncodedKey(encodeURIComponent(key)), key, 'a %20 for a space and an encoded / decode too');
    }
    assert.equal(decodeFormEncodedKey('a+b%2Bc%25d'), 'a b+c%d');
    assert.equal(decodeFormEncodedKey('%0D%0A%09%01'), '\r\n\t\u0001');
  });

  it('refuses what is not URL encoding instead of guessing', () => {
    assert.throws(() => decodeFormEncodedKey('100%.mp4'), (e: unknown) => e instanceof VidpipeError && /not valid URL encoding/.test(e.message));
  });

  it('S3 event notifications give the exact keys', () => {
    const record = (key: string) => ({ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'inbox' }, object: { key: formEncode(key) } } });
    const keys = ODD_KEY_NAMES.map((name) => `up/${name}`);
    const parsed = parseS3Notification(JSON.stringify({ Records: keys.map(record) }));
    assert.deepEqual(parsed.objects.map((o) => o.key), keys);
  });

  it('an s3:// object URI keeps its key exactly, trailing spaces and line breaks included', () => {
    for (const name of ODD_KEY_NAMES) {
      const key = `in/${name}`;
      assert.deepEqual(parseObjectUri(formatS3Uri('inbox', key)), { bucket: 'inbox', key });
      assert.deepEqual(parseObjectUri(`  ${formatS3Uri('inbox', key)}`), { bucket: 'inbox', key }, 'whitespace before the scheme is not part of the key');
    }
    assert.deepEqual(parseObjectUri('s3://inbox//lead/a.mp4'), { bucket: 'inbox', key: '/lead/a.mp4' });
  });
});

describe('watched prefixes are literal', () => {
  it('literalPrefix keeps leading and doubled slashes and only adds a missing trailing one', () => {
    assert.equal(literalPrefix(''), '');
    assert.equal(literalPrefix('lead'), 'lead/');
    assert.equal(literalPrefix('lead/'), 'lead/');
    assert.equal(literalPrefix('/lead/'), '/lead/');
    assert.equal(literalPrefix('/lead'), '/lead/');
    assert.equal(literalPrefix('//x/'), '//x/');
    assert.equal(literalPrefix('a//b'), 'a//b/');
  });

  it('the s3:// URI and --prefix give the same prefix for the same text', () => {
    const cases: Array<[string, string]> = [
      ['/lead/', '/lead/'],
      ['lead/', 'lead/'],
      ['lead', 'lead/'],
      ['//x/', '//x/'],
      ['a//b/', 'a//b/'],
      ['up loads+/', 'up loads+/'],
    ];
    for (const [text, expected] of cases) {
      assert.deepEqual(parseWatchTarget(`s3://inbox/${text}`, undefined), { bucket: 'inbox', prefix: expected }, `s3://inbox/${text}`);
      assert.deepEqual(parseWatchTarget('inbox', text), { bucket: 'inbox', prefix: expected }, `--prefix ${text}`);
      assert.deepEqual(parseWatchTarget('s3://inbox', text), { bucket: 'inbox', prefix: expected });
      assert.deepEqual(parseWatchTarget('s3://inbox/', text), { bucket: 'inbox', prefix: expected });
      assert.deepEqual(parseWatchTarget(`s3://inbox/${text}`, text), { bucket: 'inbox', prefix: expected }, 'the same prefix twice');
    }
    assert.deepEqual(parseWatchTarget('inbox', ''), { bucket: 'inbox', prefix: '' });
    assert.deepEqual(parseWatchTarget('s3://inbox', undefined), { bucket: 'inbox', prefix: '' });
  });

  it('two different prefixes (URI and --prefix) are refused, naming both', () => {
    for (const [uri, flag] of [['s3://inbox/a/', 'b/'], ['s3://inbox/lead/', '/lead/'], ['s3://inbox/x/', '']]) {
      assert.throws(
        () => parseWatchTarget(uri!, flag),
        (e: unknown) => e instanceof VidpipeError && e.code === 'USAGE' && /two prefixes/.test(e.message) && e.message.includes(uri!) && e.hint !== undefined,
      );
    }
  });
});
