/**
 * Checks of what a package shows and when, against its source as ffmpeg plays it: the first
 * picture, and when a flash and its beep happen (A/V sync, and where the presentation starts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

async function decode(args: string[]): Promise<Buffer> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', ...args, '-'], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

function meanSquaredError(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return sum / a.length;
}

/**
 * The package's first picture is the first picture ffmpeg shows of the source (not a frame the
 * source's edit list hides, nor a later one): of the source's first five pictures, scaled to the
 * package's size, the first is the closest.
 */
export async function assertFirstPicture(packageVideo: string, source: string, size: { width: number; height: number }): Promise<void> {
  const pictureBytes = size.width * size.height;
  const gray = ['-pix_fmt', 'gray', '-f', 'rawvideo'];
  const first = await decode(['-i', packageVideo, '-frames:v', '1', ...gray]);
  const sources = await decode(['-i', source, '-frames:v', '5', '-vf', `scale=${size.width}:${size.height}:flags=bicubic`, ...gray]);
  const errors = Array.from({ length: sources.length / pictureBytes }, (_, i) => meanSquaredError(first, sources.subarray(i * pictureBytes, (i + 1) * pictureBytes)));
  const closest = errors.indexOf(Math.min(...errors));
  assert.equal(closest, 0, `the package's first picture is closest to the source's picture ${closest} (MSE ${errors.map((e) => e.toFixed(1)).join(', ')})`);
}

/** Time of the brightest picture of a video file, seconds from its first picture. */
async function brightestPictureSeconds(video: string, fps: number): Promise<number> {
  const pictures = await decode(['-i', video, '-vf', 'scale=32:18', '-pix_fmt', 'gray', '-f', 'rawvideo']);
  const means: number[] = [];
  for (let i = 0; i + 576 <= pictures.length; i += 576) means.push(pictures.subarray(i, i + 576).reduce((sum, v) => sum + v, 0) / 576);
  return means.indexOf(Math.max(...means)) / fps;
}

/** Time of the first loud sample of an audio file, seconds from its first presented sample. */
async function firstLoudSeconds(audio: string): Promise<number> {
  const rate = 48000;
  const pcm = await decode(['-i', audio, '-vn', '-ac', '1', '-ar', String(rate), '-f', 's16le']);
  for (let i = 0; i + 2 <= pcm.length; i += 2) if (Math.abs(pcm.readInt16LE(i)) > 3000) return i / 2 / rate;
  return Number.NaN;
}

/** The source's flash and beep are at `seconds` in the package's video and audio, each within a frame. */
export async function assertFlashAt(packageVideo: string, packageAudio: string | undefined, seconds: number, fps: number): Promise<void> {
  const flash = await brightestPictureSeconds(packageVideo, fps);
  assert.ok(Math.abs(flash - seconds) <= 1 / fps + 1e-6, `the flash is at ${flash.toFixed(3)} s of the package's video, expected ${seconds} s`);
  if (!packageAudio) return;
  const beep = await firstLoudSeconds(packageAudio);
  assert.ok(Math.abs(beep - seconds) <= 1 / fps, `the beep is at ${beep.toFixed(3)} s of the package's audio, expected ${seconds} s (the flash at ${flash.toFixed(3)} s)`);
}
