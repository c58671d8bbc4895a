import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StageContext } from '../../src/core/stage.js';
import { FfmpegRunner } from '../../src/ffmpeg/runner.js';
import { probeFile } from '../../src/ffmpeg/probe.js';
import { runCapture } from '../../src/ffmpeg/run.js';
import { escapeFilterValue } from '../../src/ffmpeg/args/images.js';
import { createPoster } from '../../src/core/stages/poster.js';
import { createStoryboard } from '../../src/core/stages/storyboard.js';
import { extractCover } from '../../src/core/stages/cover.js';

let dir: string;

function context(): StageContext {
  const signal = new AbortController().signal;
  const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;
  return { ffmpeg: new FfmpegRunner({ binaries, stallTimeoutMs: 0, cores: 1, parallelEncodes: 1 }, signal), signal, onProgress: () => {}, workDir: dir };
}

async function ffmpeg(...args: string[]): Promise<void> {
  const result = await runCapture('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', ...args], { label: 'fixture' });
  assert.equal(result.exitCode, 0, result.stderr);
}

/** Encodes a lavfi graph into a small H.264 mp4. */
async function lavfiVideo(name: string, graph: string): Promise<string> {
  const path = join(dir, name);
  await ffmpeg('-f', 'lavfi', '-i', graph, '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path);
  return path;
}

async function imageSize(path: string): Promise<{ codec: string; width: number; height: number }> {
  const { stdout } = await runCapture('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', path], { label: 'probe' });
  const stream = (JSON.parse(stdout) as { streams: { codec_name: string; width: number; height: number }[] }).streams[0]!;
  return { codec: stream.codec_name, width: stream.width, height: stream.height };
}

/** Mean luma (signalstats YAVG) of an image, or of a crop `w:h:x:y` of it. */
/** PSNR (average over Y, U, V) of picture `a` against picture `b` of the same size. */
async function psnr(a: string, b: string): Promise<number> {
  const result = await runCapture('ffmpeg', ['-hide_banner', '-nostdin', '-i', a, '-i', b, '-lavfi', 'psnr', '-f', 'null', '-'], { label: 'psnr' });
  assert.equal(result.exitCode, 0, result.stderr);
  const average = /average:([\d.]+|inf)/.exec(result.stderr)?.[1];
  assert.ok(average, result.stderr);
  return average === 'inf' ? 100 : Number(average);
}

async function meanLuma(path: string, crop?: string): Promise<number> {
  const graph = `movie=${escapeFilterValue(path)}${crop ? `,crop=${crop}` : ''},signalstats`;
  const { stdout, exitCode, stderr } = await runCapture(
    'ffprobe',
    ['-v', 'error', '-f', 'lavfi', '-i', graph, '-show_entries', 'frame_tags=lavfi.signalstats.YAVG', '-of', 'csv=p=0'],
    { label: 'signalstats' },
  );
  assert.equal(exitCode, 0, stderr);
  const value = Number(stdout.trim().split('\n')[0]);
  assert.ok(Number.isFinite(value), `no YAVG for ${path}: ${stdout}`);
  return value;
}

interface Cue {
  start: string;
  end: string;
  sprite: string;
  xywh: number[];
}

