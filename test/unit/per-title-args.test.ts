import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLadder, type Rendition } from '../../src/core/ladder.js';
import type { VideoStreamInfo } from '../../src/ffmpeg/probe.js';
import { buildChunkEncodeArgs, buildVideoEncoderArgs } from '../../src/ffmpeg/args/video.js';
import { buildProbeQualityArgs, buildSampleDecodeArgs, decodedSampleChunk } from '../../src/ffmpeg/args/probe-quality.js';
import { buildQualityArgs } from '../../src/ffmpeg/args/metrics.js';
import { decodedFrameBytes, groupOutputs, PROBE_CRFS, RAW_SAMPLE_LIMIT, type ProbeOutput } from '../../src/ladder/analyse.js';

function video(displayWidth: number, displayHeight: number): VideoStreamInfo {
  return {
    index: 0, codec: 'h264', width: displayWidth, height: displayHeight, displayWidth, displayHeight, rotation: 0,
    sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false,
  };
}
const fps = { num: 25, den: 1 };
const rung = (codec: Rendition['codec']) => ({ ...buildLadder(video(1920, 1080), { codecs: [codec], frameRate: fps, preset: 'medium', av1Encoder: 'libsvtav1' })[1]!, crf: 27.5 });
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('capped-CRF encoder arguments', () => {
  it('x264 and x265 take the CRF with the cap as maxrate/bufsize, and no -b:v', () => {
    for (const codec of ['h264', 'hevc'] as const) {
      const args = buildVideoEncoderArgs(rung(codec), 50);
      assert.equal(after(args, '-crf'), '27.5');
      assert.equal(after(args, '-maxrate'), `${rung(codec).maxrateKbps}k`);
      assert.equal(after(args, '-bufsize'), `${rung(codec).bufsizeKbps}k`);
      assert.ok(!args.includes('-b:v'), args.join(' '));
    }
  });
  it('SVT-AV1 runs capped CRF (its only capped mode); libaom constrained quality with -b:v as the cap', () => {
    const svt = buildVideoEncoderArgs({ ...rung('av1'), crf: 38 }, 50);
    assert.equal(after(svt, '-crf'), '38');
    assert.ok(svt.includes('-maxrate') && !svt.includes('-b:v'), svt.join(' '));
    const aom = buildVideoEncoderArgs({ ...rung('av1'), crf: 38, encoder: { name: 'libaom-av1', preset: '4', threads: 'encoder-default' } }, 50);
    assert.equal(after(aom, '-crf'), '38');
    assert.equal(after(aom, '-b:v'), `${rung('av1').maxrateKbps}k`);
  });
  it('a rung without crf is VBR as before', () => {
    const { crf: _crf, ...vbr } = rung('h264');
    const args = buildVideoEncoderArgs(vbr, 50);
    assert.equal(after(args, '-b:v'), '3000k');
    assert.ok(!args.includes('-crf'));
  });
});

