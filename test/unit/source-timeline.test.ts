import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePacketLines, type InputTimeline } from '../../src/ffmpeg/timeline.js';
import { applyTimeline, assertContinuousClock, assertNotTruncated, assertOneContinuousProgram, remuxReason } from '../../src/ffmpeg/input-policy.js';
import { parseProbe } from '../../src/ffmpeg/probe.js';
import { countDecodeErrors } from '../../src/ffmpeg/decode-errors.js';
import { maxDecodeErrorsFor } from '../../src/core/plan.js';
import { inputBaseName } from '../../src/storage/index.js';

/** ffprobe -show_entries packet=… -of csv=p=0 lines for one stream at `fps`, from `start` s. */
function packets(stream: number, count: number, start: number, fps: number, firstByte = 0, step = 1000): string[] {
  return Array.from({ length: count }, (_, i) => {
    const t = (start + i / fps).toFixed(6);
    return `${stream},${t},${t},${(1 / fps).toFixed(6)},${firstByte + i * step},${i % 25 === 0 ? 'K_' : '__'},`;
  });
}

function timeline(lines: string[], stderr = ''): InputTimeline {
  return { streams: parsePacketLines(lines.join('\n')), stderr };
}

const MP4 = 'mov,mp4,m4a,3gp,3g2,mj2';

function probe(format: Record<string, unknown>, streams: Record<string, unknown>[], programs?: unknown[]) {
  return parseProbe('in.file', 200_000, { format, streams, ...(programs ? { programs } : {}) } as never);
}

