/**
 * `vidpipe validate` on encrypted packages (src/validate/protection.ts): a vidpipe package
 * encrypted with the project's engine passes the protection checks, and each kind of broken
 * signalling or missing sample auxiliary information is reported.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/media.js';
import { edit, makeVidpipePackage, tools, validate, type VidpipePackage } from '../helpers/validate-package.js';
import { validatePackage } from '../../src/validate/index.js';
import { protectPackage, uuidOf, type TestScheme } from '../helpers/protect-package.js';

const KEY = { kid: Buffer.from('5fa0e3c2b1d94e7f8a6b0c1d2e3f4051', 'hex'), key: Buffer.from('9b8a7c6d5e4f30211203f4e5d6c7b8a9', 'hex') };

let dir: string;
let cleanup: () => Promise<void>;
let clear: VidpipePackage;
let copies = 0;

/** The release folder (the one sub-folder holding the tracks) of a package root. */
async function releaseOf(root: string): Promise<string> {
  for (const entry of await readdir(root, { withFileTypes: true })) if (entry.isDirectory()) return join(root, entry.name);
  throw new Error(`no release folder in ${root}`);
}

/** An encrypted copy of the clear package, optionally broken afterwards. */
async function encryptedCopy(scheme: TestScheme, breakIt?: (root: string, release: string) => Promise<void>): Promise<string> {
  const root = join(dir, `copy-${++copies}`);
  await cp(clear.root, root, { recursive: true });
  const release = await releaseOf(root);
  await protectPackage(root, release, scheme, KEY);
  await breakIt?.(root, release);
  return root;
}

const check = (report: Awaited<ReturnType<typeof validate>>, id: string) => report.checks.filter((c) => c.id === id);

before(async () => {
  ({ dir, cleanup } = await tempDir('vidpipe-validate-protection-'));
  clear = await makeVidpipePackage(dir);
});
after(() => cleanup());

