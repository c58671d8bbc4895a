import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodedFrameCount, makeClip } from '../helpers/media.js';
import { probeHdrStaticMetadata } from '../../src/ffmpeg/hdr.js';
import { joinCmafTrack, readMpd, readPlaylist, resolveUri, transcodeFixture, videoPackets, videoStream, type TranscodeFixture } from '../helpers/package-files.js';

/** HDR10 mastering display of the HDR fixture: P3 primaries, D65, 1000 / 0.0001 cd/m². */
const MASTER_DISPLAY = 'G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)';

const H264_PROFILE_IDC: Record<string, number> = { 'Constrained Baseline': 66, Baseline: 66, Main: 77, High: 100 };
const HEVC_PROFILE_IDC: Record<string, number> = { Main: 1, 'Main 10': 2 };

/** The CODECS fields checked against what ffprobe reads from the same bitstream. */
function assertCodecsMatchProbe(codecs: string, probe: any): void {
  const video = codecs.split(',')[0]!;
  if (probe.codec_name === 'h264') {
    const m = /^avc1\.([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/.exec(video);
    assert.ok(m, video);
    assert.equal(parseInt(m[1]!, 16), H264_PROFILE_IDC[probe.profile], `${video} profile vs ${probe.profile}`);
    assert.equal(parseInt(m[3]!, 16), probe.level, `${video} level vs ${probe.level}`);
  } else if (probe.codec_name === 'hevc') {
    assert.equal(probe.codec_tag_string, 'hvc1');
    const m = /^hvc1\.(\d+)\.[0-9A-F]+\.L(\d+)(\.[0-9A-F]{1,2})*$/.exec(video);
    assert.ok(m, video);
    assert.equal(Number(m[1]), HEVC_PROFILE_IDC[probe.profile], `${video} profile vs ${probe.profile}`);
    assert.equal(Number(m[2]), probe.level, `${video} level vs ${probe.level}`);
  } else {
    assert.equal(probe.codec_name, 'av1');
    const m = /^av01\.(\d)\.(\d\d)M\.(\d\d)$/.exec(video);
    assert.ok(m, video);
    assert.equal(Number(m[1]), probe.profile === 'Main' ? 0 : -1);
    assert.equal(Number(m[2]), probe.level);
    assert.equal(Number(m[3]), probe.pix_fmt.includes('10') ? 10 : 8);
  }
}

describe('--codecs h264,hevc,av1 (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let dir: string;
  let source: string;
  let result: any;
  let run: TranscodeFixture['run'];

  before(async () => {
    // 4 s chunks of two 2 s GOPs: key frames inside a chunk must come from the encoder's own GOP, not only the chunk cut.
    fixture = await transcodeFixture(
      async (folder) => (source = await makeClip(join(folder, 'clip.mp4'), { durationSeconds: 5, width: 320, height: 180, rate: '30' })),
      // Rates that rise with resolution for every codec: at 144p,90p the table's rates scale to the
      // 64 kb/s floor for HEVC and AV1, and a 90p rung measuring above 144p is dropped (docs/per-title.md).
      ['--codecs', 'h264,hevc,av1', '--ladder', '144p:240,90p:80', '--preset', 'ultrafast', '--segment-duration', '2', '--chunk-duration', '4'],
    );
    ({ dir, result, run } = fixture);
  });
  after(async () => fixture.cleanup());

  it('succeeds with two renditions per codec', () => {
    assert.equal(run.code, 0, run.stderr);
    const videos = result.renditions.filter((r: any) => r.kind === 'video');
    assert.deepEqual(videos.map((r: any) => r.codec).sort(), ['av1', 'av1', 'h264', 'h264', 'hevc', 'hevc']);
  });

  it('lists every variant in HLS with CODECS equal to the bitstream, the source frame count and key frames every 2 s', async () => {
    const masterPath = result.outputs.hls;
    const master = await readPlaylist(masterPath);
    const variants = master.variants.filter((v: any) => !v.isIFrameOnly);
    assert.equal(variants.length, 6);
    const sourceFrames = await decodedFrameCount(source);
    for (const variant of variants) {
      const playlistPath = resolveUri(masterPath, variant.uri);
      const joined = await joinCmafTrack(playlistPath, join(dir, `${variant.uri.split('/').at(-2)}.mp4`));
      const probe = await videoStream(joined);
      assertCodecsMatchProbe(variant.codecs, probe);
      assert.ok(variant.codecs.endsWith(',mp4a.40.2'), variant.codecs);
      assert.equal(`${variant.resolution.width}x${variant.resolution.height}`, `${probe.width}x${probe.height}`);
      assert.equal(variant.videoRange, undefined, 'SDR source: no VIDEO-RANGE');
      const packets = await videoPackets(joined);
      assert.equal(packets.length, sourceFrames, `${variant.uri} frame count`);
      const keys = packets.filter((p) => p.key).map((p) => Math.round(p.pts * 1000) / 1000);
      assert.deepEqual(keys, [0, 2, 4], `${variant.uri} key frames`);
    }
    const iFrames = master.variants.filter((v: any) => v.isIFrameOnly);
    assert.equal(iFrames.length, 6);
  });

  it('gives DASH one video AdaptationSet per codec and a thumbnail AdaptationSet', async () => {
    const { mpd, base } = await readMpd(result.outputs.dash);
    const sets = mpd.Period[0].AdaptationSet;
    const video = sets.filter((s: any) => s.contentType === 'video');
    assert.equal(video.length, 3);
    const families = video.map((s: any) => [...new Set(s.Representation.map((r: any) => r.codecs.slice(0, 4)))]);
    assert.deepEqual(families.map((f: string[]) => f.length), [1, 1, 1]);
    assert.deepEqual(families.flat().sort(), ['av01', 'avc1', 'hvc1']);
    const image = sets.find((s: any) => s.contentType === 'image');
    assert.ok(image, 'thumbnail AdaptationSet');
    const rep = image.Representation[0];
    const [columns, rows] = rep.EssentialProperty.value.split('x').map(Number);
    assert.ok(columns * rows >= 1);
    const first = rep.SegmentTemplate.media.replace('$Number%03d$', '001');
    assert.ok(existsSync(join(base, first)), `${first} exists`);
  });
});

describe('--codecs h264,hevc in chunks: x264 and x265 warm their rate control up before each chunk', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let source: string;

  before(async () => {
    // Chunks of 2 s: every chunk after the first encodes a warm-up and has it cut off at its first key frame.
    fixture = await transcodeFixture(
      async (folder) => (source = await makeClip(join(folder, 'clip.mp4'), { durationSeconds: 6, width: 320, height: 180, rate: '30' })),
      ['--no-thumbnails', '--codecs', 'h264,hevc', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--chunk-duration', '2'],
    );
  });
  after(async () => fixture.cleanup());

  it('joins the chunks of both codecs frame-exactly, with an IDR frame every 2 s', async () => {
    const { run, result, dir } = fixture;
    assert.equal(run.code, 0, run.stderr);
    const masterPath = result.outputs.hls;
    const variants = (await readPlaylist(masterPath)).variants.filter((v: any) => !v.isIFrameOnly);
    assert.deepEqual(variants.map((v: any) => v.codecs.slice(0, 4)).sort(), ['avc1', 'hvc1']);
    const sourceFrames = await decodedFrameCount(source);
    for (const variant of variants) {
      const joined = await joinCmafTrack(resolveUri(masterPath, variant.uri), join(dir, `${variant.uri.split('/').at(-2)}.mp4`));
      const packets = await videoPackets(joined);
      assert.equal(packets.length, sourceFrames, `${variant.uri} frame count`);
      assert.deepEqual(packets.filter((p) => p.key).map((p) => Math.round(p.pts * 1000) / 1000), [0, 2, 4], `${variant.uri} key frames`);
      assert.equal(await decodedFrameCount(joined), sourceFrames, `${variant.uri} decodes whole`);
    }
  });
});

describe('HDR source (10-bit PQ HEVC)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let dir: string;
  let result: any;
  let run: TranscodeFixture['run'];

  before(async () => {
    fixture = await transcodeFixture(
      (folder) =>
        makeClip(join(folder, 'hdr.mp4'), {
          durationSeconds: 3, width: 320, height: 180, audio: false,
          videoArgs: [
            '-vf', 'format=yuv420p10le', '-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1',
            '-x265-params', `log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:master-display=${MASTER_DISPLAY}:max-cll=1000,400`,
            '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc',
          ],
        }),
      ['--no-thumbnails', '--codecs', 'h264,hevc,av1', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2'],
    );
    ({ dir, result, run } = fixture);
  });
  after(async () => fixture.cleanup());

  it('keeps HEVC and AV1 10-bit PQ with VIDEO-RANGE=PQ, and tone-maps H.264 to 8-bit BT.709 SDR', async () => {
    assert.equal(run.code, 0, run.stderr);
    const masterPath = result.outputs.hls;
    const master = await readPlaylist(masterPath);
    const seen: Record<string, { range?: string; probe: any }> = {};
    for (const variant of master.variants.filter((v: any) => !v.isIFrameOnly)) {
      const joined = await joinCmafTrack(resolveUri(masterPath, variant.uri), join(dir, `${variant.uri.split('/').at(-2)}.mp4`));
      const probe = await videoStream(joined);
      assertCodecsMatchProbe(variant.codecs, probe);
      seen[probe.codec_name] = { range: variant.videoRange, probe };
    }
    for (const codec of ['hevc', 'av1']) {
      assert.equal(seen[codec]!.range, 'PQ', `${codec} VIDEO-RANGE`);
      assert.equal(seen[codec]!.probe.pix_fmt, 'yuv420p10le');
      assert.equal(seen[codec]!.probe.color_transfer, 'smpte2084');
      assert.equal(seen[codec]!.probe.color_primaries, 'bt2020');
    }
    assert.equal(seen.hevc!.probe.profile, 'Main 10');
    for (const codec of ['hevc', 'av1']) {
      const metadata = await firstFrameHdrMetadata(join(dir, `${codec}-144p.mp4`));
      assert.deepEqual(metadata.masteringDisplay?.maxLuminance, 1000, `${codec} mastering display`);
      assert.ok(Math.abs(metadata.masteringDisplay!.green[1] - 0.69) < 0.001);
      assert.deepEqual(metadata.contentLight, { maxCll: 1000, maxFall: 400 }, `${codec} content light level`);
    }
    assert.equal(seen.h264!.range, undefined);
    assert.equal(seen.h264!.probe.pix_fmt, 'yuv420p');
    assert.equal(seen.h264!.probe.color_transfer, 'bt709');
    const iFrames = master.variants.filter((v: any) => v.isIFrameOnly && v.codecs.startsWith('hvc1'));
    assert.equal(iFrames[0].videoRange, 'PQ');
  });
});

function firstFrameHdrMetadata(path: string) {
  return probeHdrStaticMetadata('ffprobe', path, 0);
}
