/**
 * `vidpipe validate`: runs every HLS and DASH check on a package and collects the results.
 * A directory means its master.m3u8 and manifest.mpd (whichever exist).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VidpipeError } from '../core/errors.js';
import { probeFile } from '../ffmpeg/probe.js';
import { PackageReader } from './source.js';
import { loadHls, type HlsPackage } from './hls-load.js';
import { isMasterText } from './hls-playlist.js';
import * as master from './hls-master-checks.js';
import * as media from './hls-media-checks.js';
import * as dash from './dash.js';
import type { CheckResult, ValidationReport } from './result.js';
import type { Tools } from './tracks.js';

export type { CheckResult, ValidationReport } from './result.js';

export interface ValidateOptions {
  /** The file the package was made from; its duration is compared with the playlists'. */
  source?: string;
  /** ffmpeg/ffprobe, resolved only when needed (MPEG-TS segments, --source). */
  tools: Tools;
}

const isUrl = (target: string) => /^https?:\/\//i.test(target);

/**
 * The manifests a target names: the file itself, or in a directory its manifest.mpd and every
 * top-level multivariant playlist (master.m3u8, and e.g. master-ts.m3u8 beside it).
 */
export async function manifestsOf(target: string): Promise<string[]> {
  if (isUrl(target)) return [target];
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new VidpipeError('INPUT_NOT_FOUND', `${target} does not exist`);
  if (!info.isDirectory()) {
    if (!/\.(m3u8|mpd)$/i.test(target)) throw new VidpipeError('USAGE', `${target} is neither a directory nor a .m3u8 / .mpd file`);
    return [target];
  }
  const names = (await readdir(target)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const found: string[] = [];
  for (const name of names) {
    const path = join(target, name);
    if (/\.mpd$/i.test(name) || (/\.m3u8$/i.test(name) && isMasterText(await readFile(path, 'utf8')))) found.push(path);
  }
  if (found.length === 0) {
    throw new VidpipeError('USAGE', `${target} holds no multivariant playlist (master.m3u8) and no MPD`, { hint: 'name the playlist or MPD to check: vidpipe validate dir/other.m3u8' });
  }
  return found;
}

/** master.m3u8 first, then other playlists, then MPDs: the order a reader expects. */
function rank(name: string): number {
  if (name === 'master.m3u8') return 0;
  return /\.m3u8$/i.test(name) ? 1 : 2;
}

export async function hlsChecks(pkg: HlsPackage, sourceSeconds?: number): Promise<CheckResult[]> {
  return [
    master.checkStrictParse(pkg),
    master.checkMasterTags(pkg),
    media.checkUris(pkg),
    master.checkCodecsPresent(pkg),
    master.checkCodecsMatchBitstream(pkg),
    master.checkResolution(pkg),
    master.checkFrameRate(pkg),
    master.checkBandwidth(pkg),
    master.checkAverageBandwidth(pkg),
    master.checkPeakToAverage(pkg),
    master.checkIndependentSegments(pkg),
    master.checkIFramePlaylists(pkg),
    master.checkRenditionGroups(pkg),
    master.checkClosedCaptions(pkg),
    media.checkVod(pkg),
    media.checkTargetDuration(pkg),
    media.checkSameTargetDuration(pkg),
    media.checkMap(pkg),
    media.checkVersion(pkg),
    media.checkKeyFrameStarts(pkg),
    media.checkKeyFrameGrid(pkg),
    media.checkMediaDurations(pkg),
    media.checkAudioVideoDurations(pkg),
    media.checkSourceDuration(pkg, sourceSeconds),
    await media.checkIFrameRanges(pkg),
  ];
}

export async function dashChecks(pkg: dash.DashPackage, sourceSeconds?: number): Promise<CheckResult[]> {
  return [
    dash.checkDashParse(pkg),
    await dash.checkDashStatic(pkg),
    await dash.checkDashProfiles(pkg),
    await dash.checkDashMpdAttributes(pkg),
    await dash.checkDashAdaptationSets(pkg),
    await dash.checkDashRepresentationAttributes(pkg),
    await dash.checkDashAlignment(pkg),
    dash.checkDashSegments(pkg),
    dash.checkDashTimeline(pkg),
    await dash.checkDashCodecs(pkg),
    await dash.checkDashBandwidth(pkg),
    dash.checkDashSourceDuration(pkg, sourceSeconds),
  ];
}

export async function validatePackage(target: string, options: ValidateOptions): Promise<ValidationReport> {
  const manifests = await manifestsOf(target);
  let sourceSeconds: number | undefined;
  if (options.source) sourceSeconds = (await probeFile((await options.tools()).ffprobe, options.source)).durationSeconds;
  const checks: CheckResult[] = [];
  for (const manifest of manifests) {
    const { reader, ref } = PackageReader.forTarget(manifest);
    try {
      const isMpd = /\.mpd$/i.test(isUrl(ref) ? new URL(ref).pathname : ref);
      const results = isMpd ? await dashChecks(await dash.loadDash(reader, ref), sourceSeconds) : await hlsChecks(await loadHls(reader, ref, options.tools), sourceSeconds);
      const name = reader.display(ref);
      checks.push(...results.map((check) => ({ ...check, manifest: name })));
    } finally {
      await reader.close();
    }
  }
  return { ok: checks.every((check) => check.status !== 'fail'), target, checks };
}
