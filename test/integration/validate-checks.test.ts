import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { makeClip, tempDir } from '../helpers/media.js';
import { payloadStart, findBoxes } from '../../src/media/mp4-boxes.js';
import { brokenCopy, edit, failed, makeVidpipePackage, statusOf, validate, type VidpipePackage } from '../helpers/validate-package.js';

/** Marks the first sample of a segment's first fragment as a non-sync sample (trun first_sample_flags). */
async function unmarkFirstKeyFrame(segmentPath: string): Promise<void> {
  const buffer = await readFile(segmentPath);
  const trun = findBoxes(buffer, 'moof/traf/trun')[0]!;
  const flags = buffer.readUInt32BE(payloadStart(trun)) & 0xffffff;
  assert.equal(flags & 0x5, 0x5, 'trun carries data_offset and first_sample_flags');
  // version/flags, sample_count, data_offset, then first_sample_flags.
  buffer.writeUInt32BE(0x01010000, payloadStart(trun) + 12);
  await writeFile(segmentPath, buffer);
}

/** Where the package's files are, read from its master playlist (the layout is vidpipe's business). */
interface Paths {
  master: string;
  mpd: string;
  /** The first video variant's folder, media playlist and I-frame playlist. */
  videoDir: string;
  video: string;
  iframes: string;
  audio: string;
}

async function pathsOf(root: string): Promise<Paths> {
  const text = await readFile(join(root, 'master.m3u8'), 'utf8');
  const video = /#EXT-X-STREAM-INF:.*\n(.+)\n/.exec(text)?.[1];
  const iframes = /#EXT-X-I-FRAME-STREAM-INF:.*URI="([^"]+)"/.exec(text)?.[1];
  const audio = /#EXT-X-MEDIA:TYPE=AUDIO,.*URI="([^"]+)"/.exec(text)?.[1];
  assert.ok(video && iframes && audio, 'the package has video, I-frame and audio playlists');
  return {
    master: join(root, 'master.m3u8'),
    mpd: join(root, 'manifest.mpd'),
    videoDir: dirname(join(root, video)),
    video: join(root, video),
    iframes: join(root, iframes),
    audio: join(root, audio),
  };
}

interface Case {
  name: string;
  breakIt: (paths: Paths) => Promise<void>;
  fails: string[];
  /** Text the first failing check's message must contain (measured vs expected). */
  message?: RegExp;
}

