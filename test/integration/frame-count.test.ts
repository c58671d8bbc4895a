/**
 * countVideoFrames on files real ffmpeg writes: MP4 files are counted from their boxes, with no
 * ffprobe run at all (the ffprobe passed does not exist), and agree with ffprobe's packet count;
 * other containers still go through ffprobe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isVidpipeError } from '../../src/errors.js';
import { countVideoFrames } from '../../src/ffmpeg/count.js';
import { readVideoSampleSizes, readVideoSamples } from '../../src/media/mp4-file.js';
import { segmentBytes, segmentBytesInDecodeOrder } from '../../src/ladder/rise.js';
import { ffmpeg } from '../helpers/media-tools.js';

const exec = promisify(execFile);
const NO_FFPROBE = '/nonexistent/ffprobe';

async function ffprobeCount(path: string): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', path]);
  return Number(stdout.trim());
}

async function ffprobeBytes(path: string): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=size', '-of', 'csv=p=0', path]);
  return stdout.split('\n').filter(Boolean).reduce((sum, line) => sum + Number(line), 0);
}

let dir: string;
const picture = (seconds: number, rate = 30) => ['-f', 'lavfi', '-i', `testsrc2=size=160x90:rate=${rate}:duration=${seconds}`];
const tone = (seconds: number) => ['-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`];

describe('countVideoFrames', () => {
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'vidpipe-frame-count-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: [string, string[]][] = [
    // What a chunk encode writes: B-frames (an edit list shifts them), index after the data.
    ['x264 with B-frames, index at the end', [...picture(2.5), '-c:v', 'libx264', '-bf', '3', '-f', 'mp4']],
    ['index first (faststart), with audio', [...picture(2), ...tone(2), '-c:v', 'libx264', '-c:a', 'aac', '-movflags', '+faststart', '-f', 'mp4']],
    ['audio track before the video track', [...picture(2), ...tone(2), '-map', '1', '-map', '0', '-c:v', 'libx264', '-c:a', 'aac', '-f', 'mp4']],
    ['fragmented, empty moov', [...picture(3), '-c:v', 'libx264', '-g', '30', '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4']],
    ['fragmented after samples in moov', [...picture(3), '-c:v', 'libx264', '-g', '30', '-movflags', 'frag_keyframe', '-f', 'mp4']],
    ['QuickTime, 29.97 fps', [...picture(2, 30000 / 1001), '-c:v', 'libx264', '-f', 'mov']],
  ];
  for (const [name, args] of cases) {
    it(`${name}: the MP4 boxes give ffprobe's packet count, without running ffprobe`, async () => {
      const path = join(dir, `${name.replace(/\W+/g, '-')}.mp4`);
      await ffmpeg([...args, path]);
      const expected = await ffprobeCount(path);
      assert.ok(expected > 0);
      assert.equal(await countVideoFrames(NO_FFPROBE, path), expected);
      // The per-title probes' rates come from these bytes: the same as ffprobe's packet sizes.
      assert.equal((await readVideoSamples(path))?.bytes, await ffprobeBytes(path));
    });
  }

  it('segment bytes from the decode-order sizes equal those from ffprobe\'s packet times (closed GOPs, B-frames, 2 GOPs a segment)', async () => {
    const path = join(dir, 'closed-gops.mp4');
    await ffmpeg([...picture(5), '-c:v', 'libx264', '-bf', '3', '-x264-params', 'keyint=30:min-keyint=30:scenecut=0:open-gop=0', '-f', 'mp4', path]);
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,size', '-of', 'csv=p=0', path]);
    const fromTimes = segmentBytes(stdout, 30, 60);
    assert.equal(fromTimes.length, 3);
    assert.deepEqual(segmentBytesInDecodeOrder((await readVideoSampleSizes(path))!, 60), fromTimes);
  });

  it('an assembled rendition (concat of chunks, stream copy) and its CMAF package joined back', async () => {
    const parts = [0, 1].map((i) => join(dir, `part${i}.mp4`));
    for (const [i, part] of parts.entries()) await ffmpeg([...picture(2), '-c:v', 'libx264', '-g', '30', '-frames:v', String(45 + i * 15), '-f', 'mp4', part]);
    const list = join(dir, 'list.ffconcat');
    await writeFile(list, `ffconcat version 1.0\n${parts.map((p) => `file '${p}'`).join('\n')}\n`);
    const assembled = join(dir, 'assembled.mp4');
    await ffmpeg(['-f', 'concat', '-safe', '0', '-i', list, '-map', '0', '-c', 'copy', '-f', 'mp4', assembled]);
    assert.equal(await countVideoFrames(NO_FFPROBE, assembled), 105);
    assert.equal(await ffprobeCount(assembled), 105);

    await ffmpeg(['-i', assembled, '-c', 'copy', '-f', 'dash', '-seg_duration', '1', '-init_seg_name', 'init.mp4', '-media_seg_name', 'seg_$Number%05d$.m4s', join(dir, 'x.mpd')]);
    const segments = await Promise.all([1, 2, 3, 4].map((k) => readFile(join(dir, `seg_0000${k}.m4s`)).catch(() => Buffer.alloc(0))));
    const joined = join(dir, 'joined.mp4');
    await writeFile(joined, Buffer.concat([await readFile(join(dir, 'init.mp4')), ...segments]));
    assert.equal(await countVideoFrames(NO_FFPROBE, joined), 105);
  });

  it('other containers are counted by ffprobe', async () => {
    const path = join(dir, 'clip.mkv');
    await ffmpeg([...picture(2), '-c:v', 'libx264', path]);
    assert.equal(await countVideoFrames('ffprobe', path), 60);
    await assert.rejects(countVideoFrames(NO_FFPROBE, path));
  });

  // ffprobe reads what is there of a cut-off file and counts that (58 of 60 frames here).
  it('a cut-off MP4 is a failed encode, not a shorter count', async () => {
    const path = join(dir, 'cut.mp4');
    await ffmpeg([...picture(2), '-c:v', 'libx264', '-movflags', '+faststart', '-f', 'mp4', path]);
    const whole = await readFile(path);
    await writeFile(path, whole.subarray(0, whole.length - 1000));
    await assert.rejects(countVideoFrames('ffprobe', path), (error) => isVidpipeError(error) && error.code === 'FFMPEG_FAILED' && /cannot count frames/.test(error.message));
  });
});