describe('probe quality arguments', () => {
  const sample = { index: 1, startFrame: 250, endFrame: 300, prerollFrame: 225 };
  const probes = [
    { path: '/w/720-crf20.mp4', width: 1280, height: 720, psnrLog: '/w/a.psnr', ssimLog: '/w/a.ssim' },
    { path: '/w/720-crf29.mp4', width: 1280, height: 720, psnrLog: '/w/b.psnr', ssimLog: '/w/b.ssim', vmafLog: '/w/b.vmaf.json' },
  ];
  const resolutionLoss = [{ width: 1280, height: 720, psnrLog: '/w/720.res' }];
  const args = buildProbeQualityArgs({ source: '/src/in.mp4', streamIndex: 0, frameRate: fps, deinterlace: false, sample, display: { width: 1920, height: 1080 }, probes, resolutionLoss });
  const graph = after(args, '-filter_complex')!;

  it('opens the source exactly as the chunk encode of the same sample does, then each probe', () => {
    const encode = buildChunkEncodeArgs({
      source: '/src/in.mp4', streamIndex: 0, frameRate: fps, chunk: sample, gopFrames: 50, deinterlace: false,
      outputs: [{ rendition: rung('h264'), path: '/w/x.mp4' }],
    });
    const seek = (a: string[]) => a.slice(a.indexOf('-ss'), a.indexOf('-i') + 2);
    assert.deepEqual(seek(args), seek(encode));
    assert.deepEqual(args.filter((_, i) => args[i - 1] === '-i'), ['/src/in.mp4', '/w/720-crf20.mp4', '/w/720-crf29.mp4']);
    assert.ok(graph.startsWith('[0:0]fps=fps=25:start_time=9.000000,trim=start_pts=250:end_pts=300,setpts=PTS-STARTPTS,split=2[src0][src1]'), graph);
  });
  it('scales each reference size once and measures PSNR and SSIM of every probe at its own size', () => {
    assert.equal(graph.match(/scale=1280:720/g)?.length, 1, graph);
    assert.match(graph, /\[src0\]scale=1280:720:flags=bicubic,setsar=1,format=yuv420p,split=5\[ref0_0\]/);
    assert.match(graph, /\[p0a\]\[ref0_0\]psnr=stats_file=\\'\/w\/a\.psnr\\'\[p0b\]/);
    assert.match(graph, /\[p0b\]\[ref0_1\]ssim=stats_file=\\'\/w\/a\.ssim\\'\[out0\]/);
  });
  it('measures the loss of the resolution alone: the reference upscaled to the display size', () => {
    assert.match(graph, /\[ref0_4\]scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p\[up0\];\[up0\]\[dref1\]psnr=stats_file=\\'\/w\/720\.res\\'\[rout0\]/);
  });
  it('adds libvmaf at the display size only where a VMAF log is asked for (ffmpeg with libvmaf)', () => {
    assert.equal(graph.match(/libvmaf/g)?.length, 1);
    assert.match(graph, /\[p1b\]split=2\[p1s\]\[p1v\];\[p1v\]scale=1920:1080[^;]*\[p1up\];\[p1up\]\[dref0\]libvmaf=log_fmt=json:log_path=\\'\/w\/b\.vmaf\.json\\'\[vout1\]/);
    assert.deepEqual(args.filter((_, i) => args[i - 1] === '-map'), ['[out0]', '[vout1]', '[out1]', '[rout0]']);
  });
});

