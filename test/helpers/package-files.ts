/** Reading a finished vidpipe package in end-to-end tests: playlists, MPD, joined CMAF tracks. */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import HLS from 'hls-parser';
import { ffprobeJson, runCli, tempDir } from './media.js';

/** Strictly parsed playlist (hls-parser strict mode throws on RFC 8216 violations). */
export async function readPlaylist(path: string): Promise<any> {
  HLS.setOptions({ strictMode: true });
  return HLS.parse(await readFile(path, 'utf8'));
}

/** A URI of a playlist resolved to a local path. */
export function resolveUri(playlistPath: string, uri: string): string {
  return join(dirname(playlistPath), ...posix.normalize(uri).split('/'));
}

const REPEATED = new Set(['Period', 'AdaptationSet', 'Representation', 'Role', 'S', 'BaseURL']);

/** The MPD as a plain object (attributes as strings) and the folder its URLs resolve against. */
export async function readMpd(path: string): Promise<{ mpd: any; base: string }> {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => REPEATED.has(name) });
  const mpd = parser.parse(await readFile(path, 'utf8')).MPD;
  const mpdBase = mpd.BaseURL?.[0];
  return { mpd, base: join(dirname(path), typeof mpdBase === 'string' ? mpdBase : '') };
}

/** Joins a CMAF track (init + media segments listed in its playlist) into one file ffprobe reads whole. */
export async function joinCmafTrack(playlistPath: string, output: string): Promise<string> {
  const playlist = await readPlaylist(playlistPath);
  const init = playlist.segments[0].map.uri as string;
  const parts = await Promise.all([init, ...playlist.segments.map((s: any) => s.uri as string)].map((uri) => readFile(resolveUri(playlistPath, uri))));
  await writeFile(output, Buffer.concat(parts));
  return output;
}

export interface PacketInfo {
  pts: number;
  key: boolean;
}

/** Video packets in presentation order: from the container's flags, so AV1 (dav1d ignores -skip_frame) works too. */
export async function videoPackets(path: string): Promise<PacketInfo[]> {
  const json = await ffprobeJson(['-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', path]);
  return json.packets.map((p: { pts_time: string; flags: string }) => ({ pts: Number(p.pts_time), key: p.flags.startsWith('K') })).sort((a: PacketInfo, b: PacketInfo) => a.pts - b.pts);
}

/** What ffprobe says about the first video stream. */
export async function videoStream(path: string): Promise<any> {
  const json = await ffprobeJson(['-select_streams', 'v:0', '-show_entries', 'stream=codec_name,codec_tag_string,profile,level,pix_fmt,width,height,color_transfer,color_primaries', path]);
  return json.streams[0];
}

export interface TranscodeFixture {
  dir: string;
  run: Awaited<ReturnType<typeof runCli>>;
  /** The one JSON result `--json` printed. */
  result: any;
  cleanup: () => Promise<void>;
}

/**
 * Makes a source in a temporary folder and transcodes it with `bin/vidpipe … --json` into
 * <dir>/out with its own database; `args` are the extra transcode options.
 */
export async function transcodeFixture(makeSource: (dir: string) => Promise<string>, args: string[] | ((dir: string) => string[])): Promise<TranscodeFixture> {
  const { dir, cleanup } = await tempDir();
  const source = await makeSource(dir);
  const extra = typeof args === 'function' ? args(dir) : args;
  const run = await runCli(['transcode', source, '--out', join(dir, 'out'), '--db', join(dir, 'meta.db'), '--json', '--concurrency', '2', ...extra]);
  let result: any;
  try {
    result = JSON.parse(run.stdout.trim());
  } catch {
    result = { status: 'no JSON', stderr: run.stderr };
  }
  return { dir, run, result, cleanup };
}
