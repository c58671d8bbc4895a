import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classify, type ChildRecord } from '../../bench/exec-log.js';
import { chunkOutputs, cpuAccount, framesDecodedTwice, profileRun } from '../../bench/profile.js';
import type { RunCost } from '../../bench/measure.js';

/** A child of a vidpipe run as the exec log records it, `start`/`end` in seconds from the run's start. */
function child(args: string[], cpuSeconds: number, start: number, end: number, tool: 'ffmpeg' | 'ffprobe' = 'ffmpeg'): ChildRecord {
  return { start: start * 1000, end: end * 1000, cpuSeconds, maxRssMiB: 50, status: 0, tool, args, work: classify(tool, args) };
}

/** The arguments of a chunk encode, as buildChunkEncodeArgs writes them (the parts the bench reads). */
function chunkEncode(index: number, preroll: number, trimStart: number, end: number, warmup: number): string[] {
  const keyFrames = warmup > 0 ? `expr:eq(n,0)+gte(n,${warmup})*eq(mod(n-${warmup},60),0)` : 'expr:eq(mod(n,60),0)';
  const out = `/w/chunks/h264-360p/chunk_${String(index).padStart(5, '0')}.mp4${warmup > 0 ? '.warmup.mp4' : ''}`;
  return ['-ss', (preroll / 30).toFixed(6), '-i', 'in.mp4', '-filter_complex', `[0:0]fps=fps=30:start_time=${(preroll / 30).toFixed(6)},trim=start_pts=${trimStart}:end_pts=${end},setpts=PTS-STARTPTS[v0]`, '-force_key_frames', keyFrames, '-f', 'mp4', out];
}

describe('the bench\'s CPU account of a vidpipe run', () => {
  // A 20 s run: head to 1 s, two chunk encodes side by side to 11 s, tail to 12 s; the tree used 25 s of CPU.
  const children = [
    child(['-hide_banner', '-encoders'], 0.2, 0.2, 0.3),
    child(['-v', 'error', '-show_entries', 'packet=pts_time,flags', 'in.mp4'], 0.3, 0.3, 0.6, 'ffprobe'),
    child(chunkEncode(0, 0, 0, 300, 0), 10, 1, 11),
    child(chunkEncode(1, 270, 285, 600, 15), 10.5, 1, 11),
    child(['-ss', '0.500000', '-i', '/w/chunk_00001.mp4.warmup.mp4', '-map', '0', '-c', 'copy', '-f', 'mp4', '/w/chunk_00001.mp4'], 0.2, 11, 11.1),
    child(['-f', 'concat', '-i', 'list.txt', '-c', 'copy', 'out.mp4'], 0.3, 11.1, 11.4),
  ];
  const cost: RunCost = {
    wallSeconds: 12, cpuSeconds: 25, peakTreeRssMiB: 300, peakRootRssMiB: 100, othersCpuSeconds: 0, exitCode: 0, startedAt: 0, stderrTail: '',
    // node's own CPU: 0.8 s in the head, 0.4 s during the encodes, 0.3 s in the tail.
    samples: [
      { t: 0, cpu: 0, rootCpu: 0, treeRssMiB: 0, rootRssMiB: 0 },
      { t: 1000, cpu: 1.3, rootCpu: 0.8, treeRssMiB: 0, rootRssMiB: 0 },
      { t: 11000, cpu: 22.2, rootCpu: 1.2, treeRssMiB: 0, rootRssMiB: 0 },
      { t: 12000, cpu: 25, rootCpu: 1.5, treeRssMiB: 0, rootRssMiB: 0 },
    ],
  };
  const tasks = [
    { id: 'probe', kind: 'probe', start: 0.1, end: 0.9 },
    { id: 'encode-video-0', kind: 'encode-video', start: 1, end: 11 },
    { id: 'encode-video-1', kind: 'encode-video', start: 1, end: 11 },
    { id: 'assemble-h264-360p', kind: 'assemble', start: 11.1, end: 11.4 },
  ];
  const profile = profileRun(cost, tasks, children, 2);

  it('reads each chunk from its encode\'s arguments: first frame, seek, warm-up', () => {
    assert.deepEqual(profile.chunks.map((c) => [c.index, c.startFrame, c.prerollFrame, c.warmupFrames, c.frames]), [[0, 0, 0, 0, 300], [1, 300, 270, 15, 315]]);
    // Key frames at 0 and 168: the chunk at 300 decodes from 168.
    assert.deepEqual([...framesDecodedTwice(profile.chunks, [0, 168]).perChunk], [[1, 132]]);
  });

  it('splits the CPU into head, encode and tail that add up to the run\'s, with the chunk starts\' costs inside the encode', () => {
    for (const c of profile.chunks) c.framesDecodedBefore = framesDecodedTwice(profile.chunks, [0, 168]).perChunk.get(c.index);
    const account = cpuAccount(profile, 20);
    const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} ≠ ${b}`);
    // node: 25 − 21.5 s of children = 3.5 s, shared 0.8 : 0.4 : 0.3 between the phases.
    near(account.head, 0.5 + (3.5 * 0.8) / 1.5);
    near(account.encode, 20.7 + (3.5 * 0.4) / 1.5);
    near(account.tail, 0.3 + (3.5 * 0.3) / 1.5);
    near(account.total, 25);
    near(account.warmupCuts, 0.2);
    // 132 frames at 20 ms; 15 warm-up frames at the chunk's 10.5 s / 315 frames less the decode.
    near(account.decodedTwice, 2.64);
    near(account.warmups, 15 * (10.5 / 315 - 0.02));
  });
});

describe('the outputs of a chunk encode, as the bench reads them', () => {
  it('gives each output its picture\'s pixels and whether it warms up (the 1080p rung of a chunk does not)', () => {
    const args = [
      '-ss', '5.600000', '-i', 'in.mp4', '-filter_complex',
      '[0:0]fps=fps=30:start_time=5.600000,trim=start_pts=168:end_pts=360,setpts=PTS-STARTPTS,split=2[s0][s1];' +
        '[s0]trim=start_pts=12,setpts=PTS-STARTPTS,scale=1920:1080:flags=bicubic,setsar=1,format=yuv420p[v0];[s1]scale=640:360:flags=bicubic,setsar=1,format=yuv420p[v1]',
      '-map', '[v0]', '-c:v', 'libx264', '-force_key_frames', 'expr:eq(mod(n,60),0)', '-f', 'mp4', 'a.mp4',
      '-map', '[v1]', '-c:v', 'libx264', '-force_key_frames', 'expr:eq(n,0)+gte(n,12)*eq(mod(n-12,60),0)', '-f', 'mp4', 'b.mp4',
    ];
    assert.deepEqual(chunkOutputs(args), [{ pixels: 1920 * 1080, warmsUp: false }, { pixels: 640 * 360, warmsUp: true }]);
  });
});
