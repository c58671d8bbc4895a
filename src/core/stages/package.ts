import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCmafPackageArgs } from '../../ffmpeg/args/package.js';
import { VidpipeError } from '../../errors.js';
import { containerLanguage } from '../../manifest/language.js';
import type { TrackProtection } from '../../manifest/model.js';
import { withMdhdLanguage } from '../../media/mp4-boxes.js';
import type { ProtectionRecord } from '../../protection/keys.js';
import type { MeasuredTrack } from '../../media/measure.js';
import type { StageContext } from '../stage.js';

export interface PackageInput {
  /** Encoded rendition (one track). */
  input: string;
  /** Track folder inside the package, e.g. <package>/video/h264-720p. */
  outputDir: string;
  segmentSeconds: number;
  fragmentSeconds: number;
  durationSeconds: number;
  /** The track's language (BCP 47) for its init segment's media header; absent: left "und". */
  language?: string;
}

export interface PackagedTrack {
  outputDir: string;
  initPath: string;
  segmentPaths: string[];
  /** Not packaged: the rendition did not rise above the one below (src/ladder/rise.ts); no files. */
  dropped?: true;
  /** How its segments are encrypted, as the manifests signal it (src/core/stages/protect.ts); absent: clear. */
  protection?: TrackProtection;
  /** What the job's records keep of that encryption: scheme and key IDs, never a key. */
  protectionRecord?: ProtectionRecord;
  /**
   * The track as measured before whole-segment encryption made its segments unreadable (HLS
   * AES-128), segment sizes those of the encrypted files; absent: the manifests measure the files.
   */
  measured?: MeasuredTrack;
}

/** Cuts one track into CMAF segments (init.mp4 + seg_00001.m4s …) by stream copy. */
export async function packageTrack(input: PackageInput, ctx: StageContext): Promise<PackagedTrack> {
  await rm(input.outputDir, { recursive: true, force: true });
  await mkdir(input.outputDir, { recursive: true });
  const scratchManifest = join(input.outputDir, 'ffmpeg-dash.mpd');
  await ctx.ffmpeg.run(
    buildCmafPackageArgs({
      input: input.input,
      outputDir: input.outputDir,
      segmentSeconds: input.segmentSeconds,
      fragmentSeconds: input.fragmentSeconds,
      scratchManifest,
    }),
    { label: `package ${input.outputDir}`, durationSeconds: input.durationSeconds },
  );
  await rm(scratchManifest, { force: true });
  const names = (await readdir(input.outputDir)).sort();
  const segments = names.filter((n) => /^seg_\d+\.m4s$/.test(n));
  if (!names.includes('init.mp4') || segments.length === 0) {
    throw new VidpipeError('FFMPEG_FAILED', `packaging ${input.outputDir} produced no segments`);
  }
  const initPath = join(input.outputDir, 'init.mp4');
  if (input.language !== undefined) {
    await writeFile(initPath, withMdhdLanguage(await readFile(initPath), containerLanguage(input.language)));
  }
  return { outputDir: input.outputDir, initPath, segmentPaths: segments.map((n) => join(input.outputDir, n)) };
}