describe('a sample decoded once for its probes', () => {
  const sample = { index: 1, startFrame: 250, endFrame: 300, prerollFrame: 225 };
  const decode = buildSampleDecodeArgs({ source: '/src/in.mp4', streamIndex: 2, frameRate: fps, deinterlace: true, sample, path: '/w/s1.nut' });
  const encode = buildChunkEncodeArgs({
    source: '/src/in.mp4', streamIndex: 2, frameRate: fps, chunk: sample, gopFrames: 50, deinterlace: true,
    outputs: [{ rendition: rung('h264'), path: '/w/x.mp4' }],
  });

  it('seeks and steps exactly as the chunk encode of the same frames, into raw frames', () => {
    const head = (a: string[]) => a.slice(a.indexOf('-ss'), a.indexOf('-i') + 2);
    assert.deepEqual(head(decode), head(encode));
    const steps = after(encode, '-filter_complex')!.split(',split=')[0]!.split('[s0]')[0];
    assert.equal(after(decode, '-filter_complex'), `${steps}[v]`);
    assert.match(after(decode, '-filter_complex')!, /^\[0:2\]bwdif=mode=send_frame:deint=interlaced,fps=fps=25:start_time=9\.000000,trim=start_pts=250:end_pts=300,setpts=PTS-STARTPTS\[v\]$/);
    assert.deepEqual(decode.slice(-5), ['-map_metadata', '-1', '-f', 'nut', '/w/s1.nut']);
    assert.equal(after(decode, '-c:v'), 'rawvideo');
  });
  it('is read back as a chunk from frame 0 with the same length and no preroll', () => {
    assert.deepEqual(decodedSampleChunk(sample), { index: 1, startFrame: 0, endFrame: 50, prerollFrame: 0 });
    const fromRaw = buildChunkEncodeArgs({
      source: '/w/s1.nut', streamIndex: 0, frameRate: fps, chunk: decodedSampleChunk(sample), gopFrames: 50, deinterlace: false,
      outputs: [{ rendition: rung('h264'), path: '/w/x.mp4' }],
    });
    assert.ok(!fromRaw.includes('-ss'));
    assert.match(after(fromRaw, '-filter_complex')!, /^\[0:0\]fps=fps=25:start_time=0\.000000,trim=start_pts=0:end_pts=50,/);
  });
  it('counts a decoded frame\'s bytes from its pixel format: raw decodes up to 1080p fit, 4K 10-bit does not', () => {
    const stream = (width: number, height: number, pixelFormat: string, bitDepth = 8) => ({ width, height, pixelFormat, bitDepth });
    assert.equal(decodedFrameBytes(stream(1920, 1080, 'yuv420p')), 1920 * 1080 * 1.5);
    assert.equal(decodedFrameBytes(stream(1920, 1080, 'yuv422p10le', 10)), 1920 * 1080 * 4);
    assert.equal(decodedFrameBytes(stream(1920, 1080, 'yuva444p')), 1920 * 1080 * 4);
    assert.ok(decodedFrameBytes(stream(1920, 1080, 'yuv420p')) * 120 <= RAW_SAMPLE_LIMIT, '2 s of 1080p60');
    assert.ok(decodedFrameBytes(stream(3840, 2160, 'yuv420p10le', 10)) * 120 > RAW_SAMPLE_LIMIT, '2 s of 4K60 HDR');
  });
});

describe('probe quality with SSIM and the resolution loss on every second frame', () => {
  const sample = { index: 0, startFrame: 0, endFrame: 50, prerollFrame: 0 };
  const probes = [{ path: '/w/a.mp4', width: 640, height: 360, psnrLog: '/w/a.psnr', ssimLog: '/w/a.ssim', vmafLog: '/w/a.vmaf.json' }];
  const resolutionLoss = [{ width: 640, height: 360, psnrLog: '/w/360.res' }];
  const graphOf = (frameStride?: number) =>
    after(buildProbeQualityArgs({ source: '/w/s0.nut', streamIndex: 0, frameRate: fps, deinterlace: false, sample, display: { width: 1280, height: 720 }, probes, resolutionLoss, ...(frameStride ? { frameStride } : {}) }), '-filter_complex')!;
  const every2 = 'select=not\\(mod\\(n\\\\,2\\)\\)';
  it('compares PSNR and VMAF on every frame, SSIM on the same thinned frames of probe and reference', () => {
    const graph = graphOf(2);
    assert.match(graph, /\[p0a\]\[ref0_0\]psnr=/, graph);
    assert.match(graph, /\[p0up\]\[dref0\]libvmaf=/, graph);
    assert.match(graph, new RegExp(`\\[p0s\\]${every2}\\[p0t\\];\\[ref0_1\\]${every2}\\[r0t\\];\\[p0t\\]\\[r0t\\]ssim=`), graph);
  });
  it('thins the resolution loss before its upscale, and its display reference alike', () => {
    const graph = graphOf(2);
    assert.match(graph, new RegExp(`\\[ref0_2\\]${every2},scale=1280:720[^;]*\\[up0\\]`), graph);
    assert.match(graph, new RegExp(`\\[dref1\\]${every2}\\[d0t\\]`), graph);
    assert.match(graph, /\[up0\]\[d0t\]psnr=stats_file=\\'\/w\/360\.res\\'/, graph);
    assert.ok(!graphOf().includes('select='));
  });
  it('thins the resolution loss by its own stride, SSIM by the frame stride', () => {
    const graph = after(buildProbeQualityArgs({ source: '/w/s0.nut', streamIndex: 0, frameRate: fps, deinterlace: false, sample, display: { width: 1280, height: 720 }, probes, resolutionLoss, frameStride: 2, resolutionStride: 6 }), '-filter_complex')!;
    const every6 = 'select=not\\(mod\\(n\\\\,6\\)\\)';
    assert.match(graph, new RegExp(`\\[p0s\\]${every2}\\[p0t\\]`), graph);
    assert.match(graph, new RegExp(`\\[ref0_2\\]${every6},scale=1280:720[^;]*\\[up0\\]`), graph);
    assert.match(graph, new RegExp(`\\[dref1\\]${every6}\\[d0t\\]`), graph);
    // Only the resolution loss (the probes' PSNR came from their encoder): thinned once, before the split and the scales.
    const lossOnly = after(buildProbeQualityArgs({ source: '/w/s0.nut', streamIndex: 0, frameRate: fps, deinterlace: false, sample, display: { width: 1280, height: 720 }, probes: [], resolutionLoss, resolutionStride: 6 }), '-filter_complex')!;
    assert.match(lossOnly, new RegExp(`^\\[0:0\\][^;]*setpts=PTS-STARTPTS,${every6},split=2`), lossOnly);
    assert.equal(lossOnly.split('select=').length, 2, lossOnly);
  });
});