const CASES: Case[] = [
  {
    name: 'CODECS removed from a variant',
    breakIt: (p) => edit(p.master, (t) => t.replace(/,CODECS="[^"]+"/, '')),
    fails: ['hls-codecs'],
  },
  {
    name: 'a codec string that is not the bitstream',
    breakIt: (p) => edit(p.master, (t) => t.replace(/CODECS="avc1\.[0-9a-f]{6}/, 'CODECS="avc1.640028')),
    fails: ['hls-codecs-bitstream'],
    message: /CODECS "avc1\.640028,mp4a\.40\.2" vs bitstream "avc1\.64000d,mp4a\.40\.2"/,
  },
  {
    name: 'BANDWIDTH doubled',
    breakIt: (p) => edit(p.master, (t) => t.replace(/(STREAM-INF:BANDWIDTH=)(\d+)/, (_m, tag, n) => `${tag}${Number(n) * 2}`)),
    fails: ['hls-bandwidth'],
    message: /\+100\.0 %/,
  },
  {
    name: 'AVERAGE-BANDWIDTH missing',
    breakIt: (p) => edit(p.master, (t) => t.replace(/,AVERAGE-BANDWIDTH=\d+/, '')),
    fails: ['hls-average-bandwidth'],
  },
  {
    name: 'a wrong RESOLUTION',
    breakIt: (p) => edit(p.master, (t) => t.replace('RESOLUTION=320x180', 'RESOLUTION=640x360')),
    fails: ['hls-resolution'],
  },
  {
    name: 'a wrong FRAME-RATE',
    breakIt: (p) => edit(p.master, (t) => t.replace(/FRAME-RATE=[\d.]+/, 'FRAME-RATE=25.000')),
    fails: ['hls-frame-rate'],
    message: /FRAME-RATE 25\.000 vs measured 30\.000/,
  },
  {
    name: 'a segment far larger than the rest (peak > 2× average)',
    breakIt: async (p) => {
      const path = join(p.videoDir, 'seg_00002.m4s');
      const size = (await readFile(path)).length;
      // A 'free' box is skipped by parsers but counts as bytes the player downloads.
      const free = Buffer.alloc(size * 12);
      free.writeUInt32BE(free.length, 0);
      free.write('free', 4, 'latin1');
      await appendFile(path, free);
    },
    fails: ['hls-peak-average'],
  },
  {
    name: 'no EXT-X-INDEPENDENT-SEGMENTS anywhere',
    breakIt: async (p) => {
      await edit(p.master, (t) => t.replace('#EXT-X-INDEPENDENT-SEGMENTS\n', ''));
      await edit(p.video, (t) => t.replace('#EXT-X-INDEPENDENT-SEGMENTS\n', ''));
    },
    fails: ['hls-independent-segments'],
  },
  {
    name: 'I-frame playlists missing',
    breakIt: (p) => edit(p.master, (t) => t.replace(/#EXT-X-I-FRAME-STREAM-INF:.*\n/g, '')),
    fails: ['hls-iframe-playlists'],
  },
  {
    name: 'audio group attributes broken',
    breakIt: (p) => edit(p.master, (t) => t.replace(/,LANGUAGE="[^"]*"/, '').replace('AUTOSELECT=YES', 'AUTOSELECT=NO').replace(/AUDIO="([^"]+)"\n/, 'AUDIO="nowhere"\n')),
    fails: ['hls-audio-groups'],
  },
  {
    name: 'CLOSED-CAPTIONS=NONE on only some variants',
    breakIt: (p) => edit(p.master, (t) => t.replace(',CLOSED-CAPTIONS=NONE', '')),
    fails: ['hls-closed-captions'],
  },
  {
    name: 'a media playlist tag in the multivariant playlist',
    breakIt: (p) => edit(p.master, (t) => t.replace('#EXT-X-VERSION:6\n', '#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n')),
    fails: ['hls-master-tags'],
  },
  {
    name: 'TARGETDURATION smaller than a segment',
    breakIt: (p) => edit(p.video, (t) => t.replace('#EXT-X-TARGETDURATION:2', '#EXT-X-TARGETDURATION:1')),
    fails: ['hls-parse', 'hls-target-duration', 'hls-same-target-duration'],
  },
  {
    name: 'a lower-case PLAYLIST-TYPE, which m3u8-parser (Video.js) ignores',
    breakIt: (p) => edit(p.video, (t) => t.replace('#EXT-X-PLAYLIST-TYPE:VOD', '#EXT-X-PLAYLIST-TYPE:vod')),
    fails: ['hls-vhs-parse', 'hls-vod'],
    message: /index\.m3u8: m3u8-parser: ignoring unknown playlist type/,
  },
  {
    name: 'a variant without BANDWIDTH, which m3u8-parser (Video.js) cannot rank',
    breakIt: (p) => edit(p.master, (t) => t.replace(/#EXT-X-STREAM-INF:BANDWIDTH=\d+,/, '#EXT-X-STREAM-INF:')),
    fails: ['hls-vhs-parse', 'hls-bandwidth'],
    message: /m3u8-parser reads \d+ of the \d+ variants/,
  },
  {
    name: 'EXT-X-ENDLIST missing',
    breakIt: (p) => edit(p.video, (t) => t.replace('#EXT-X-ENDLIST', '')),
    fails: ['hls-vod'],
  },
  {
    name: 'EXT-X-MAP after the first segment',
    breakIt: (p) => edit(p.video, (t) => t.replace('#EXT-X-MAP:URI="init.mp4"\n', '').replace('seg_00001.m4s\n', 'seg_00001.m4s\n#EXT-X-MAP:URI="init.mp4"\n')),
    fails: ['hls-map'],
  },
  {
    name: 'EXT-X-VERSION too low for EXT-X-MAP',
    breakIt: (p) => edit(p.video, (t) => t.replace('#EXT-X-VERSION:6', '#EXT-X-VERSION:4')),
    fails: ['hls-version'],
    message: /EXT-X-VERSION 4 but EXT-X-MAP needs ≥ 6/,
  },
  {
    name: 'a segment deleted',
    breakIt: (p) => rm(join(p.videoDir, 'seg_00002.m4s')),
    fails: ['hls-uris', 'dash-segments'],
  },
  {
    name: 'a segment that does not start with a key frame (and so a GOP off the grid)',
    breakIt: (p) => unmarkFirstKeyFrame(join(p.videoDir, 'seg_00002.m4s')),
    fails: ['hls-keyframe-segment-start', 'hls-keyframe-grid', 'hls-iframe-ranges'],
  },
  {
    name: 'EXTINF that does not add up to the media',
    breakIt: (p) => edit(p.video, (t) => t.replace('#EXTINF:2.000000,', '#EXTINF:2.500000,')),
    fails: ['hls-duration-media'],
  },
  {
    name: 'audio shorter than video',
    breakIt: async (p) => edit(p.audio, (t) => t.replace(/#EXTINF:[\d.]+,\nseg_00003\.m4s\n/, '')),
    fails: ['hls-duration-av'],
  },
  {
    name: 'an I-frame byte range that misses the moof',
    breakIt: (p) => edit(p.iframes, (t) => t.replace(/#EXT-X-BYTERANGE:(\d+)@(\d+)/, (_m, n, o) => `#EXT-X-BYTERANGE:${n}@${Number(o) + 8}`)),
    fails: ['hls-iframe-ranges'],
  },
  {
    name: 'MPD that is not well-formed XML',
    breakIt: (p) => edit(p.mpd, (t) => t.replace('</Period>', '')),
    fails: ['dash-parse'],
  },
  {
    name: 'an AdaptationSet that names no content type, so mpd-parser (Video.js) drops its Representations',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/(<AdaptationSet[^>]*?) contentType="video"([^>]*?) mimeType="video\/mp4"/, '$1$2')),
    fails: ['dash-vhs-parse'],
    message: /Representation \S+ \(unknown\): mpd-parser does not find it/,
  },
  {
    name: 'MPD of type dynamic',
    breakIt: (p) => edit(p.mpd, (t) => t.replace('type="static"', 'type="dynamic"')),
    fails: ['dash-static'],
  },
  {
    name: 'MPD without profiles',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/ profiles="[^"]*"/, '')),
    fails: ['dash-profiles'],
  },
  {
    name: 'MPD without mediaPresentationDuration',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/ mediaPresentationDuration="[^"]*"/, '')),
    fails: ['dash-mpd-attributes'],
  },
  {
    name: 'two AdaptationSets with one id',
    breakIt: (p) => edit(p.mpd, (t) => t.replace('<AdaptationSet id="1"', '<AdaptationSet id="0"')),
    fails: ['dash-adaptation-sets'],
  },
  {
    name: 'Representation without sar and audio without AudioChannelConfiguration',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/ sar="1:1"/g, '').replace(/<AudioChannelConfiguration[^>]*\/>/, '')),
    fails: ['dash-representation-attributes'],
  },
  {
    name: 'AdaptationSet without segmentAlignment',
    breakIt: (p) => edit(p.mpd, (t) => t.replace('segmentAlignment="true"', 'segmentAlignment="false"')),
    fails: ['dash-alignment'],
  },
  {
    name: 'a broken SegmentTemplate',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/seg_\$Number%05d\$\.m4s"/g, 'chunk_$Number$.m4s"')),
    fails: ['dash-segments'],
  },
  {
    name: 'a SegmentTimeline that outlasts the presentation',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/<S t="0" d="(\d+)"/, (_m, d) => `<S t="0" d="${Number(d) * 2}"`)),
    fails: ['dash-timeline-duration'],
  },
  {
    name: 'MPD codecs that are not the bitstream',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/codecs="avc1\.[0-9a-f]{6}"/, 'codecs="avc1.42e01e"')),
    fails: ['dash-codecs'],
  },
  {
    name: 'MPD bandwidth doubled',
    breakIt: (p) => edit(p.mpd, (t) => t.replace(/bandwidth="(\d+)"/, (_m, n) => `bandwidth="${Number(n) * 2}"`)),
    fails: ['dash-bandwidth'],
  },
];

describe('vidpipe validate checks on broken copies of a vidpipe package', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pkg: VidpipePackage;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-validate-'));
    pkg = await makeVidpipePackage(dir);
  });
  after(async () => cleanup());

  it('passes every check on the intact package, with --source', async () => {
    const report = await validate(pkg.root, pkg.source);
    const notPassing = report.checks.filter((check) => check.status !== 'pass');
    assert.deepEqual(notPassing, [], 'every check passes');
    assert.equal(report.ok, true);
    for (const { fails } of CASES) for (const id of fails) assert.ok(report.checks.some((check) => check.id === id), `${id} ran`);
  });

  CASES.forEach((testCase, index) => {
    it(`fails ${testCase.fails.join(', ')} on ${testCase.name}`, async () => {
      const root = await brokenCopy(pkg, join(dir, `case-${index}`), async (copy) => testCase.breakIt(await pathsOf(copy)));
      const report = await validate(root);
      assert.equal(report.ok, false);
      for (const id of testCase.fails) assert.equal(statusOf(report, id), 'fail', `${id} fails (failed: ${failed(report).join(', ')})`);
      if (testCase.message) {
        const message = report.checks.find((check) => check.id === testCase.fails[0])!.message;
        assert.match(message, testCase.message);
      }
    });
  });

  it('fails the source-duration checks against a source of another length', async () => {
    const other = await makeClip(join(dir, 'short.mp4'), { durationSeconds: 3, width: 160, height: 90 });
    const report = await validate(pkg.root, other);
    assert.deepEqual(failed(report).sort(), ['dash-duration-source', 'hls-duration-source']);
    assert.match(report.checks.find((c) => c.id === 'hls-duration-source')!.message, /vs source 3\.0\d\d s/);
  });
});
