import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodedFrameCount, ffprobeJson, makeClip } from '../helpers/media.js';
import { readPlaylist, resolveUri, transcodeFixture, videoPackets, type TranscodeFixture } from '../helpers/package-files.js';

describe('--hls-segments ts (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let source: string;
  let result: any;
  let run: TranscodeFixture['run'];

  before(async () => {
    fixture = await transcodeFixture(
      async (folder) => (source = await makeClip(join(folder, 'clip.mp4'), { durationSeconds: 5, width: 320, height: 180, rate: '30' })),
      ['--no-thumbnails', '--ladder', '144p,90p', '--preset', 'ultrafast', '--segment-duration', '2', '--hls-segments', 'ts'],
    );
    ({ result, run } = fixture);
  });
  after(async () => fixture.cleanup());

  it('writes master.m3u8 as an MPEG-TS multivariant playlist that parses strictly', async () => {
    assert.equal(run.code, 0, run.stderr);
    const text = await readFile(result.outputs.hls, 'utf8');
    // 4: the I-frame playlists use EXT-X-BYTERANGE; the media playlists need only 3 (no EXT-X-MAP).
    assert.match(text, /#EXT-X-VERSION:4\n/);
    const master = await readPlaylist(result.outputs.hls);
    const variants = master.variants.filter((v: any) => !v.isIFrameOnly);
    assert.equal(variants.length, 2);
    for (const variant of variants) {
      assert.match(variant.codecs, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
      assert.equal(variant.audio.length, 0, 'audio is muxed, no group');
      assert.ok(variant.frameRate === 30);
    }
  });

  it('cuts every segment at a key frame, keeps every frame, and states measured bit rates', async () => {
    const masterPath = result.outputs.hls;
    const master = await readPlaylist(masterPath);
    const sourceFrames = await decodedFrameCount(source);
    for (const variant of master.variants.filter((v: any) => !v.isIFrameOnly)) {
      const playlistPath = resolveUri(masterPath, variant.uri);
      const media = await readPlaylist(playlistPath);
      assert.match(await readFile(playlistPath, 'utf8'), /#EXT-X-VERSION:3\n/);
      assert.equal(media.targetDuration, 2);
      assert.equal(media.segments.length, 3);
      let frames = 0;
      let bytes = 0;
      let seconds = 0;
      for (const segment of media.segments) {
        const path = resolveUri(playlistPath, segment.uri);
        const probe = await ffprobeJson(['-show_entries', 'format=format_name:stream=codec_name,codec_type', path]);
        assert.equal(probe.format.format_name, 'mpegts');
        assert.deepEqual(probe.streams.map((s: any) => s.codec_name).sort(), ['aac', 'h264']);
        const packets = await videoPackets(path);
        assert.ok(packets[0]!.key, `${segment.uri} starts with a key frame`);
        frames += packets.length;
        bytes += (await stat(path)).size;
        seconds += segment.duration;
        assert.ok(Math.round(segment.duration) <= media.targetDuration);
      }
      assert.equal(frames, sourceFrames);
      const average = (bytes * 8) / seconds;
      assert.ok(Math.abs(variant.averageBandwidth - average) / average < 0.01, `AVERAGE-BANDWIDTH ${variant.averageBandwidth} vs ${average}`);
      assert.ok(variant.bandwidth >= variant.averageBandwidth);
    }
  });

  it('writes I-frame playlists whose byte ranges each demux on their own to one key frame', async () => {
    const masterPath = result.outputs.hls;
    const master = await readPlaylist(masterPath);
    const iFrameVariants = master.variants.filter((v: any) => v.isIFrameOnly);
    assert.equal(iFrameVariants.length, 2);
    for (const variant of iFrameVariants) {
      assert.match(variant.codecs, /^avc1\.[0-9a-f]{6}$/);
      const playlistPath = resolveUri(masterPath, variant.uri);
      const playlist = await readPlaylist(playlistPath);
      assert.equal(playlist.segments.length, 3, 'one key frame per 2 s');
      for (const entry of playlist.segments) {
        const bytes = (await readFile(resolveUri(playlistPath, entry.uri))).subarray(entry.byterange.offset, entry.byterange.offset + entry.byterange.length);
        const rangePath = join(fixture.dir, 'range.ts');
        await writeFile(rangePath, bytes);
        const packets = await videoPackets(rangePath);
        assert.equal(packets.length, 1, `${entry.uri}@${entry.byterange.offset}`);
        assert.ok(packets[0]!.key);
      }
    }
  });

  it('still writes the DASH MPD over the CMAF segments', async () => {
    const mpd = await readFile(result.outputs.dash, 'utf8');
    assert.match(mpd, /codecs="avc1\./);
  });
});