describe('probe sizes and process groups', () => {
  it('balances the probe encodes of a sample over processes, keeping a size\'s CRFs together', () => {
    const outputs: ProbeOutput[] = buildLadder(video(1920, 1080), { codecs: ['h264'], frameRate: fps, preset: 'medium', av1Encoder: 'libsvtav1' }).flatMap((candidate) =>
      PROBE_CRFS.h264.map((crf) => ({ candidate, crf, rendition: { ...candidate, id: `${candidate.id}-crf${crf}`, crf } })),
    );
    const groups = groupOutputs(outputs, 2);
    assert.equal(groups.length, 2);
    assert.deepEqual(groups.map((g) => [...new Set(g.map((o) => o.rendition.size))]), [[1080], [720, 540, 432, 360, 234]]);
    for (const g of groups) for (const size of new Set(g.map((o) => o.rendition.size))) assert.equal(g.filter((o) => o.rendition.size === size).length, PROBE_CRFS.h264.length);
    assert.equal(groupOutputs(outputs, 1).length, 1);
  });
});

describe('the quality check measures only its target', () => {
  const rendition = { path: '/w/r.mp4', width: 960, height: 540, psnrLog: '/w/0-psnr.log' };
  const base = { source: '/in/source.mp4', sourceStreamIndex: 0, frameRate: { num: 25, den: 1 }, durationSeconds: 4, deinterlace: false };

  it('leaves SSIM out when no SSIM log is asked for: one reference, PSNR the last comparison', () => {
    const graph = buildQualityArgs({ ...base, renditions: [rendition] }).join(' ');
    assert.doesNotMatch(graph, /ssim=/);
    assert.match(graph, /scale=960:540:flags=bicubic,setsar=1,format=yuv420p,setpts=PTS-STARTPTS\[r0_0\]/);
    assert.ok(graph.includes("[d0_0][r0_0]psnr=stats_file=\\'/w/0-psnr.log\\' "), graph);
  });

  it('chains PSNR then SSIM (then VMAF) when asked, as --metrics measures', () => {
    const graph = buildQualityArgs({ ...base, renditions: [{ ...rendition, ssimLog: '/w/0-ssim.log', vmafLog: '/w/0-vmaf.json' }] }).join(' ');
    assert.match(graph, /split=3\[r0_0\]\[r0_1\]\[r0_2\]/);
    assert.ok(graph.includes("[d0_0][r0_0]psnr=stats_file=\\'/w/0-psnr.log\\'[d0_1];[d0_1][r0_1]ssim=stats_file=\\'/w/0-ssim.log\\'[d0_2];[d0_2][r0_2]libvmaf=log_fmt=json:log_path=\\'/w/0-vmaf.json\\' "), graph);
  });
});
