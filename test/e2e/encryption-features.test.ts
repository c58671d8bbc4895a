/**
 * Everything a clear job makes keeps working encrypted (#24), in one small job: a per-title
 * ladder (`--ladder auto`) in two codecs (H.264 and HEVC), the source's audio and a second audio
 * track, a sidecar subtitle track, the poster and the storyboard, I-frame playlists, with a
 * separate key for video and for audio from a key file. The package validates with the keys
 * (`vidpipe validate --key`: signalling matches the init segments, every fragment has its aux
 * info, every encrypted track decrypted by an independent decryptor decodes); subtitles,
 * storyboard and poster stay clear; each I-frame playlist signals the key of its media playlist
 * and points into the same encrypted segments.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeClip } from '../helpers/media.js';
import { readMpd, readPlaylist, resolveUri, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { assertValidatesDecrypted, filesUnder, keyLeaks, keyLeaksUnder } from '../helpers/protected-package.js';

const exec = promisify(execFile);
const VIDEO = { kid: '11111111111111111111111111111111', key: '4f1e2d3c4b5a69788796a5b4c3d2e1f0' };
const AUDIO = { kid: '22222222222222222222222222222222', key: '0a1b2c3d4e5f60718293a4b5c6d7e8f9' };
const uuid = (hex: string) => hex.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

describe('--encrypt cbcs with a per-title ladder in two codecs, two audio tracks, subtitles, thumbnails', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let out: string;

  before(async () => {
    fixture = await transcodeFixture(
      async (dir) => {
        await writeFile(join(dir, 'keys.txt'), `video ${VIDEO.kid}:${VIDEO.key}\naudio ${AUDIO.kid}:${AUDIO.key}\n`);
        await writeFile(join(dir, 'en.srt'), '1\n00:00:00,500 --> 00:00:01,500\nHello\n');
        await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000:duration=4', join(dir, 'dub.m4a')]);
        return makeClip(join(dir, 'film.mp4'), { durationSeconds: 4, width: 256, height: 144 });
      },
      (dir) => [
        '--ladder', 'auto', '--codecs', 'h264,hevc', '--preset', 'ultrafast', '--segment-duration', '2', '--work-dir', join(dir, 'work'),
        '--audio-track', `${join(dir, 'dub.m4a')}:fr`, '--subtitles', `${join(dir, 'en.srt')}:en`,
        '--encrypt', 'cbcs', '--key-file', join(dir, 'keys.txt'),
      ],
    );
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
    out = join(fixture.dir, 'out', 'film');
  });
  after(async () => fixture?.cleanup());

  it('made what the clear job makes: both codecs, both audio tracks, subtitles, poster, storyboard, a per-title ladder', () => {
    const { result } = fixture;
    const videos = result.renditions.filter((r: any) => r.kind === 'video');
    assert.deepEqual([...new Set(videos.map((r: any) => r.codec))].sort(), ['h264', 'hevc']);
    assert.equal(result.renditions.filter((r: any) => r.kind === 'audio').length, 2);
    assert.ok(result.ladder?.rungs?.length > 0, 'the per-title ladder is reported');
    for (const output of ['poster', 'storyboard']) assert.ok(result.outputs[output], `${output} in ${JSON.stringify(result.outputs)}`);
    assert.deepEqual(result.protection, { scheme: 'cbcs', kids: { video: uuid(VIDEO.kid), audio: uuid(AUDIO.kid) }, systems: [] });
  });

  it('validates with the two keys: every encrypted track decrypts and decodes, in HLS and DASH', async () => {
    await assertValidatesDecrypted(out, [VIDEO, AUDIO]);
  });

  it('keeps subtitles, the storyboard and the poster clear, and signals no protection for them', async () => {
    const files = await filesUnder(out);
    const images = files.filter((file) => file.endsWith('.jpg'));
    assert.ok(images.some((file) => file.endsWith('poster.jpg')) && images.some((file) => file.includes('storyboard')), images.join(' '));
    for (const image of images) assert.deepEqual([...(await readFile(image)).subarray(0, 3)], [0xff, 0xd8, 0xff], `${image} is a plain JPEG`);
    const cues = files.filter((file) => file.endsWith('.vtt'));
    assert.ok(cues.some((file) => file.includes('subtitles')), cues.join(' '));
    for (const cue of cues) assert.match(await readFile(cue, 'utf8'), /^WEBVTT/, `${cue} is plain WebVTT`);

    const master = await readPlaylist(join(out, 'master.m3u8'));
    const subtitlePlaylists = new Set<string>(master.variants.flatMap((variant: any) => variant.subtitles.map((s: any) => s.uri)));
    assert.equal(subtitlePlaylists.size, 1);
    for (const uri of subtitlePlaylists) assert.doesNotMatch(await readFile(resolveUri(join(out, 'master.m3u8'), uri), 'utf8'), /#EXT-X-KEY/);
    const { mpd } = await readMpd(join(out, 'manifest.mpd'));
    for (const set of mpd.Period[0].AdaptationSet) {
      const protection = [set.ContentProtection].flat().filter(Boolean);
      if (set.contentType === 'text' || set.contentType === 'image') assert.equal(protection.length, 0, `${set.contentType}: no ContentProtection`);
      else assert.equal(protection[0]['cenc:default_KID'], uuid(set.contentType === 'video' ? VIDEO.kid : AUDIO.kid));
    }
  });

  it('signals in each I-frame playlist the key of its media playlist, over the same encrypted segments', async () => {
    const masterPath = join(out, 'master.m3u8');
    const master = await readPlaylist(masterPath);
    const iframes = master.variants.filter((variant: any) => variant.isIFrameOnly);
    assert.equal(iframes.length, master.variants.length - iframes.length, 'an I-frame playlist per variant');
    for (const variant of iframes) {
      const path = resolveUri(masterPath, variant.uri);
      const media = path.replace(/iframes\.m3u8$/, 'index.m3u8');
      const keyLines = async (file: string) => (await readFile(file, 'utf8')).split('\n').filter((line) => /^#EXT-X-(KEY|MAP):/.test(line));
      const [own, ofMedia] = [await keyLines(path), await keyLines(media)];
      // Key files name no DRM system: the W3C Clear Key line, its data the video KID.
      assert.match(own.join('\n'), new RegExp(`#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;base64,${Buffer.from(VIDEO.kid, 'hex').toString('base64')}"`), `${variant.uri}: the video KID`);
      assert.deepEqual(own, ofMedia, `${variant.uri}: the same EXT-X-MAP and EXT-X-KEY as its media playlist`);
      const iframe = await readPlaylist(path);
      const segments = new Set((await readPlaylist(media)).segments.map((s: any) => s.uri));
      for (const segment of iframe.segments) assert.ok(segments.has(segment.uri), `${segment.uri}: a byte range of an encrypted media segment`);
    }
  });

  it('leaves neither key in the package, the work folder or the database', async () => {
    const keys = [Buffer.from(VIDEO.key, 'hex'), Buffer.from(AUDIO.key, 'hex')];
    const found = [...(await keyLeaksUnder(join(fixture.dir, 'out'), keys)), ...(await keyLeaksUnder(join(fixture.dir, 'work'), keys))];
    for (const file of await filesUnder(fixture.dir)) if (/meta\.db/.test(file)) found.push(...keyLeaks(file, await readFile(file), keys));
    assert.deepEqual(found, []);
  });
});