function parseVtt(text: string): Cue[] {
  assert.ok(text.startsWith('WEBVTT\n'), 'VTT header');
  const cues: Cue[] = [];
  for (const block of text.trim().split(/\n\n+/).slice(1)) {
    const [timing, payload] = block.split('\n');
    const times = /^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})$/.exec(timing ?? '');
    const target = /^(sprite_\d{3}\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(payload ?? '');
    assert.ok(times && target, `malformed cue: ${block}`);
    cues.push({ start: times[1]!, end: times[2]!, sprite: target[1]!, xywh: target.slice(2).map(Number) });
  }
  return cues;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vidpipe-images-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('poster', () => {
  it('skips a black opening and picks a bright, detailed frame', async () => {
    // One lavfi graph: two separate lavfi inputs would be read out of step and lose frames.
    const source = await lavfiVideo('black-start.mp4', 'color=black:s=320x180:r=25:d=2[a];testsrc2=s=320x180:r=25:d=4[b];[a][b]concat=n=2:v=1:a=0');
    const probe = await probeFile('ffprobe', source);
    const outDir = join(dir, 'black-start');
    const poster = await createPoster({ source, probe, outDir, smallWidth: 160 }, context());

    assert.ok(poster.timeSeconds >= 2, `poster taken at ${poster.timeSeconds} s, inside the black opening`);
    assert.deepEqual([poster.width, poster.height], [320, 180]);
    assert.deepEqual(await imageSize(poster.full), { codec: 'mjpeg', width: 320, height: 180 });
    assert.deepEqual(await imageSize(poster.small), { codec: 'mjpeg', width: 160, height: 90 });
    const luma = await meanLuma(poster.full);
    assert.ok(luma > 60, `poster is dark (YAVG ${luma})`);
  });

  it('takes its candidates at the key frames of an analysis copy with a key frame every GOP, and still skips a black opening', async () => {
    const source = await lavfiVideo('black-start-src.mp4', 'color=black:s=320x180:r=25:d=2[a];testsrc2=s=320x180:r=25:d=4[b];[a][b]concat=n=2:v=1:a=0');
    // A vidpipe-like rendition of it: closed 1 s GOPs with B-frames.
    const copy = join(dir, 'black-start-gops.mp4');
    await ffmpeg('-i', source, '-vf', 'scale=160:90', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '3', '-x264-params', 'keyint=25:min-keyint=25:scenecut=0:open-gop=0', '-pix_fmt', 'yuv420p', copy);
    const probe = await probeFile('ffprobe', source);
    const poster = await createPoster({ source, probe, outDir: join(dir, 'black-start-keys'), analysis: { source: copy, probe: await probeFile('ffprobe', copy), keyFrameSeconds: 1 } }, context());
    assert.ok([2, 3, 4, 5].includes(poster.timeSeconds), `poster taken at ${poster.timeSeconds} s: a key frame after the black opening`);
    assert.ok((await meanLuma(poster.full)) > 60, 'the poster is not black');
  });

  it('decodes the chosen frame from the copy at its size when given one, not from the source', async () => {
    // The source and its "rendition" differ in every pixel: the poster tells which one was decoded.
    const source = await lavfiVideo('bright-source.mp4', 'color=white:s=320x180:r=25:d=4');
    const rendition = await lavfiVideo('dark-rendition.mp4', 'color=0x202020:s=320x180:r=25:d=4');
    const probe = await probeFile('ffprobe', source);
    const poster = await createPoster({ source, probe, outDir: join(dir, 'from-rendition'), frameSource: rendition }, context());
    assert.deepEqual(await imageSize(poster.full), { codec: 'mjpeg', width: 320, height: 180 });
    assert.ok((await meanLuma(poster.full)) < 60, 'the poster is the rendition\'s frame');
    assert.ok((await meanLuma(poster.small)) < 60, 'and so is the small one');
  });

  it('is upright for a source with rotation metadata', async () => {
    const base = await lavfiVideo('landscape.mp4', 'testsrc2=s=320x180:r=25:d=3');
    const source = join(dir, 'rotated.mp4');
    await ffmpeg('-i', base, '-c', 'copy', '-metadata:s:v', 'rotate=90', source);
    const probe = await probeFile('ffprobe', source);
    assert.ok(probe.video && probe.video.rotation % 180 === 90, `fixture not rotated (rotation ${probe.video?.rotation})`);

    const poster = await createPoster({ source, probe, outDir: join(dir, 'rotated') }, context());
    assert.deepEqual([poster.width, poster.height], [180, 320]);
    assert.deepEqual(await imageSize(poster.full), { codec: 'mjpeg', width: 180, height: 320 });
    assert.deepEqual(await imageSize(poster.small), { codec: 'mjpeg', width: 180, height: 320 }, 'small poster is not wider than the full one');
  });

  it('undoes anamorphic pixels', async () => {
    const source = await lavfiVideo('anamorphic.mp4', 'testsrc2=s=240x180:r=25:d=3,setsar=4/3');
    const probe = await probeFile('ffprobe', source);
    const poster = await createPoster({ source, probe, outDir: join(dir, 'anamorphic') }, context());
    assert.deepEqual([poster.width, poster.height], [320, 180]);
    assert.deepEqual(await imageSize(poster.full), { codec: 'mjpeg', width: 320, height: 180 });
  });

  it('handles a single-frame input and a sub-second one', async () => {
    const single = await lavfiVideo('single.mp4', 'testsrc2=s=320x180:r=25:d=0.04');
    const singlePoster = await createPoster({ source: single, probe: await probeFile('ffprobe', single), outDir: join(dir, 'single') }, context());
    assert.equal(singlePoster.timeSeconds, 0);
    assert.deepEqual(await imageSize(singlePoster.full), { codec: 'mjpeg', width: 320, height: 180 });

    const short = await lavfiVideo('short.mp4', 'testsrc2=s=320x180:r=25:d=0.4');
    const shortPoster = await createPoster({ source: short, probe: await probeFile('ffprobe', short), outDir: join(dir, 'short') }, context());
    assert.ok(shortPoster.timeSeconds > 0 && shortPoster.timeSeconds < 0.4, `time ${shortPoster.timeSeconds}`);
    assert.ok((await meanLuma(shortPoster.full)) > 60);
  });
});