describe('validate: content protection', () => {
  it('passes a clear package, and fails one that signals protection over clear segments', async () => {
    const report = await validate(clear.root);
    assert.deepEqual(check(report, 'hls-protection').map((c) => [c.status, c.message]), [['pass', 'clear: no init segment is encrypted and no playlist signals a key']]);
    assert.deepEqual(check(report, 'dash-protection').map((c) => c.status), ['pass']);
    const root = join(dir, 'clear-signalled');
    await cp(clear.root, root, { recursive: true });
    const release = await releaseOf(root);
    await edit(join(release, 'video', 'h264-180p', 'index.m3u8'), (text) => text.replace(/^(#EXT-X-MAP:.*)$/m, '$1\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://x"'));
    await edit(join(root, 'manifest.mpd'), (text) => text.replace(/(<AdaptationSet [^>]*contentType="video"[^>]*>)/, '$1<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs"/>'));
    const broken = await validate(root);
    assert.match(check(broken, 'hls-protection')[0]!.message, /METHOD=SAMPLE-AES but the init segment is clear/);
    assert.match(check(broken, 'dash-protection')[0]!.message, /ContentProtection signalled but the init segment is clear/);
  });

  for (const scheme of ['cbcs', 'cenc'] as const) {
    it(`passes a '${scheme}' package: manifests match the init segments, every fragment has its aux info`, async () => {
      const report = await validate(await encryptedCopy(scheme));
      for (const id of ['hls-protection', 'dash-protection']) {
        const [result] = check(report, id);
        assert.equal(result?.status, 'pass', JSON.stringify(result));
      }
    });
  }

  it('passes an AES-128 package (HLS only)', async () => {
    const report = await validate(await encryptedCopy('aes-128'));
    const [result] = check(report, 'hls-protection');
    assert.equal(result?.status, 'pass', JSON.stringify(result));
  });

  it("fails an MPD whose default_KID is not the init segment's", async () => {
    const root = await encryptedCopy('cbcs', (top) => edit(join(top, 'manifest.mpd'), (text) => text.replaceAll(uuidOf(KEY.kid), '00000000-0000-0000-0000-000000000001')));
    const [result] = check(await validate(root), 'dash-protection');
    assert.equal(result?.status, 'fail');
    assert.match(result!.message, /cenc:default_KID 00000000-0000-0000-0000-000000000001 is not the init's KID 5fa0e3c2b1d94e7f8a6b0c1d2e3f4051/);
  });

  it("fails an MPD value and an HLS METHOD that are not the init's scheme", async () => {
    const root = await encryptedCopy('cbcs', async (top, release) => {
      await edit(join(top, 'manifest.mpd'), (text) => text.replaceAll('value="cbcs"', 'value="cenc"'));
      const playlist = join(release, 'video', 'h264-180p', 'index.m3u8');
      await edit(playlist, (text) => text.replace('METHOD=SAMPLE-AES,', 'METHOD=SAMPLE-AES-CTR,'));
    });
    const report = await validate(root);
    assert.match(check(report, 'dash-protection')[0]!.message, /value="cenc", the init's schm says 'cbcs'/);
    const hls = check(report, 'hls-protection')[0]!;
    assert.equal(hls.status, 'fail');
    assert.match(hls.message, /METHOD=SAMPLE-AES-CTR for a 'cbcs' track \(wants SAMPLE-AES\)/);
  });

  it('fails a fragment without senc, and a playlist that signals no key for an encrypted init', async () => {
    const root = await encryptedCopy('cenc', async (_top, release) => {
      const segment = join(release, 'video', 'h264-180p', 'seg_00002.m4s');
      const bytes = await readFile(segment);
      const at = bytes.indexOf('senc', 0, 'latin1');
      assert.ok(at > 0);
      bytes.write('free', at, 'latin1'); // the box is still there, as padding
      await writeFile(segment, bytes);
      await edit(join(release, 'audio', 'aac-128k', 'index.m3u8'), (text) => text.replace(/^#EXT-X-KEY:.*\n/m, ''));
    });
    const report = await validate(root);
    for (const id of ['hls-protection', 'dash-protection']) {
      const [result] = check(report, id);
      assert.equal(result?.status, 'fail');
      assert.match(JSON.stringify(result!.details), /seg_00002\.m4s: fragment 1: no senc for its \d+ samples/);
    }
    assert.match(JSON.stringify(check(report, 'hls-protection')[0]!.details), /aac-128k\/index\.m3u8: the init segment is 'cenc'-encrypted but no EXT-X-KEY says so/);
  });
});

describe('validate --key: decrypted samples decode', () => {
  const hex = { kid: KEY.kid.toString('hex'), key: KEY.key.toString('hex') };
  const decodeChecks = async (root: string, keys?: { kid: string; key: string }[]) =>
    check(await validatePackage(root, { tools, ...(keys ? { keys } : {}) }), 'decrypted-samples-decode');

  for (const scheme of ['cbcs', 'cenc', 'aes-128'] as const) {
    it(`'${scheme}': the right key decodes every track, a wrong key fails, no key is skipped`, async () => {
      const root = await encryptedCopy(scheme);
      const right = await decodeChecks(root, [hex]);
      // aes-128 is HLS-only (no MPD): one check; 'cbcs'/'cenc' have one for HLS and one for DASH.
      const checks = scheme === 'aes-128' ? 1 : 2;
      assert.deepEqual(right.map((c) => c.status), Array(checks).fill('pass'), JSON.stringify(right));
      assert.match(right[0]!.message, /3 encrypted track\(s\): first and last segment decrypted with the given key decode \(\d+ frames, no error\)/);

      const wrongKey = [{ kid: hex.kid, key: '00112233445566778899aabbccddeeff' }];
      const wrong = await decodeChecks(root, wrongKey);
      assert.equal(wrong[0]!.status, 'fail', JSON.stringify(wrong));
      assert.match(wrong[0]!.message, /h264-180p\/index\.m3u8: decrypted with the key for .*, it does not decode/);
      if (scheme !== 'aes-128') assert.equal(wrong[1]!.status, 'fail');
      assert.doesNotMatch(JSON.stringify(wrong), /00112233445566778899aabbccddeeff/, 'the key is never reported');

      const none = await decodeChecks(root);
      assert.deepEqual(none.map((c) => c.status), Array(checks).fill('skip'));
      assert.match(none[0]!.message, /3 encrypted track\(s\) not decrypted: give the content keys .*--key KID:KEY/);
    });
  }

  it('fails a track whose KID no key names; a clear package has no such check', async () => {
    const root = await encryptedCopy('cbcs');
    const [hls] = await decodeChecks(root, [{ kid: '00000000000000000000000000000001', key: hex.key }]);
    assert.equal(hls?.status, 'fail');
    assert.match(hls!.message, /no --key for its KID 5fa0e3c2b1d94e7f8a6b0c1d2e3f4051/);
    const clearChecks = await decodeChecks(clear.root, [hex]);
    assert.deepEqual(clearChecks, []);
  });
});

