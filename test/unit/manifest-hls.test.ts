import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import * as HLS from 'hls-parser';
import {
  commonTargetDuration,
  writeIFramePlaylist,
  writeMediaPlaylist,
  writeMultivariantPlaylist,
  writeSubtitlePlaylist,
} from '../../src/manifest/hls.js';
import type { PackageModel } from '../../src/manifest/model.js';
import {
  AUDIO_TIMESCALE,
  DURATION_SECONDS,
  VIDEO_TIMESCALE,
  audioTrack,
  sampleModel,
  segmentsFor,
  subtitleTrack,
  videoTrack,
} from '../helpers/manifest-model.js';

type MasterPlaylist = HLS.types.MasterPlaylist;
type MediaPlaylist = HLS.types.MediaPlaylist;

function parseMaster(text: string): MasterPlaylist {
  const playlist = HLS.parse(text);
  assert.ok(playlist.isMasterPlaylist, 'expected a multivariant playlist');
  return playlist as MasterPlaylist;
}

function parseMedia(text: string): MediaPlaylist {
  const playlist = HLS.parse(text);
  assert.ok(!playlist.isMasterPlaylist, 'expected a media playlist');
  return playlist as MediaPlaylist;
}

/** The same text with a lower EXT-X-VERSION must be rejected, proving the written one is the lowest. */
function assertVersionIsLowest(text: string, version: number): void {
  assert.match(text, new RegExp(`^#EXT-X-VERSION:${version}$`, 'm'));
  const lower = text.replace(`#EXT-X-VERSION:${version}`, `#EXT-X-VERSION:${version - 1}`);
  assert.throws(() => HLS.parse(lower), /EXT-X-VERSION needs to be/);
}

/** Resolves a playlist-relative URI the way a client does, back to a package-root path. */
function resolveFrom(playlistUri: string, uri: string): string {
  return new URL(uri, `http://x/${playlistUri}`).href.slice('http://x/'.length);
}

function streamInfLines(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('#EXT-X-STREAM-INF:'));
}

function assertTargetDurationRule(playlist: MediaPlaylist): void {
  for (const segment of playlist.segments) {
    assert.ok(Math.round(segment.duration) <= playlist.targetDuration, `EXTINF ${segment.duration} exceeds TD`);
  }
}

/** Rules 15, 18, 21: what every VOD media playlist of the package must satisfy. */
function assertVodPlaylist(playlist: MediaPlaylist): void {
  assert.equal(playlist.playlistType, 'VOD');
  assert.equal(playlist.endlist, true);
  assert.equal(playlist.mediaSequenceBase, 0);
  assertTargetDurationRule(playlist);
}

before(() => HLS.setOptions({ strictMode: true }));

