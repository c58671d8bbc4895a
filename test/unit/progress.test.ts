import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressParser } from '../../src/ffmpeg/progress.js';
import { buildChunkFilterGraph, buildChunkEncodeArgs } from '../../src/ffmpeg/args/video.js';
import { buildLadder } from '../../src/core/ladder.js';

describe('ProgressParser', () => {
  it('emits one record per -progress block, preferring out_time_us', () => {
    const parser = new ProgressParser();
    const lines = ['frame=120', 'out_time_us=4004000', 'out_time_ms=4004000', 'speed=2.5x', 'progress=continue', 'frame=180', 'out_time_us=6006000', 'speed=N/A', 'progress=end'];
    const records = lines.map((l) => parser.push(l)).filter(Boolean);
    assert.deepEqual(records, [
      { outTimeSeconds: 4.004, speed: 2.5, frame: 120, done: false },
      { outTimeSeconds: 6.006, speed: 0, frame: 180, done: true },
    ]);
  });
});

describe('chunk encode arguments', () => {
  const video = { index: 0, codec: 'h264', width: 640, height: 360, displayWidth: 640, displayHeight: 360, rotation: 0, sampleAspectRatio: { num: 1, den: 1 }, displayAspectRatio: { num: 16, den: 9 }, bitDepth: 8, startSeconds: 0, isAttachedPicture: false };
  const renditions = buildLadder(video, { codecs: ['h264'], frameRate: { num: 30000, den: 1001 }, rungs: [{ size: 360, kbps: 730 }, { size: 234, kbps: 145 }], preset: 'fast', av1Encoder: 'libsvtav1' });
  const input = {
    source: '-weird name.mp4', streamIndex: 0, frameRate: { num: 30000, den: 1001 }, gopFrames: 60, deinterlace: false,
    chunk: { index: 2, startFrame: 360, endFrame: 540, prerollFrame: 330 },
    outputs: renditions.map((rendition, i) => ({ rendition, path: `/w/${i}.mp4` })),
  };

  it('decodes once, anchors fps on the grid and cuts whole frames, then splits per rendition', () => {
    assert.equal(
      buildChunkFilterGraph(input),
      '[0:0]fps=fps=30000/1001:start_time=11.011000,trim=start_pts=360:end_pts=540,setpts=PTS-STARTPTS,split=2[s0][s1];' +
        '[s0]scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v0];[s1]scale=416:234:flags=bicubic,setsar=1,format=yuv420p[v1]',
    );
  });

  it('logs warnings (corrupt frames), seeks to the preroll, keeps timestamps absolute, protects odd file names and fixes the GOP', () => {
    const args = buildChunkEncodeArgs(input);
    assert.deepEqual(args.slice(0, 8), ['-loglevel', 'level+warning', '-ss', '11.011000', '-copyts', '-start_at_zero', '-i', './-weird name.mp4']);
    assert.equal(args.filter((a) => a === '-map').length, 2);
    assert.ok(args.includes('keyint=60:min-keyint=60:scenecut=0:open-gop=0'));
    assert.ok(args.includes('expr:eq(mod(n,60),0)'));
    assert.deepEqual(args.slice(args.indexOf('-b:v'), args.indexOf('-b:v') + 6), ['-b:v', '730k', '-maxrate', '803k', '-bufsize', '1460k']);
  });
});
