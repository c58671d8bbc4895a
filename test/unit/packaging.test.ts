import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser } from 'fast-xml-parser';
import HLS from 'hls-parser';
import { writeMpd } from '../../src/manifest/dash.js';
import { writeIFramePlaylist, writeMultivariantPlaylist, writeMediaPlaylist } from '../../src/manifest/hls.js';
import { manifestLanguage } from '../../src/manifest/language.js';
import { buildChunkFilterGraph, buildVideoEncoderArgs } from '../../src/ffmpeg/args/video.js';
import { videoEncoderFor, type Av1Encoder } from '../../src/ffmpeg/args/encoders.js';
import { buildTsPackageArgs } from '../../src/ffmpeg/args/package-ts.js';
import { hdrTransferOf, parseHdrSideData, svtAv1HdrParams, x265HdrParams } from '../../src/ffmpeg/hdr.js';
import { parseScratchPlaylist, tsKeyFrameRanges, tsPackageModel } from '../../src/core/stages/package-ts.js';
import type { Rendition } from '../../src/core/ladder.js';
import { sampleModel } from '../helpers/manifest-model.js';

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['AdaptationSet', 'Representation'].includes(name) });

function rendition(codec: Rendition['codec'], size = 144, av1Encoder: Av1Encoder = 'libsvtav1'): Rendition {
  return {
    id: `${codec}-${size}p`, codec, size, width: 256, height: 144, bitrateKbps: 200, maxrateKbps: 220, bufsizeKbps: 400, profile: codec === 'h264' ? 'high' : 'main', level: codec === 'h264' ? '2.1' : '',
    encoder: videoEncoderFor(codec, 'ultrafast', av1Encoder),
  };
}

