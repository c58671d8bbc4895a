import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseWebVtt, type Cue } from '../../src/core/stages/subtitles.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { readMpd, readPlaylist, resolveUri, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';

const exec = promisify(execFile);

const ENGLISH_SRT = '1\n00:00:00,500 --> 00:00:02,500\nHello <i>world</i>\n\n2\n00:00:03,000 --> 00:00:04,800\nSecond cue\nline two\n';
const FRENCH_SRT = '1\n00:00:01,000 --> 00:00:03,250\nBonjour\n\n2\n00:00:04,000 --> 00:00:04,500\nÀ bientôt\n';

/** Cues of a segmented WebVTT rendition: a cue repeated across segments counts once. */
function uniqueCues(segments: Cue[][]): Cue[] {
  const seen = new Map<string, Cue>();
  for (const cue of segments.flat()) seen.set(`${cue.start}|${cue.end}|${cue.text}`, cue);
  return [...seen.values()].sort((a, b) => a.start - b.start);
}

describe('audio tracks and subtitles (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let source: string;
  let result: any;
  let run: TranscodeFixture['run'];

  /** Two audio streams (eng default, fra) and an English subrip stream; a French sidecar beside it. */
  async function makeFilm(dir: string): Promise<string> {
    await writeFile(join(dir, 'en.srt'), ENGLISH_SRT);
    await writeFile(join(dir, 'fr.srt'), FRENCH_SRT);
    source = join(dir, 'film.mkv');
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=5',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=5',
      '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000:duration=5',
      '-i', join(dir, 'en.srt'),
      '-map', '0', '-map', '1', '-map', '2', '-map', '3',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-c:s', 'srt',
      '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-metadata:s:s:0', 'language=eng',
      '-disposition:a:0', 'default', '-disposition:a:1', '0',
      source,
    ]);
    return source;
  }

  before(async () => {
    fixture = await transcodeFixture(makeFilm, (dir) => [
      '--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--subtitles', `${join(dir, 'fr.srt')}:fr`,
    ]);
    ({ result, run } = fixture);
  });
  after(async () => fixture.cleanup());

  it('lists both audio streams in HLS: BCP 47 language, unique NAME, the source default as DEFAULT', async () => {
    assert.equal(run.code, 0, run.stderr);
    const master = await readPlaylist(result.outputs.hls);
    const variant = master.variants[0];
    const audio = variant.audio.map((a: any) => ({ language: a.language, name: a.name, isDefault: a.isDefault, autoselect: a.autoselect, channels: a.channels }));
    assert.deepEqual(audio, [
      { language: 'en', name: 'English', isDefault: true, autoselect: true, channels: '2' },
      { language: 'fr', name: 'Français', isDefault: false, autoselect: true, channels: '2' },
    ]);
    assert.equal(variant.closedCaptions.length, 0);
    assert.match(await readFile(result.outputs.hls, 'utf8'), /CLOSED-CAPTIONS=NONE/);
  });

  it('gives DASH one audio AdaptationSet per language, the default one with Role main, the other alternate', async () => {
    const { mpd } = await readMpd(result.outputs.dash);
    const audio = mpd.Period[0].AdaptationSet.filter((s: any) => s.contentType === 'audio');
    assert.deepEqual(audio.map((s: any) => [s.lang, s.Role?.[0]?.value]), [['en', 'main'], ['fr', 'alternate']]);
  });

  it('turns the subrip stream and the sidecar into segmented WebVTT with the timestamp map, cues intact', async () => {
    const masterPath = result.outputs.hls;
    const master = await readPlaylist(masterPath);
    const subtitles = master.variants[0].subtitles;
    assert.deepEqual(subtitles.map((s: any) => [s.language, s.name, s.isDefault]), [['en', 'English', false], ['fr', 'Français', false]]);
    const videoPlaylist = await readPlaylist(resolveUri(masterPath, master.variants[0].uri));

    // The source stream as ffmpeg reads it (timestamps on the container timeline), and the sidecar as written.
    const { stdout: sourceVtt } = await exec('ffmpeg', ['-v', 'error', '-i', source, '-map', '0:s:0', '-f', 'webvtt', '-']);
    const expected = [parseWebVtt(sourceVtt), parseWebVtt(`WEBVTT\n\n${FRENCH_SRT.replace(/,/g, '.')}`)];
    for (const [i, rendition] of subtitles.entries()) {
      const playlistPath = resolveUri(masterPath, rendition.uri);
      const playlist = await readPlaylist(playlistPath);
      assert.equal(playlist.segments.length, videoPlaylist.segments.length, 'one WebVTT segment per video segment');
      playlist.segments.forEach((segment: any, k: number) => assert.ok(Math.abs(segment.duration - videoPlaylist.segments[k].duration) < 0.001));
      const texts = await Promise.all(playlist.segments.map((s: any) => readFile(resolveUri(playlistPath, s.uri), 'utf8')));
      for (const text of texts) assert.match(text, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00\.000\n/);
      const cues = uniqueCues(texts.map(parseWebVtt));
      assert.deepEqual(cues.map((c) => [c.start, c.end, c.text]), expected[i]!.map((c) => [c.start, c.end, c.text]));
    }
    assert.ok(expected[0]!.some((c) => c.text === 'Hello <i>world</i>'));
  });

  it('references a whole-file WebVTT per language from the DASH text AdaptationSets', async () => {
    const { mpd, base } = await readMpd(result.outputs.dash);
    const text = mpd.Period[0].AdaptationSet.filter((s: any) => s.contentType === 'text');
    assert.deepEqual(text.map((s: any) => [s.lang, s.mimeType]), [['en', 'text/vtt'], ['fr', 'text/vtt']]);
    const french = parseWebVtt(await readFile(join(base, text[1].Representation[0].BaseURL[0]), 'utf8'));
    assert.deepEqual(french.map((c) => [c.start, c.end, c.text]), [[1, 3.25, 'Bonjour'], [4, 4.5, 'À bientôt']]);
  });
});

