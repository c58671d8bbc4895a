/**
 * `vidpipe serve --clear-key KID:KEY`: parsed into hex key pairs, a secret setting (never shown as
 * a default, left out of every shareable copy, never echoed by an error), and put into the served
 * player page only when given.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseServeOptions, SERVE_OPTIONS } from '../../src/settings/command-options.js';
import { renderPlayerPage } from '../../src/serve/page.js';
import type { PackageLayout } from '../../src/serve/package-layout.js';

const KID = '5fa0e3c2b1d94e7f8a6b0c1d2e3f4051';
const KEY = '9b8a7c6d5e4f30211203f4e5d6c7b8a9';

describe('--clear-key', () => {
  it('takes repeated KID:KEY pairs in hex, a KID also in UUID form', () => {
    const options = parseServeOptions({ clearKey: [`${KID}:${KEY}`, `5FA0E3C2-B1D9-4E7F-8A6B-0C1D2E3F4052:${KEY.toUpperCase()}`] });
    assert.deepEqual(options.clearKeys, [
      { kid: KID, key: KEY },
      { kid: '5fa0e3c2b1d94e7f8a6b0c1d2e3f4052', key: KEY },
    ]);
    assert.equal(parseServeOptions({}).clearKeys, undefined);
  });

  it('refuses a malformed pair without echoing it', () => {
    for (const bad of [`${KID}`, `${KID}:${KEY}00`, `${KID.slice(2)}:${KEY}`, `${KID}:zz${KEY.slice(2)}`]) {
      assert.throws(
        () => parseServeOptions({ clearKey: [bad] }),
        (error: Error) => /KID:KEY/.test(error.message) && !error.message.includes(KEY.slice(4)) && !error.message.includes(KID.slice(4)),
      );
    }
  });

  it('is a secret option: no default shown', () => {
    const spec = SERVE_OPTIONS.find((option) => option.flags.startsWith('--clear-key'));
    assert.ok(spec);
    assert.equal(spec.defaultValue, undefined);
  });

  it('goes into the player page only when given', () => {
    const layout: PackageLayout = { base: '/', title: 'clip', hls: '/master.m3u8', dash: '/manifest.mpd' } as PackageLayout;
    assert.doesNotMatch(renderPlayerPage(layout, 'shaka'), /"clearKeys":\[\{/);
    const page = renderPlayerPage(layout, 'shaka', undefined, [{ kid: KID, key: KEY }]);
    assert.match(page, new RegExp(`"clearKeys":\\[\\{"kid":"${KID}","key":"${KEY}"\\}\\]`));
  });
});