const video = (extra: Record<string, unknown> = {}) => ({ index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 180, avg_frame_rate: '25/1', ...extra });
const audio = (extra: Record<string, unknown> = {}) => ({ index: 1, codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000', ...extra });

describe('packet timeline', () => {
  it('summarises each stream: time span, bytes, key frames', () => {
    const t = parsePacketLines([...packets(0, 100, 10, 25, 0), ...packets(1, 10, 9.98, 2.5, 500)].join('\n'));
    const v = t.get(0)!;
    assert.deepEqual([v.packets, v.keyPackets, v.startSeconds, v.firstByte, v.lastByte], [100, 4, 10, 0, 99_000]);
    assert.ok(Math.abs(v.endSeconds - 14) < 1e-6);
    assert.equal(v.restartCount, 0);
    assert.equal(t.get(1)!.startSeconds, 9.98);
  });

  it('leaves out the packets an edit list hides (a cut mid-GOP): the presentation starts at the edit', () => {
    // `ffmpeg -ss 1.2 -i in.mp4 -c copy cut.mp4`: the GOP's first 30 pictures are decoded, flagged discard (D), never shown.
    const hidden = packets(0, 30, -1.2, 25).map((line) => line.replace(/,(K|_)_,$/, ',$1D,'));
    const v = parsePacketLines([...hidden, ...packets(0, 70, 0, 25, 30_000)].join('\n')).get(0)!;
    assert.deepEqual([v.packets, v.discardedPackets, v.startSeconds], [100, 30, 0]);
    assert.ok(Math.abs(v.endSeconds - 2.8) < 1e-6);
    assert.deepEqual(v.keyTimes, [0, 1, 2], 'the hidden key frames are no seek points');
    assert.equal(v.restartCount, 0);
  });

  it('counts only shown key frames: a cut whose only key frame is hidden has none to seek to, an intra-only cut needs none', () => {
    // A long GOP (300 pictures) cut at 1.2 s: its one key frame is in the hidden head.
    const longGop = (line: string, i: number) => (i === 0 ? line : line.replace(/,K_,$/, ',__,'));
    const hidden = packets(0, 30, -1.2, 25).map(longGop).map((line) => line.replace(/,(K|_)_,$/, ',$1D,'));
    const cut = parsePacketLines([...hidden, ...packets(0, 70, 0, 25, 30_000).map((line) => line.replace(/,K_,$/, ',__,'))].join('\n')).get(0)!;
    assert.deepEqual([cut.packets, cut.discardedPackets, cut.keyPackets, cut.keyTimes], [100, 30, 0, []]);
    const probed = applyTimeline(probe({ format_name: MP4, duration: '2.8', start_time: '0' }, [video({ start_time: '0' })]), { streams: new Map([[0, cut]]), stderr: '' }, false);
    assert.deepEqual(probed.video!.keyFrameSeconds, [], 'no key frame to seek to, not "every frame is one"');
    // Intra-only: every packet a key frame, hidden ones too.
    const allKey = (line: string) => line.replace(/,(K|_)(.),$/, ',K$2,');
    const intra = parsePacketLines([...hidden.map(allKey), ...packets(0, 70, 0, 25, 30_000).map(allKey)].join('\n')).get(0)!;
    assert.deepEqual([intra.keyPackets, intra.keyTimes], [70, undefined]);
  });

  it('finds a clock that restarts (files joined end to end) and the largest jump forward', () => {
    const t = parsePacketLines([...packets(0, 50, 1.4, 25), ...packets(0, 50, 1.4, 25, 50_000), ...packets(0, 10, 200, 25, 100_000)].join('\n')).get(0)!;
    assert.equal(t.restartCount, 1);
    assert.equal(t.restarts[0]!.toSeconds, 1.4);
    assert.equal(t.restarts[0]!.byte, 50_000);
    assert.ok(Math.abs(t.largestGap!.toSeconds - t.largestGap!.fromSeconds - (200 - 3.36)) < 1e-6);
  });

  it('counts packets without timestamps and skips blank lines', () => {
    const t = parsePacketLines('0,N/A,N/A,N/A,1,K_\n\n0,0.040000,0.040000,0.040000,2,__\n').get(0)!;
    assert.deepEqual([t.packets, t.untimedPackets, t.startSeconds], [2, 1, 0.04]);
  });
});

describe('reading a source: what the packets say against what the container says', () => {
  it('an MP4 whose clock starts at 10 s lasts 4 s, it is not truncated (its "14 s" is the end time)', () => {
    const p = probe({ format_name: MP4, start_time: '9.976', duration: '14.0' }, [video({ start_time: '10.0', duration: '14.0' }), audio({ start_time: '9.976', duration: '14.0' })]);
    const t = timeline([...packets(0, 100, 10, 25), ...packets(1, 100, 9.976, 24.8, 500)]);
    assertNotTruncated(p, t);
    const measured = applyTimeline(p, t, false);
    assert.ok(Math.abs(measured.durationSeconds - 4.04) < 0.01, `duration ${measured.durationSeconds}`);
    assert.ok(Math.abs(measured.video!.durationSeconds! - 4) < 1e-6);
    assert.equal(remuxReason(p, t, false), undefined, 'read in place');
  });

  it('refuses a file whose data ends long before its index says', () => {
    const p = probe({ format_name: MP4, start_time: '0', duration: '3.0' }, [video({ start_time: '0', duration: '3.0' })]);
    assert.throws(() => assertNotTruncated(p, timeline(packets(0, 38, 0, 25))), /is truncated: its data ends at 1\.52 s of a declared 3\.00 s/);
    assert.throws(() => assertNotTruncated(p, timeline(packets(0, 75, 0, 25), '[mov,mp4] stream 0, offset 0x1234: partial file')), /truncated/);
  });

  it('measures a duration the container does not state and reads such a file through a copy', () => {
    const p = probe({ format_name: 'matroska,webm', start_time: '0' }, [video(), audio()]);
    assert.equal(p.durationSeconds, 0);
    const t = timeline([...packets(0, 120, 0, 30), ...packets(1, 200, 0, 50)]);
    const measured = applyTimeline({ ...p, durationMeasured: true }, t, false);
    assert.ok(Math.abs(measured.durationSeconds - 4) < 1e-6);
    assert.match(remuxReason({ ...p, durationMeasured: true }, t, false)!, /states no duration/);
  });

  it('copies MPEG-TS for chunked seeking, and mends a restarting clock only there', () => {
    const ts = probe({ format_name: 'mpegts', start_time: '1.4', duration: '6.0' }, [video()]);
    const restarting = timeline([...packets(0, 150, 1.4, 25), ...packets(0, 150, 1.4, 25, 150_000)]);
    assert.match(remuxReason(ts, timeline(packets(0, 150, 1.4, 25)), false)!, /seek by key frame only in MP4 and Matroska/);
    assert.match(remuxReason(ts, restarting, false)!, /clock restarts 1 time/);
    const mkv = probe({ format_name: 'matroska,webm', start_time: '0', duration: '6.0' }, [video()]);
    assert.equal(remuxReason(mkv, restarting, false), undefined);
    assert.throws(() => assertContinuousClock(mkv, restarting, false), /timestamps of video stream 0 go back from 7\.360 s to 1\.400 s at byte 150000 \(1 time\)/);
  });

  it('refuses a jump forward longer than a minute in the video clock', () => {
    const mkv = probe({ format_name: 'matroska,webm', start_time: '0', duration: '104' }, [video()]);
    assertContinuousClock(mkv, timeline([...packets(0, 50, 0, 25), ...packets(0, 50, 30, 25)]), false);
    assert.throws(() => assertContinuousClock(mkv, timeline([...packets(0, 50, 0, 25), ...packets(0, 50, 102, 25)]), false), /jump 100\.0 s forward at 1\.96 s/);
  });
});

describe('MPEG-TS programs', () => {
  const streams = [video({ id: '0x100' }), audio({ id: '0x101' }), video({ index: 2, id: '0x200' }), audio({ index: 3, id: '0x201' })];
  const programs = [
    { program_num: 1, tags: { service_name: 'One' }, streams: [{ index: 0 }, { index: 1 }] },
    { program_num: 2, tags: { service_name: 'Two' }, streams: [{ index: 2 }, { index: 3 }] },
  ];
  const ts = () => probe({ format_name: 'mpegts', start_time: '1.4', duration: '3.0' }, streams, programs);

  it('keeps to the program with the main video: the other program adds no audio', () => {
    const p = ts();
    assert.deepEqual(p.program, { number: 1, name: 'One', streamIndexes: [0, 1] });
    assert.deepEqual(p.audioStreams.map((a) => a.index), [1]);
    assert.deepEqual(p.allMediaStreamIndexes, [0, 1, 2, 3]);
  });

  it('accepts two programs broadcast together, refuses one that follows the other', () => {
    const together = timeline([...packets(0, 75, 1.4, 25, 0, 2000), ...packets(1, 75, 1.4, 25, 1000, 2000), ...packets(2, 75, 1.4, 25, 500, 2000), ...packets(3, 75, 1.4, 25, 1500, 2000)]);
    assertOneContinuousProgram(ts(), together);
    const oneAfterTheOther = timeline([...packets(0, 75, 1.4, 25, 0), ...packets(1, 75, 1.4, 25, 500), ...packets(2, 75, 1.4, 25, 100_000), ...packets(3, 75, 1.4, 25, 100_500)]);
    assert.throws(() => assertOneContinuousProgram(ts(), oneAfterTheOther), /changes streams part way through: video stream 0 \(PID 0x100\) of program 1 covers 0 %–37 % of the file and video stream 2 \(PID 0x200\) of program 2 50 %–87 %/);
  });
});

describe('MPEG-TS audio PID changes', () => {
  it('refuses an audio PID that changes at a splice while the video goes on', () => {
    const p = probe({ format_name: 'mpegts', start_time: '1.4', duration: '6.0' }, [video({ id: '0x100' }), audio({ id: '0x101' }), audio({ index: 2, id: '0x102' })]);
    assert.deepEqual(p.audioStreams.map((a) => a.index), [1, 2]);
    const spliced = timeline([...packets(0, 150, 1.4, 25, 0, 1000), ...packets(1, 75, 1.4, 25, 500, 1000), ...packets(2, 75, 1.4, 25, 75_500, 1000)]);
    assert.throws(() => assertOneContinuousProgram(p, spliced), /audio stream 1 \(PID 0x101\) covers 0 %–37 % of the file and audio stream 2 \(PID 0x102\) 38 %–75 %/);
    const twoLanguages = timeline([...packets(0, 150, 1.4, 25, 0, 1000), ...packets(1, 150, 1.4, 25, 300, 1000), ...packets(2, 150, 1.4, 25, 600, 1000)]);
    assertOneContinuousProgram(p, twoLanguages);
  });
});

describe('decode errors', () => {
  it('counts each concealed or undecodable frame, not the decoder\'s per-macroblock lines', () => {
    const stderr = [
      '[h264 @ 0x55] [error] error while decoding MB 13 8, bytestream -7',
      '[h264 @ 0x55] [error] concealing 200 DC, 200 AC, 200 MV errors in P frame',
      '[null @ 0x56] [warning] in.mp4: corrupt decoded frame in stream 0',
      '[h264 @ 0x55] [error] out of range intra chroma pred mode',
      '[warning] in.mp4: corrupt decoded frame in stream 0',
      '[error] Error while decoding stream #0:0: Invalid data found when processing input',
      '[h264 @ 0x55] [error] non-existing PPS 0 referenced',
    ].join('\n');
    assert.deepEqual(countDecodeErrors(stderr), { count: 3, first: 'error while decoding MB 13 8, bytestream -7' });
    assert.deepEqual(countDecodeErrors('[h264 @ 0x1] [error] no frame!\n'), { count: 0, first: 'no frame!' });
    // The AAC decoder refusing a damaged frame, as the audio encode (-loglevel level+error) prints it.
    const aac = ['[aac @ 0x56] [error] Number of bands (72) exceeds limit (48).', '[error] Error while decoding stream #0:1: Invalid data found when processing input'];
    assert.deepEqual(countDecodeErrors([...aac, ...aac].join('\n')), { count: 2, first: 'Number of bands (72) exceeds limit (48).' });
  });

  it('allows a few (10, or 0.1 % of a long video), any with --allow-decode-errors', () => {
    assert.equal(maxDecodeErrorsFor(150, false), 10);
    assert.equal(maxDecodeErrorsFor(90_000, false), 90);
    assert.equal(maxDecodeErrorsFor(150, true), undefined);
  });
});

describe('input names', () => {
  it('takes the last path segment of a path, an S3 key or a URL (decoded, no query)', () => {
    assert.equal(inputBaseName('/videos/talk.mp4'), 'talk.mp4');
    assert.equal(inputBaseName('s3://bucket/raw/My Talk.MOV'), 'My Talk.MOV');
    assert.equal(inputBaseName('https://cdn.example.com/v/My%20Talk.mp4?sig=abc#t=3'), 'My Talk.mp4');
    assert.equal(inputBaseName('https://example.com/'), 'input');
  });
});

describe('source key frames for the chunk prerolls', () => {
  it('keeps the video key frames from the packets, relative to the container start, and none for all-key audio', () => {
    // Video from 10 s with a key frame every 25 packets (1 s); audio packets are all key frames.
    const audioKeys = Array.from({ length: 50 }, (_, i) => `1,${(10 + i * 0.08).toFixed(6)},${(10 + i * 0.08).toFixed(6)},0.080000,${900_000 + i},K_,`);
    const t = timeline([...packets(0, 100, 10, 25), ...audioKeys]);
    assert.deepEqual(t.streams.get(0)!.keyTimes, [10, 11, 12, 13]);
    assert.equal(t.streams.get(1)!.keyTimes, undefined);
    const probed = applyTimeline(probe({ format_name: MP4, duration: '4', start_time: '10' }, [video({ start_time: '10' }), audio({ start_time: '10' })]), t, false);
    assert.deepEqual(probed.video!.keyFrameSeconds, [0, 1, 2, 3]);
  });
});