describe('DASH thumbnail track (storyboard)', () => {
  const model = {
    ...sampleModel(),
    thumbnails: {
      id: 'thumbnails-160x90', sheetUris: ['storyboard/sprite_001.jpg', 'storyboard/sprite_002.jpg'],
      columns: 10, rows: 10, tileWidth: 160, tileHeight: 90, sheetDurationSeconds: 200, bandwidth: 12_345.2,
    },
  };
  const mpd = xml.parse(writeMpd(model)).MPD;
  const sets = mpd.Period.AdaptationSet as any[];
  const image = sets.find((set) => set.contentType === 'image');

  it('adds an image AdaptationSet as DASH-IF IOP 6.2.6 describes', () => {
    assert.ok(image, 'image AdaptationSet present');
    assert.equal(image.mimeType, 'image/jpeg');
    const rep = image.Representation[0];
    assert.equal(rep.width, '1600');
    assert.equal(rep.height, '900');
    assert.equal(rep.bandwidth, '12346');
    assert.equal(rep.EssentialProperty.schemeIdUri, 'http://dashif.org/thumbnail_tile');
    assert.equal(rep.EssentialProperty.value, '10x10');
  });

  it('addresses each sheet with a $Number$ template lasting one sheet', () => {
    const template = image.Representation[0].SegmentTemplate;
    assert.equal(template.media, 'storyboard/sprite_$Number%03d$.jpg');
    assert.equal(template.startNumber, '1');
    assert.equal(Number(template.duration) / Number(template.timescale), 200);
  });

  it('keeps AdaptationSet ids unique', () => {
    const ids = sets.map((set) => set.id);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('HLS language tags', () => {
  it('turns ISO 639-2 container tags into BCP 47 (shortest code), und when unknown', () => {
    assert.equal(manifestLanguage('eng'), 'en');
    assert.equal(manifestLanguage('fre'), 'fr');
    assert.equal(manifestLanguage('ger'), 'de');
    assert.equal(manifestLanguage('pt-BR'), 'pt-BR');
    assert.equal(manifestLanguage(undefined), 'und');
    assert.equal(manifestLanguage('not a tag!'), 'und');
  });
});

describe('HDR encoding arguments', () => {
  it('recognises PQ and HLG sources only', () => {
    assert.equal(hdrTransferOf('smpte2084'), 'PQ');
    assert.equal(hdrTransferOf('arib-std-b67'), 'HLG');
    assert.equal(hdrTransferOf('bt709'), undefined);
    assert.equal(hdrTransferOf(undefined), undefined);
  });

  it('keeps HEVC 10-bit Main10 with BT.2020/PQ in the VUI, and tags H.264 as BT.709', () => {
    const hevc = buildVideoEncoderArgs(rendition('hevc'), 60, 'PQ');
    assert.equal(hevc[hevc.indexOf('-profile:v') + 1], 'main10');
    assert.match(hevc[hevc.indexOf('-x265-params') + 1]!, /colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc/);
    assert.equal(hevc[hevc.indexOf('-color_trc') + 1], 'smpte2084');
    const sdrHevc = buildVideoEncoderArgs(rendition('hevc'), 60);
    assert.equal(sdrHevc[sdrHevc.indexOf('-profile:v') + 1], 'main');
    assert.ok(!sdrHevc.includes('-color_trc'));
    const h264 = buildVideoEncoderArgs(rendition('h264'), 60, 'HLG');
    assert.equal(h264[h264.indexOf('-color_trc') + 1], 'bt709');
  });

  it('gives SVT-AV1 closed GOPs without scene-cut key frames and the HDR colour description', () => {
    const av1 = buildVideoEncoderArgs(rendition('av1'), 48, 'HLG');
    assert.equal(av1[av1.indexOf('-svtav1-params') + 1], 'irefresh-type=2:scd=0');
    assert.equal(av1[av1.indexOf('-g') + 1], '48');
    assert.equal(av1[av1.indexOf('-color_trc') + 1], 'arib-std-b67');
    const aom = buildVideoEncoderArgs(rendition('av1', 144, 'libaom-av1'), 48);
    assert.equal(aom[aom.indexOf('-keyint_min') + 1], '48');
  });

  it('repeats the source\'s HDR10 mastering display and light levels for x265 and SVT-AV1', () => {
    const metadata = parseHdrSideData([
      {
        side_data_type: 'Mastering display metadata',
        red_x: '34000/50000', red_y: '16000/50000', green_x: '13250/50000', green_y: '34500/50000',
        blue_x: '7500/50000', blue_y: '3000/50000', white_point_x: '15635/50000', white_point_y: '16450/50000',
        min_luminance: '1/10000', max_luminance: '10000000/10000',
      },
      { side_data_type: 'Content light level metadata', max_content: 1000, max_average: 400 },
    ]);
    assert.deepEqual(x265HdrParams(metadata), ['master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)', 'max-cll=1000,400']);
    assert.deepEqual(svtAv1HdrParams(metadata), [
      'mastering-display=G(0.2650,0.6900)B(0.1500,0.0600)R(0.6800,0.3200)WP(0.3127,0.3290)L(1000.0000,0.0001)', 'content-light=1000,400',
    ]);
    assert.deepEqual(parseHdrSideData([]), {});
    const hevc = buildVideoEncoderArgs(rendition('hevc'), 60, 'PQ', metadata);
    assert.match(hevc[hevc.indexOf('-x265-params') + 1]!, /:master-display=G\(13250,34500\).*:max-cll=1000,400$/);
    const av1 = buildVideoEncoderArgs(rendition('av1'), 60, 'PQ', metadata);
    assert.match(av1[av1.indexOf('-svtav1-params') + 1]!, /^irefresh-type=2:scd=0:mastering-display=.*:content-light=1000,400$/);
  });

  it('scales once for the H.264 and HEVC rungs of one size from an SDR source, split after the scale', () => {
    const graph = buildChunkFilterGraph({
      source: 'in.mp4', streamIndex: 0, frameRate: { num: 30, den: 1 }, chunk: { index: 0, startFrame: 0, endFrame: 60, prerollFrame: 0 },
      gopFrames: 60, deinterlace: false,
      outputs: [{ rendition: rendition('h264'), path: 'a.mp4' }, { rendition: rendition('hevc'), path: 'b.mp4' }],
    });
    assert.equal(graph.match(/scale=/g)?.length, 1, graph);
    assert.match(graph, /\[s0\]scale=[^;]*format=yuv420p,split=2\[v0\]\[v1\]$/);
  });

  it('tone-maps only the H.264 branch of an HDR source', () => {
    const graph = buildChunkFilterGraph({
      source: 'in.mp4', streamIndex: 0, frameRate: { num: 30, den: 1 }, chunk: { index: 0, startFrame: 0, endFrame: 60, prerollFrame: 0 },
      gopFrames: 60, deinterlace: false, hdr: 'PQ',
      outputs: [{ rendition: rendition('h264'), path: 'a.mp4' }, { rendition: rendition('hevc'), path: 'b.mp4' }],
    });
    const [, h264Branch, hevcBranch] = graph.split(';');
    assert.match(h264Branch!, /zscale=tin=smpte2084.*tonemap=tonemap=hable.*format=yuv420p\[v0\]$/);
    assert.match(hevcBranch!, /format=yuv420p10le\[v1\]$/);
    assert.doesNotMatch(hevcBranch!, /tonemap/);
  });
});

describe('MPEG-TS HLS model', () => {
  it('muxes the default audio: no audio group, CODECS of both, bandwidth from the TS bytes', () => {
    const cmaf = sampleModel();
    const h264 = cmaf.videos.find((video) => video.codec === 'h264')!;
    const ts = tsPackageModel('/pkg', [{
      rendition: { ...rendition('h264'), id: h264.id },
      track: {
        outputDir: `/pkg/ts/${h264.id}`,
        segments: [
          { path: `/pkg/ts/${h264.id}/seg_00001.ts`, bytes: 600_000, durationSeconds: 6.006, keyFrames: [{ offset: 0, length: 40_000, ptsSeconds: 0.021 }, { offset: 200_000, length: 30_000, ptsSeconds: 3.024 }] },
          { path: `/pkg/ts/${h264.id}/seg_00002.ts`, bytes: 300_000, durationSeconds: 6.006, keyFrames: [{ offset: 0, length: 20_000, ptsSeconds: 6.027 }] },
          { path: `/pkg/ts/${h264.id}/seg_00003.ts`, bytes: 50_000, durationSeconds: 1.001, keyFrames: [{ offset: 0, length: 10_000, ptsSeconds: 12.033 }] },
        ],
      },
    }], cmaf);
    assert.equal(ts.audios.length, 0);
    const video = ts.videos[0]!;
    const aac = cmaf.audios.find((a) => a.codec === 'aac' && a.isDefault)!;
    assert.equal(video.codecs, h264.codecs);
    assert.equal(video.muxedAudioCodecs, aac.codecs);
    assert.equal(video.initUri, '');
    assert.deepEqual(video.keyFrames.map((k) => [k.uri, k.offset, k.length, k.time]), [
      [`ts/${h264.id}/seg_00001.ts`, 0, 40_000, 0], [`ts/${h264.id}/seg_00001.ts`, 200_000, 30_000, 270_270],
      [`ts/${h264.id}/seg_00002.ts`, 0, 20_000, 540_540], [`ts/${h264.id}/seg_00003.ts`, 0, 10_000, 1_081_080],
    ]);
    assert.equal(Math.round(video.averageBitrate), Math.ceil((950_000 * 8) / 13.013));
    HLS.setOptions({ strictMode: true });
    const master = HLS.parse(writeMultivariantPlaylist(ts)) as any;
    const normal = master.variants.filter((v: any) => !v.isIFrameOnly);
    assert.equal(normal.length, 1);
    assert.equal(normal[0].audio.length, 0);
    assert.equal(normal[0].codecs, `${h264.codecs},${aac.codecs}`);
    const iFrame = master.variants.find((v: any) => v.isIFrameOnly);
    assert.equal(iFrame.codecs, h264.codecs, 'I-frame variants name the video codec only');
    const iFramePlaylist = writeIFramePlaylist(video, ts);
    assert.match(iFramePlaylist, /#EXT-X-VERSION:4\n[\s\S]*#EXT-X-BYTERANGE:30000@200000\nseg_00001\.ts/);
    assert.doesNotMatch(iFramePlaylist, /EXT-X-MAP/);
    const media = writeMediaPlaylist(video, ts);
    assert.match(media, /#EXT-X-VERSION:3\n/);
    assert.doesNotMatch(media, /EXT-X-MAP/);
    assert.deepEqual((HLS.parse(media) as any).segments.map((s: any) => s.uri), ['seg_00001.ts', 'seg_00002.ts', 'seg_00003.ts']);
  });

  it('starts each TS I-frame range at the PAT/PMT before the key frame and ends it at the next video PES', () => {
    const packet = (pid: number, start = true) => {
      const p = Buffer.alloc(188, 0xff);
      p[0] = 0x47;
      p[1] = (start ? 0x40 : 0) | (pid >> 8);
      p[2] = pid & 0xff;
      p[3] = 0x10;
      return p;
    };
    const pat = packet(0x0000);
    // pointer 0; table 0, section length 13; tsid, version, section numbers; program 1 → PMT PID 0x1000; CRC.
    Buffer.from([0x00, 0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0, 0, 0, 0]).copy(pat, 4);
    const file = Buffer.concat([packet(0x11), pat, packet(0x1000), packet(0x100), packet(0x100, false), packet(0x101), packet(0x100), packet(0x0), packet(0x1000), packet(0x100)]);
    const ranges = tsKeyFrameRanges(file, [
      { pos: 3 * 188, ptsSeconds: 0, key: true },
      { pos: 6 * 188, ptsSeconds: 0.033, key: false },
      { pos: 9 * 188, ptsSeconds: 2, key: true },
    ]);
    assert.deepEqual(ranges, [
      { offset: 0, length: 6 * 188, ptsSeconds: 0 },
      { offset: 7 * 188, length: 3 * 188, ptsSeconds: 2 },
    ]);
  });

  it('reads segment names and durations from ffmpeg\'s playlist', () => {
    assert.deepEqual(parseScratchPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.002000,\nseg_00001.ts\n#EXTINF:0.5,\nseg_00002.ts\n#EXT-X-ENDLIST\n'), [
      { uri: 'seg_00001.ts', durationSeconds: 2.002 },
      { uri: 'seg_00002.ts', durationSeconds: 0.5 },
    ]);
  });

  it('muxes video and audio by stream copy with timestamps starting at 0', () => {
    const args = buildTsPackageArgs({ video: 'v.mp4', audio: 'a.mp4', segmentSeconds: 6.006, segmentPattern: 'd/seg_%05d.ts', scratchPlaylist: 'd/x.m3u8' });
    assert.deepEqual(args.slice(args.indexOf('-muxdelay'), args.indexOf('-muxdelay') + 4), ['-muxdelay', '0', '-muxpreload', '0']);
    assert.equal(args[args.indexOf('-hls_time') + 1], '6.006000');
    assert.equal(args[args.indexOf('-c') + 1], 'copy');
    const silent = buildTsPackageArgs({ video: 'v.mp4', segmentSeconds: 2, segmentPattern: 'p', scratchPlaylist: 's' });
    assert.ok(!silent.includes('1:a:0'));
  });
});
