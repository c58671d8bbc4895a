/**
 * Encrypts a clear vidpipe package in place with the project's protection engine, and signals it
 * in its manifests as vidpipe's writers do (EXT-X-KEY after EXT-X-MAP, ContentProtection on the
 * audio and video AdaptationSets): what the serve and validate tests play and check until
 * `--encrypt` makes such packages itself. I-frame playlists are dropped (their byte ranges point
 * into the clear segments).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commonPssh } from '../../src/protection/cenc-boxes.js';
import { protectInitSegment, protectMediaSegment } from '../../src/protection/cenc-file.js';
import { encryptAes128Segment, mediaSequenceIv } from '../../src/protection/aes-128.js';

export type TestScheme = 'cenc' | 'cbcs' | 'aes-128';

export interface TestKey {
  kid: Buffer;
  key: Buffer;
}

/** Where the playlists point for the key: a place no test can reach, so players must be given the key. */
export const UNREACHABLE_KEY_URI = 'https://keys.invalid/vidpipe-test-key';

export const uuidOf = (kid: Buffer): string => kid.toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

/** The track folders (video/<id>, audio/<id>) of a release folder. */
export async function trackFolders(release: string): Promise<string[]> {
  const found: string[] = [];
  for (const kind of ['video', 'audio']) {
    const names = await readdir(join(release, kind)).catch(() => [] as string[]);
    for (const name of names) found.push(join(release, kind, name));
  }
  return found;
}

/** Encrypts every track of the package whose entry manifests sit in `top` and whose files are in `release`. */
export async function protectPackage(top: string, release: string, scheme: TestScheme, key: TestKey): Promise<void> {
  const method = scheme === 'aes-128' ? 'AES-128' : scheme === 'cbcs' ? 'SAMPLE-AES' : 'SAMPLE-AES-CTR';
  const keyTag = `#EXT-X-KEY:METHOD=${method},URI="${UNREACHABLE_KEY_URI}"${scheme === 'aes-128' ? '' : ',KEYFORMAT="identity",KEYFORMATVERSIONS="1"'}`;
  for (const folder of await trackFolders(release)) {
    const names = (await readdir(folder)).sort();
    const segments = names.filter((name) => /^seg_\d+\.m4s$/.test(name));
    const clearInit = await readFile(join(folder, 'init.mp4'));
    if (scheme === 'aes-128') {
      // No IV attribute: each segment's IV is its media sequence number (the playlists start at 0).
      for (const [index, name] of segments.entries()) {
        await writeFile(join(folder, name), encryptAes128Segment(await readFile(join(folder, name)), key.key, mediaSequenceIv(index)));
      }
    } else {
      const settings = { scheme, key, constantIv: randomBytes(16) };
      for (const name of segments) await writeFile(join(folder, name), protectMediaSegment(await readFile(join(folder, name)), clearInit, settings));
      await writeFile(join(folder, 'init.mp4'), protectInitSegment(clearInit, settings));
    }
    const playlist = await readFile(join(folder, 'index.m3u8'), 'utf8');
    await writeFile(join(folder, 'index.m3u8'), playlist.replace(/^(#EXT-X-MAP:.*)$/m, `$1\n${keyTag}`));
    await rm(join(folder, 'iframes.m3u8'), { force: true });
  }
  for (const dir of [top, release]) {
    const master = join(dir, 'master.m3u8');
    const text = await readFile(master, 'utf8').catch(() => undefined);
    if (text !== undefined) await writeFile(master, text.split('\n').filter((line) => !line.startsWith('#EXT-X-I-FRAME-STREAM-INF')).join('\n'));
    const mpdFile = join(dir, 'manifest.mpd');
    const mpd = await readFile(mpdFile, 'utf8').catch(() => undefined);
    if (mpd === undefined) continue;
    if (scheme === 'aes-128') {
      await rm(mpdFile); // DASH cannot signal whole-segment AES-128
      continue;
    }
    const protection = [
      `<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="${scheme}" cenc:default_KID="${uuidOf(key.kid)}"/>`,
      `<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0"/>`,
      `<ContentProtection schemeIdUri="urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"><cenc:pssh>${commonPssh([key.kid]).toString('base64')}</cenc:pssh></ContentProtection>`,
    ].join('\n      ');
    await writeFile(
      mpdFile,
      mpd
        .replace('<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"', '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013"')
        .replace(/(<AdaptationSet [^>]*contentType="(?:video|audio)"[^>]*>)/g, `$1\n      ${protection}`),
    );
  }
}