describe('writeMultivariantPlaylist', () => {
  it('is a strict-valid multivariant playlist declaring the version its fMP4 media need and independent segments', () => {
    const text = writeMultivariantPlaylist(sampleModel());
    const master = parseMaster(text);
    assert.ok(text.startsWith('#EXTM3U\n'));
    assert.equal(master.version, 6);
    assert.equal(master.independentSegments, true);
    assert.doesNotMatch(text, /#EXTINF|#EXT-X-TARGETDURATION/);
  });

  it('declares each AAC track as a TYPE=AUDIO rendition and keeps Opus out of HLS', () => {
    const text = writeMultivariantPlaylist(sampleModel());
    const renditions = parseMaster(text).variants[0].audio;
    assert.deepEqual(
      renditions.map((r) => [r.groupId, r.name, r.language, r.isDefault, r.autoselect, r.channels, r.uri]),
      [
        ['audio-aac', 'English', 'en', true, true, '2', 'audio/aac-en/index.m3u8'],
        ['audio-aac', 'Français', 'fr', false, true, '2', 'audio/aac-fr/index.m3u8'],
      ],
    );
    assert.doesNotMatch(text, /opus|audio-opus/i);
  });

  it('declares subtitles with GROUP-ID, NAME, LANGUAGE, DEFAULT, AUTOSELECT, FORCED=NO and URI', () => {
    const master = parseMaster(writeMultivariantPlaylist(sampleModel()));
    const [subtitles] = master.variants[0].subtitles;
    assert.equal(subtitles.groupId, 'subs');
    assert.equal(subtitles.name, 'English');
    assert.equal(subtitles.language, 'en');
    assert.equal(subtitles.isDefault, true);
    assert.equal(subtitles.autoselect, true);
    assert.equal(subtitles.forced, false);
    assert.equal(subtitles.uri, 'subtitles/sub-en/index.m3u8');
  });

  it('writes one variant per video with BANDWIDTH and AVERAGE-BANDWIDTH summed with the largest audio of the group', () => {
    const model = sampleModel();
    const variants = parseMaster(writeMultivariantPlaylist(model)).variants.filter((v) => !v.isIFrameOnly);
    assert.equal(variants.length, 3);
    for (const video of model.videos) {
      const variant = variants.find((v) => v.uri === video.playlistUri);
      assert.ok(variant, `variant for ${video.id}`);
      // Peak: French 150k is the group's largest; average: English 130k is.
      assert.equal(variant.bandwidth, video.peakBitrate + 150_000);
      assert.equal(variant.averageBandwidth, video.averageBitrate + 130_000);
      assert.equal(variant.codecs, 'avc1.64001f,mp4a.40.2');
      assert.deepEqual(variant.resolution, { width: video.width, height: video.height });
      assert.equal(variant.audio[0].groupId, 'audio-aac');
      assert.equal(variant.subtitles[0].groupId, 'subs');
    }
  });

  it('writes FRAME-RATE with 3 decimals, CLOSED-CAPTIONS=NONE, and no VIDEO-RANGE for SDR', () => {
    const model = sampleModel();
    model.videos[0].frameRate = { num: 25, den: 1 };
    const lines = streamInfLines(writeMultivariantPlaylist(model));
    assert.ok(lines.every((line) => /CLOSED-CAPTIONS=NONE/.test(line)));
    assert.ok(lines.every((line) => !/VIDEO-RANGE/.test(line)));
    assert.deepEqual(
      lines.map((line) => /FRAME-RATE=([\d.]+)/.exec(line)?.[1]).sort(),
      ['25.000', '29.970', '29.970'],
    );
  });

  it('lists the variant nearest 2000 kb/s first, then the rest by ascending BANDWIDTH', () => {
    const variants = parseMaster(writeMultivariantPlaylist(sampleModel())).variants.filter((v) => !v.isIFrameOnly);
    assert.deepEqual(
      variants.map((v) => v.uri),
      ['video/h264-540p/index.m3u8', 'video/h264-360p/index.m3u8', 'video/h264-720p/index.m3u8'],
    );
  });

  it('starts with an H.264 variant even when another codec is nearer 2000 kb/s', () => {
    const model = sampleModel();
    model.videos = [
      videoTrack('h264-720p', 'h264', 1280, 720, 3_500_000, 3_000_000),
      videoTrack('h264-360p', 'h264', 640, 360, 500_000, 400_000),
      videoTrack('av1-540p', 'av1', 960, 540, 2_200_000, 1_900_000),
    ];
    const variants = parseMaster(writeMultivariantPlaylist(model)).variants.filter((v) => !v.isIFrameOnly);
    assert.equal(variants[0].uri, 'video/h264-720p/index.m3u8');
    assert.deepEqual(
      variants.slice(1).map((v) => v.uri),
      ['video/h264-360p/index.m3u8', 'video/av1-540p/index.m3u8'],
    );
    assert.equal(variants[2].codecs, 'av01.0.08M.08,mp4a.40.2');
  });

  it('writes VIDEO-RANGE on HDR variants and their I-frame streams only', () => {
    const model = sampleModel();
    model.videos.push(
      videoTrack('hevc-1080p', 'hevc', 1920, 1080, 6_000_000, 5_000_000, { videoRange: 'PQ' }),
    );
    const master = parseMaster(writeMultivariantPlaylist(model));
    const hdr = master.variants.filter((v) => v.uri.includes('hevc-1080p'));
    assert.equal(hdr.length, 2);
    assert.ok(hdr.every((v) => v.videoRange === 'PQ'));
    const text = writeMultivariantPlaylist(model);
    assert.equal(text.match(/VIDEO-RANGE=/g)?.length, 2);
  });

  it('writes one variant per audio group, each counting its own group', () => {
    const model = sampleModel();
    model.audios.push(
      audioTrack('aac-he', 'aac', 'en', 'English HE-AAC', 70_000, 64_000, {
        groupId: 'audio-aac-he',
        codecs: 'mp4a.40.5',
        isDefault: true,
      }),
    );
    const variants = parseMaster(writeMultivariantPlaylist(model)).variants.filter((v) => !v.isIFrameOnly);
    assert.equal(variants.length, 6);
    const he = variants.find((v) => v.uri === 'video/h264-720p/index.m3u8' && v.audio[0].groupId === 'audio-aac-he');
    assert.ok(he);
    assert.equal(he.bandwidth, 3_500_000 + 70_000);
    assert.equal(he.codecs, 'avc1.64001f,mp4a.40.5');
  });

  it('writes 5.1 AAC and E-AC-3 groups with CHANNELS="6" and ec-3 in CODECS, and still starts with stereo', () => {
    const model = sampleModel();
    // Surround variants' average rates sit nearer 2000 kb/s than any stereo one: stereo must still go first.
    model.videos = [videoTrack('h264-540p', 'h264', 960, 540, 1_900_000, 1_700_000), videoTrack('h264-360p', 'h264', 640, 360, 700_000, 600_000)];
    const defaultAudio = model.audios.find((track) => track.isDefault)!;
    model.audios.push(
      audioTrack('aac-5.1-384k', 'aac', defaultAudio.language, defaultAudio.name, 400_000, 384_000, { groupId: 'audio-aac-6ch', channels: 6, isDefault: true }),
      audioTrack('eac3-5.1-192k', 'eac3', defaultAudio.language, defaultAudio.name, 200_000, 192_000, { groupId: 'audio-eac3-6ch', channels: 6, codecs: 'ec-3', isDefault: true }),
    );
    const text = writeMultivariantPlaylist(model);
    const master = parseMaster(text);
    const variants = master.variants.filter((v) => !v.isIFrameOnly);
    assert.equal(variants[0].audio[0].groupId, 'audio-aac', 'the first variant plays stereo');
    const eac3 = variants.filter((v) => v.audio[0].groupId === 'audio-eac3-6ch');
    assert.deepEqual(eac3.map((v) => v.codecs), ['avc1.64001f,ec-3', 'avc1.64001f,ec-3']);
    assert.match(text, /#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-eac3-6ch",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="audio\/eac3-5.1-192k\/index.m3u8"/);
    assert.match(text, /GROUP-ID="audio-aac-6ch",[^\n]*CHANNELS="6"/);
  });

  it('writes one I-frame stream per video with measured BANDWIDTH, video-only CODECS, RESOLUTION and URI', () => {
    const model = sampleModel();
    const iFrames = parseMaster(writeMultivariantPlaylist(model)).variants.filter((v) => v.isIFrameOnly);
    assert.equal(iFrames.length, 3);
    for (const video of model.videos) {
      const variant = iFrames.find((v) => v.uri === video.iFramePlaylistUri);
      assert.ok(variant, `I-frame stream of ${video.id}`);
      assert.equal(variant.bandwidth, video.iFramePeakBitrate);
      assert.equal(variant.averageBandwidth, video.iFrameAverageBitrate);
      assert.equal(variant.codecs, video.codecs);
      assert.deepEqual(variant.resolution, { width: video.width, height: video.height });
    }
  });

  it('skips the I-frame stream of a video without key frames', () => {
    const model = sampleModel();
    model.videos[0].keyFrames = [];
    const iFrames = parseMaster(writeMultivariantPlaylist(model)).variants.filter((v) => v.isIFrameOnly);
    assert.equal(iFrames.length, 2);
  });

  it('writes audio-only variants for an audio-only package: no AUDIO group, no RESOLUTION, default first', () => {
    const model: PackageModel = { ...sampleModel(), videos: [], subtitles: [] };
    const text = writeMultivariantPlaylist(model);
    const master = parseMaster(text);
    assert.deepEqual(
      master.variants.map((v) => [v.uri, v.bandwidth, v.averageBandwidth, v.codecs]),
      [
        ['audio/aac-en/index.m3u8', 140_000, 130_000, 'mp4a.40.2'],
        ['audio/aac-fr/index.m3u8', 150_000, 128_000, 'mp4a.40.2'],
      ],
    );
    assert.doesNotMatch(text, /AUDIO=|RESOLUTION=|TYPE=AUDIO|FRAME-RATE/);
  });

  it('writes video-only variants when the only audio is Opus', () => {
    const model = sampleModel();
    model.audios = model.audios.filter((track) => track.codec === 'opus');
    const variants = parseMaster(writeMultivariantPlaylist(model)).variants.filter((v) => !v.isIFrameOnly);
    assert.ok(variants.every((v) => v.codecs === 'avc1.64001f' && v.audio.length === 0));
    assert.equal(variants.find((v) => v.uri.includes('720p'))?.bandwidth, 3_500_000);
  });

  it('writes names an HLS quoted-string cannot hold as text it can, unique within the group', () => {
    const names: [string, string][] = [
      ['Director\'s "cut"', 'Director’s “cut”'],
      ['line\r\nbreak\x01\x1b[2J', 'line  break  [2J'],
      ['<b>&amp; 日本 🎬', '<b>&amp; 日本 🎬'],
      ['Director’s “cut”', 'Director’s “cut” 2'],
      ['x'.repeat(5000), 'x'.repeat(5000)],
    ];
    const model = sampleModel();
    model.audios = names.map(([name], i) => audioTrack(`aac-${i}`, 'aac', 'en', name, 140_000, 130_000, { isDefault: i === 0 }));
    model.subtitles = [subtitleTrack('sub-en', 'en', 'Sub "1"\n', true), subtitleTrack('sub-en-2', 'en', "it's", false)];
    const text = writeMultivariantPlaylist(model);
    for (const line of text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:'))) {
      assert.doesNotMatch(line.replace(/="[^"]*"/g, '='), /"/, line);
      assert.doesNotMatch(line, /[\x00-\x1f\x7f]/, line);
    }
    // hls-parser takes ' for a quote too: with one left in a NAME it would lose the URI after it.
    const variant = parseMaster(text).variants[0];
    assert.deepEqual(variant.audio.map((r) => [r.name, r.uri]), names.map(([, name], i) => [name, `audio/aac-${i}/index.m3u8`]));
    assert.deepEqual(variant.subtitles.map((r) => [r.name, r.uri]), [['Sub “1” ', 'subtitles/sub-en/index.m3u8'], ['it’s', 'subtitles/sub-en-2/index.m3u8']]);
  });

  it('refuses two defaults in one group', () => {
    const defaults = sampleModel();
    defaults.audios[1].isDefault = true;
    assert.throws(() => writeMultivariantPlaylist(defaults), /more than one DEFAULT/);
  });
});

describe('writeMediaPlaylist', () => {
  it('writes a strict-valid fMP4 VOD playlist at the lowest version that allows EXT-X-MAP', () => {
    const model = sampleModel();
    const track = model.videos[0];
    const text = writeMediaPlaylist(track, model);
    const playlist = parseMedia(text);
    assertVersionIsLowest(text, 6);
    assert.equal(playlist.targetDuration, 6);
    assert.equal(playlist.independentSegments, true);
    assertVodPlaylist(playlist);
    assert.deepEqual(
      playlist.segments.map((s) => s.duration),
      [6.006, 6.006, 1.001],
    );
    assert.match(text, /^#EXTINF:6\.006000,$/m);
  });

  it('writes URIs relative to the playlist folder', () => {
    const model = sampleModel();
    const track = model.audios[0];
    const playlist = parseMedia(writeMediaPlaylist(track, model));
    assert.equal(playlist.segments[0].map.uri, 'init.mp4');
    assert.deepEqual(
      playlist.segments.map((s) => s.uri),
      ['seg_00001.m4s', 'seg_00002.m4s', 'seg_00003.m4s'],
    );
    assert.deepEqual(
      playlist.segments.map((s) => resolveFrom(track.playlistUri, s.uri)),
      track.segments.map((s) => s.uri),
    );
  });

  it('reaches files outside the playlist folder with ../', () => {
    const model = sampleModel();
    const track = { ...model.videos[0], initUri: 'video/init-h264.mp4', playlistUri: 'hls/720p.m3u8' };
    const playlist = parseMedia(writeMediaPlaylist(track, model));
    assert.equal(playlist.segments[0].map.uri, '../video/init-h264.mp4');
    assert.equal(resolveFrom(track.playlistUri, playlist.segments[2].uri), 'video/h264-720p/seg_00003.m4s');
  });

  it('rounds the target duration to the nearest integer: 7.4 s gives 7, 7.5 s gives 8', () => {
    for (const [seconds, expected] of [
      [7.4, 7],
      [7.5, 8],
    ] as const) {
      const track = videoTrack('v', 'h264', 640, 360, 1, 1, { segments: segmentsFor('v', VIDEO_TIMESCALE, [seconds, 6]) });
      const model: PackageModel = { ...sampleModel(), videos: [track], audios: [] };
      const playlist = parseMedia(writeMediaPlaylist(track, model));
      assert.equal(playlist.targetDuration, expected, `segment of ${seconds} s`);
      assertTargetDurationRule(playlist);
    }
  });

  it('derives the target duration from the printed EXTINF, which a client rounds', () => {
    // 6.4999996 s prints as 6.500000, which rounds to 7 although the exact value rounds to 6.
    const track = audioTrack('a', 'aac', 'en', 'English', 1, 1, {
      timescale: 10_000_000,
      segments: [{ uri: 'a/1.m4s', bytes: 1, startTime: 0, duration: 64_999_996 }],
    });
    const model: PackageModel = { ...sampleModel(), videos: [], audios: [track] };
    const playlist = parseMedia(writeMediaPlaylist(track, model));
    assert.equal(playlist.targetDuration, 7);
  });

  it('shares one target duration across audio and video by default, and accepts a forced larger one', () => {
    const model = sampleModel();
    model.audios[1].segments = segmentsFor('audio/aac-fr', AUDIO_TIMESCALE, [7.4, 4.612, 1.001]);
    // Opus is DASH-only, so its long segment must not raise the HLS target duration.
    model.audios[2].segments = segmentsFor('audio/opus-en', AUDIO_TIMESCALE, [9, 4.013]);
    assert.equal(commonTargetDuration(model), 7);
    assert.equal(parseMedia(writeMediaPlaylist(model.videos[0], model)).targetDuration, 7);
    assert.equal(parseMedia(writeMediaPlaylist(model.audios[0], model)).targetDuration, 7);
    assert.equal(parseMedia(writeMediaPlaylist(model.videos[0], model, { targetDuration: 8 })).targetDuration, 8);
    assert.throws(() => writeMediaPlaylist(model.audios[1], model, { targetDuration: 6 }), /at least 7/);
  });

  it('writes an MPEG-TS playlist without EXT-X-MAP at version 3', () => {
    const model = sampleModel();
    const track = { ...model.videos[0], initUri: '' };
    const text = writeMediaPlaylist(track, model);
    assert.doesNotMatch(text, /EXT-X-MAP/);
    assertVersionIsLowest(text, 3);
    const playlist = parseMedia(text);
    assertVodPlaylist(playlist);
    assert.equal(playlist.segments.length, 3);
  });
});

describe('writeIFramePlaylist', () => {
  it('writes one byte range per key frame, lasting until the next key frame or the end of the track', () => {
    const model = sampleModel();
    const track = model.videos[2];
    const text = writeIFramePlaylist(track, model);
    const playlist = parseMedia(text);
    assertVersionIsLowest(text, 5);
    assert.equal(playlist.isIFrame, true);
    assertVodPlaylist(playlist);
    assert.equal(playlist.segments.length, 7);
    assert.deepEqual(
      playlist.segments.map((s) => s.duration),
      [2.002, 2.002, 2.002, 2.002, 2.002, 2.002, 1.001],
    );
    const total = playlist.segments.reduce((sum, s) => sum + s.duration, 0);
    assert.ok(Math.abs(total - DURATION_SECONDS) < 1e-6);
    playlist.segments.forEach((segment, index) => {
      const keyFrame = track.keyFrames[index];
      assert.deepEqual(segment.byterange, { length: keyFrame.length, offset: keyFrame.offset });
      assert.equal(resolveFrom(track.iFramePlaylistUri!, segment.uri), keyFrame.uri);
      assert.equal(resolveFrom(track.iFramePlaylistUri!, segment.map.uri), track.initUri);
    });
  });

  it('needs version 4 only for MPEG-TS, which has no EXT-X-MAP', () => {
    const model = sampleModel();
    const text = writeIFramePlaylist({ ...model.videos[0], initUri: '' }, model);
    assert.doesNotMatch(text, /EXT-X-MAP/);
    assertVersionIsLowest(text, 4);
  });

  it('refuses a track without key frames', () => {
    const model = sampleModel();
    assert.throws(() => writeIFramePlaylist({ ...model.videos[0], keyFrames: [] }, model), /no I-frame playlist/);
  });
});

describe('writeSubtitlePlaylist', () => {
  it('writes a version 3 WebVTT playlist with its own target duration and relative URIs', () => {
    const model = sampleModel();
    const track = subtitleTrack('sub-de', 'de', 'Deutsch', false);
    track.segments[0].durationSeconds = 8.2;
    const text = writeSubtitlePlaylist(track, model);
    const playlist = parseMedia(text);
    assertVersionIsLowest(text, 3);
    assert.equal(playlist.targetDuration, 8);
    assertVodPlaylist(playlist);
    assert.deepEqual(
      playlist.segments.map((s) => s.uri),
      ['seg_00001.vtt', 'seg_00002.vtt', 'seg_00003.vtt'],
    );
  });
});
