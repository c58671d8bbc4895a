/** ffmpeg/ffprobe calls for tests that build tiny real media files. */
import assert from 'node:assert/strict';
import { runCapture } from '../../src/ffmpeg/run.js';

export async function ffmpeg(args: string[]): Promise<void> {
  const result = await runCapture('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-loglevel', 'error', ...args], { label: 'test fixture' });
  assert.equal(result.exitCode, 0, result.stderr);
}

/** Runs ffprobe with `-of json` and returns the parsed output; stderr is ignored (warnings on partial files). */
export async function ffprobeJson<T>(path: string, args: string[]): Promise<T> {
  const result = await runCapture('ffprobe', ['-v', 'error', ...args, '-of', 'json', path], { label: 'test probe' });
  assert.equal(result.exitCode, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

export interface ProbedStream {
  codec_name?: string;
  codec_tag_string?: string;
  profile?: string;
  level?: number;
  width?: number;
  height?: number;
  channels?: number;
  sample_rate?: string;
  color_transfer?: string;
  duration?: string;
  nb_read_frames?: string;
}

export async function probeStream(path: string, entries: string, extra: string[] = []): Promise<ProbedStream> {
  const { streams } = await ffprobeJson<{ streams: ProbedStream[] }>(path, [...extra, '-show_entries', `stream=${entries}`]);
  assert.ok(streams[0], `ffprobe found no stream in ${path}`);
  return streams[0];
}