describe('storyboard', () => {
  it('writes one cue per interval pointing at the right tile, including a partial last sheet', async () => {
    // 5 s at 2 s per thumbnail: 3 thumbnails, the last covering only 1 s.
    const source = await lavfiVideo('storyboard.mp4', 'testsrc2=s=320x180:r=25:d=5');
    const probe = await probeFile('ffprobe', source);
    const outDir = join(dir, 'storyboard-out');
    const board = await createStoryboard({ source, probe, outDir, intervalSeconds: 2, columns: 2, rows: 1 }, context());

    assert.equal(board.count, 3);
    assert.deepEqual([board.thumbWidth, board.thumbHeight], [160, 90]);
    assert.deepEqual(board.sprites, [join(outDir, 'storyboard', 'sprite_001.jpg'), join(outDir, 'storyboard', 'sprite_002.jpg')]);
    assert.equal(board.vttPath, join(outDir, 'storyboard', 'storyboard.vtt'));

    const cues = parseVtt(await readFile(board.vttPath, 'utf8'));
    assert.deepEqual(cues, [
      { start: '00:00:00.000', end: '00:00:02.000', sprite: 'sprite_001.jpg', xywh: [0, 0, 160, 90] },
      { start: '00:00:02.000', end: '00:00:04.000', sprite: 'sprite_001.jpg', xywh: [160, 0, 160, 90] },
      { start: '00:00:04.000', end: '00:00:05.000', sprite: 'sprite_002.jpg', xywh: [0, 0, 160, 90] },
    ]);
    for (const sprite of board.sprites) assert.deepEqual(await imageSize(sprite), { codec: 'mjpeg', width: 320, height: 90 });
    // The partial sheet holds the third thumbnail in its first tile and black padding in the second.
    assert.ok((await meanLuma(board.sprites[1]!, '160:90:0:0')) > 60, 'third thumbnail missing');
    assert.ok((await meanLuma(board.sprites[1]!, '160:90:160:0')) < 25, 'unused tile is not padding');
  });

  it('on a source with a key frame every second, decodes key frames only and writes the same sheets: the frame at each cue\'s start', async () => {
    // A vidpipe-like rendition: closed GOPs of 25 frames with B-frames; frame n is drawn with its number.
    const source = join(dir, 'board-gops.mp4');
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=25:d=6', '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '3', '-x264-params', 'keyint=25:min-keyint=25:scenecut=0:open-gop=0', '-pix_fmt', 'yuv420p', source);
    const probe = await probeFile('ffprobe', source);
    const full = await createStoryboard({ source, probe, outDir: join(dir, 'board-full'), intervalSeconds: 2 }, context());
    const keys = await createStoryboard({ source, probe, outDir: join(dir, 'board-keys'), intervalSeconds: 2, keyFrameSeconds: 1 }, context());
    assert.equal(keys.count, 3);
    assert.deepEqual(await readFile(keys.sprites[0]!), await readFile(full.sprites[0]!));
    // The tiles are frames 0, 50 and 100 (each cue's start), not the frames half an interval on.
    const sheetOf = async (frames: number[], name: string) => {
      const path = join(dir, name);
      await ffmpeg('-i', source, '-vf', `select='${frames.map((n) => `eq(n,${n})`).join('+')}',scale=160:90,setsar=1,tile=3x1`, '-frames:v', '1', '-c:v', 'mjpeg', '-q:v', '5', path);
      return path;
    };
    const atStarts = await psnr(keys.sprites[0]!, await sheetOf([0, 50, 100], 'sheet-starts.jpg'));
    const later = await psnr(keys.sprites[0]!, await sheetOf([24, 74, 124], 'sheet-later.jpg'));
    assert.ok(atStarts > 35 && atStarts > later + 5, `PSNR against the cue starts ${atStarts} dB, against frames 24/74/124 ${later} dB`);
  });

  it('defaults to a 2 s interval on one sheet shrunk to its thumbnails, in display geometry', async () => {
    const base = await lavfiVideo('board-landscape.mp4', 'testsrc2=s=320x180:r=25:d=6');
    const source = join(dir, 'board-rotated.mp4');
    await ffmpeg('-i', base, '-c', 'copy', '-metadata:s:v', 'rotate=90', source);
    const probe = await probeFile('ffprobe', source);
    const board = await createStoryboard({ source, probe, outDir: join(dir, 'board-rotated') }, context());

    assert.equal(board.intervalSeconds, 2);
    assert.equal(board.count, 3);
    assert.deepEqual([board.thumbWidth, board.thumbHeight], [160, 284]);
    const cues = parseVtt(await readFile(board.vttPath, 'utf8'));
    assert.equal(cues.length, 3);
    assert.equal(cues.at(-1)!.end, '00:00:06.000');
    assert.deepEqual(cues.map((cue) => cue.xywh[0]), [0, 160, 320]);
    assert.deepEqual(await imageSize(board.sprites[0]!), { codec: 'mjpeg', width: 480, height: 284 });
  });

  it('fills every interval when the video stream ends before the audio', async () => {
    const source = join(dir, 'short-video.mp4');
    await ffmpeg(
      '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=25:d=2', '-f', 'lavfi', '-i', 'sine=d=6',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
    );
    const probe = await probeFile('ffprobe', source);
    assert.ok(probe.durationSeconds >= 5.9, `fixture duration ${probe.durationSeconds}`);
    const board = await createStoryboard({ source, probe, outDir: join(dir, 'board-short-video'), intervalSeconds: 2 }, context());
    assert.equal(board.count, 3);
    // The interval after the video's end shows its last frame, not black.
    assert.ok((await meanLuma(board.sprites[0]!, '160:90:320:0')) > 60, 'last thumbnail is black');
  });
});

