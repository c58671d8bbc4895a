import { runCapture } from './run.js';
import { versionText, type FfmpegBinaries } from './binaries.js';
import { VidpipeError } from '../errors.js';
import type { VideoCodec } from '../settings/job-settings.js';
import { VIDEO_ENCODERS } from './args/encoders.js';

export interface FfmpegCapabilities {
  ffmpegVersion: string;
  ffprobeVersion: string;
  encoders: Set<string>;
}

const cache = new Map<string, Promise<FfmpegCapabilities>>();
const filterLists = new Map<string, Promise<Set<string>>>();

function firstLineVersion(text: string): string {
  const match = /version\s+(\S+)/.exec(text);
  return match ? match[1]! : 'unknown';
}

/** Names in the list `ffmpeg -encoders` / `-filters` prints (" V....D libx264  …"). */
export function parseCodecList(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s*[A-Z.|]{3,8}\s+(\S+)\s/.exec(line);
    if (match && match[1] !== '=') names.add(match[1]!);
  }
  return names;
}

export function detectCapabilities(binaries: FfmpegBinaries): Promise<FfmpegCapabilities> {
  const key = `${binaries.ffmpeg}\0${binaries.ffprobe}`;
  let pending = cache.get(key);
  if (!pending) {
    pending = (async () => {
      // The versions were read when the binaries were found (binaries.ts): not asked again.
      const [ffmpegVersion, ffprobeVersion, encoders] = await Promise.all([
        versionText(binaries.ffmpeg),
        versionText(binaries.ffprobe),
        runCapture(binaries.ffmpeg, ['-hide_banner', '-encoders'], { label: 'ffmpeg -encoders' }),
      ]);
      return {
        ffmpegVersion: firstLineVersion(ffmpegVersion ?? ''),
        ffprobeVersion: firstLineVersion(ffprobeVersion ?? ''),
        encoders: parseCodecList(encoders.stdout),
      };
    })();
    cache.set(key, pending);
  }
  return pending;
}

/**
 * Whether the ffmpeg in use has this filter (libvmaf). Asked only by what measures quality, once
 * per process: a fixed-ladder job never starts the ffmpeg that lists them (~0.1 s of CPU).
 */
export async function hasFilter(binaries: FfmpegBinaries, name: string): Promise<boolean> {
  let pending = filterLists.get(binaries.ffmpeg);
  if (!pending) {
    pending = runCapture(binaries.ffmpeg, ['-hide_banner', '-filters'], { label: 'ffmpeg -filters' }).then((result) => parseCodecList(result.stdout));
    pending.catch(() => filterLists.delete(binaries.ffmpeg));
    filterLists.set(binaries.ffmpeg, pending);
  }
  return (await pending).has(name);
}

/** Fails before any work starts when the ffmpeg in use lacks an encoder the job needs. */
export function assertEncoders(capabilities: FfmpegCapabilities, codecs: VideoCodec[], needsAudio: boolean): void {
  for (const codec of codecs) {
    if (!VIDEO_ENCODERS[codec].some((name) => capabilities.encoders.has(name))) {
      throw new VidpipeError('ENCODER_MISSING', `this ffmpeg has no ${codec} encoder (${VIDEO_ENCODERS[codec].join(' or ')})`, {
        hint: 'install an ffmpeg built with it (Debian: apt-get install ffmpeg) or choose other --codecs; `vidpipe doctor` lists what is available',
      });
    }
  }
  if (needsAudio && !capabilities.encoders.has('aac')) {
    throw new VidpipeError('ENCODER_MISSING', 'this ffmpeg has no aac encoder', { hint: 'run `vidpipe doctor`' });
  }
}