describe('sidecar subtitles that are not valid (end to end)', { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 2, width: 160, height: 90 });
  });
  after(async () => cleanup());

  const transcode = (name: string, sidecar: string) =>
    runCli(['transcode', clip, '--out', join(dir, name), '--db', join(dir, 'meta.db'), '--json', '--progress', 'none', '--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--subtitles', `${sidecar}:en`]);

  it('refuses binary garbage and a file with no valid cue with exit 2 naming the file, before any encode', async () => {
    const garbage = Buffer.alloc(4096);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    const cases: [string, string | Buffer, RegExp][] = [
      ['garbage.srt', garbage, /garbage\.srt: the file is not text \(binary data\)/],
      ['impossible.srt', '1\n00:00:61,000 --> 00:00:62,000\nBroken\n', /impossible\.srt: no valid cue; line 2: "00:00:61,000" has seconds past 59/],
    ];
    for (const [name, content, pattern] of cases) {
      await writeFile(join(dir, name), content);
      const run = await transcode(`out-${name}`, join(dir, name));
      assert.equal(run.code, 2, run.stderr);
      const result = JSON.parse(run.stdout.trim());
      assert.match(result.error.message, pattern);
      assert.equal(existsSync(join(dir, `out-${name}`)), false, 'nothing published');
    }
  });

  it('leaves out the bad cues among good ones, says so in the result, and publishes only the good ones', async () => {
    const sidecar = join(dir, 'mixed.srt');
    await writeFile(sidecar, '1\r\n00:00:00,500 --> 00:00:01,000\r\nGood one\r\n\r\n2\r\n00:00:61,000 --> 00:00:62,000\r\nBroken\r\n\r\n3\r\nxx --> 00:00:01,500\r\nBroken too\r\n\r\n4\r\n00:00:01,200 --> 00:00:01,800\r\nGood two\r\n\r\n5\r\n0:0:1,85 --> 00:00:01.9\r\nNext --> exit\r\n');
    const run = await transcode('out-mixed', sidecar);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout.trim());
    assert.deepEqual(result.source.notes.map((n: string) => /mixed\.srt: line (\d+): .*left out/.exec(n)?.[1]), ['6', '10']);
    const { mpd, base } = await readMpd(result.outputs.dash);
    const text = mpd.Period[0].AdaptationSet.find((s: any) => s.contentType === 'text');
    const published = await readFile(join(base, text.Representation[0].BaseURL[0]), 'utf8');
    assert.deepEqual(parseWebVtt(published).map((c) => [c.start, c.end, c.text]), [[0.5, 1, 'Good one'], [1.2, 1.8, 'Good two'], [1.85, 1.9, 'Next --&gt; exit']]);
    assert.doesNotMatch(published, /Broken|-->\s*00:00:62|xx/);
  });
});