describe('cover', () => {
  it('extracts embedded artwork from an mp3', async () => {
    const audio = join(dir, 'plain.mp3');
    const picture = join(dir, 'art.png');
    const tagged = join(dir, 'tagged.mp3');
    await ffmpeg('-f', 'lavfi', '-i', 'sine=f=440:d=2', '-c:a', 'libmp3lame', '-b:a', '64k', audio);
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=200x100', '-frames:v', '1', '-update', '1', picture);
    await ffmpeg('-i', audio, '-i', picture, '-map', '0', '-map', '1', '-c', 'copy', '-id3v2_version', '3', '-disposition:v', 'attached_pic', tagged);
    const probe = await probeFile('ffprobe', tagged);
    assert.ok(probe.videoStreams.some((stream) => stream.isAttachedPicture), 'fixture has no attached picture');

    const cover = await extractCover({ source: tagged, probe, outDir: join(dir, 'cover-embedded') }, context());
    assert.equal(cover.kind, 'embedded');
    assert.deepEqual([cover.width, cover.height], [200, 100]);
    // The PNG was re-encoded: a .jpg must contain a JPEG.
    assert.deepEqual(await imageSize(cover.path), { codec: 'mjpeg', width: 200, height: 100 });
    assert.ok((await meanLuma(cover.path)) > 60);
  });

  it('draws a waveform for audio without artwork', async () => {
    const source = join(dir, 'tone.wav');
    await ffmpeg('-f', 'lavfi', '-i', 'sine=f=220:d=3', source);
    const probe = await probeFile('ffprobe', source);
    const cover = await extractCover({ source, probe, outDir: join(dir, 'cover-waveform') }, context());
    assert.equal(cover.kind, 'waveform');
    assert.deepEqual(await imageSize(cover.path), { codec: 'mjpeg', width: 1280, height: 360 });
    // A steady tone fills a band across the middle; the top edge stays background.
    assert.ok((await meanLuma(cover.path, '1280:40:0:160')) > (await meanLuma(cover.path, '1280:40:0:0')) + 40, 'no waveform drawn');
  });
});
