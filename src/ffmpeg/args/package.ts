import { safeInputPath } from './input-path.js';
import { VidpipeError } from '../../errors.js';

/** Joins the chunks of one rendition with the concat demuxer and stream copy: no re-encode. */
export function buildAssembleArgs(concatListPath: string, output: string): string[] {
  return ['-f', 'concat', '-safe', '0', '-i', safeInputPath(concatListPath), '-map', '0', '-c', 'copy', '-f', 'mp4', output];
}

/**
 * The concat demuxer's list. Its parser reads one directive a line and unquotes the path like a
 * shell word: each path goes in single quotes, a quote inside as '\''. A relative path is
 * resolved against the list file's folder, not the current directory. A line break cannot be
 * written at all.
 */
export function buildConcatList(paths: string[]): string {
  for (const p of paths) {
    if (/[\r\n]/.test(p)) throw new VidpipeError('INTERNAL', `a concat list cannot hold a path with a line break: ${JSON.stringify(p)}`);
  }
  return ['ffconcat version 1.0', ...paths.map((p) => `file '${p.replace(/'/g, "'\\''")}'`)].join('\n') + '\n';
}

export interface CmafPackageInput {
  input: string;
  /** Folder for init.mp4 and seg_NNNNN.m4s. */
  outputDir: string;
  segmentSeconds: number;
  /** Fragment length: one fragment per GOP, so each key frame starts a moof (I-frame playlists). */
  fragmentSeconds: number;
  /** Scratch MPD path: ffmpeg's dash muxer insists on writing one; vidpipe writes its own manifests. */
  scratchManifest: string;
}

/**
 * Cuts one encoded rendition into CMAF segments with ffmpeg's dash muxer (stream copy):
 * segments start on key frames every `segmentSeconds`, each holding one fragment per GOP.
 */
export function buildCmafPackageArgs(input: CmafPackageInput): string[] {
  return [
    '-i', safeInputPath(input.input), '-map', '0', '-c', 'copy',
    '-f', 'dash',
    '-seg_duration', input.segmentSeconds.toFixed(6),
    '-frag_type', 'duration', '-frag_duration', input.fragmentSeconds.toFixed(6),
    '-use_template', '1', '-use_timeline', '1', '-single_file', '0',
    '-init_seg_name', 'init.mp4', '-media_seg_name', 'seg_$Number%05d$.m4s',
    '-dash_segment_type', 'mp4',
    input.scratchManifest,
  ];
}
