/**
 * download.mp4's ffmpeg arguments (src/ffmpeg/args/download.ts): a remux of the top rung and the
 * default audio (stream copy, one stream of each), moov first, every path guarded.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildDownloadArgs } from '../../src/ffmpeg/args/download.js';

/** The value following `option` in `args`, for each place the option appears. */
function valuesOf(args: string[], option: string): string[] {
  return args.flatMap((arg, i) => (arg === option ? [args[i + 1]!] : []));
}

describe('buildDownloadArgs', () => {
  it('copies the video of the first input and the audio of the second into one progressive MP4', () => {
    const args = buildDownloadArgs({ video: '/work/renditions/h264-1080p.mp4', audio: '/work/audio/aac-128k.mp4', output: '/pkg/job/download.mp4' });
    assert.deepEqual(valuesOf(args, '-i'), ['/work/renditions/h264-1080p.mp4', '/work/audio/aac-128k.mp4']);
    assert.deepEqual(valuesOf(args, '-map'), ['0:v:0', '1:a:0']);
    assert.deepEqual(valuesOf(args, '-c'), ['copy'], 'stream copy, no encoder');
    assert.ok(!args.some((arg) => /^-(c|codec):[va]$|^-b:|^-crf$|^-vf$|^-af$|^-filter/.test(arg)), `no encode or filter: ${args.join(' ')}`);
    assert.match(valuesOf(args, '-movflags')[0] ?? '', /\+faststart/);
    assert.deepEqual(args.slice(-3), ['-f', 'mp4', '/pkg/job/download.mp4']);
  });

  it('maps only the video when the source has no audio', () => {
    const args = buildDownloadArgs({ video: '/work/renditions/h264-720p.mp4', output: '/pkg/download.mp4' });
    assert.deepEqual(valuesOf(args, '-i'), ['/work/renditions/h264-720p.mp4']);
    assert.deepEqual(valuesOf(args, '-map'), ['0:v:0']);
  });

  it('passes names that look like options or protocols as file names', () => {
    const args = buildDownloadArgs({ video: '-evil.mp4', audio: 'concat:a.mp4|b.mp4', output: 'out:put.mp4' });
    assert.deepEqual(valuesOf(args, '-i'), ['./-evil.mp4', 'file:./concat:a.mp4|b.mp4']);
    assert.equal(args.at(-1), 'file:./out:put.mp4');
  });
});
