/**
 * `vidpipe validate`: runs every HLS and DASH check on a package and collects the results.
 * A directory means its master.m3u8 and manifest.mpd (whichever exist).
 */
import { stat } from 'node:fs/promises';
import { VidpipeError, isVidpipeError } from '../errors.js';
import { probeFile } from '../ffmpeg/probe.js';
import { PackageReader } from './source.js';
import { loadHls, type HlsPackage } from './hls-load.js';
import { entryManifestsOf, packageFoldersIn } from './package-folders.js';
import * as master from './hls-master-checks.js';
import * as media from './hls-media-checks.js';
import * as dash from './dash.js';
import { checkVhsDash, checkVhsHls } from './vhs.js';
import { checkDashProtection, checkHlsProtection } from './protection.js';
import { checkDecryptedSamplesDecode, dashEncryptedTracks, hlsEncryptedTracks, type ContentKey } from './decrypt.js';
import type { CheckResult, ValidationReport } from './result.js';
import type { Tools } from './tracks.js';

export type { CheckResult, ValidationReport } from './result.js';

/** What a validation runs with (`vidpipe validate`'s own options are ValidateOptions in src/settings/). */
export interface ValidationConfig {
  /** The file the package was made from; its duration is compared with the playlists'. */
  source?: string;
  /** ffmpeg/ffprobe, resolved only when needed (MPEG-TS segments, --source, decoding decrypted samples). */
  tools: Tools;
  /** Content keys (`--key`, secret): each encrypted track is decrypted with its KID's key and decoded. */
  keys?: readonly ContentKey[];
}

/** What the decrypt-and-decode check needs; without keys it reports itself skipped. */
export interface Decryption {
  keys?: readonly ContentKey[];
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
  const found = await entryManifestsOf(target);
  if (found.length === 0) {
    throw new VidpipeError('USAGE', `${target} holds no multivariant playlist (master.m3u8), no MPD and no package folders`, {
      hint: 'give a package folder (out/talk), an output folder holding them (out), or the playlist or MPD to check: vidpipe validate dir/other.m3u8',
    });
  }
  return found;
}

export async function hlsChecks(pkg: HlsPackage, sourceSeconds?: number, decryption?: Decryption): Promise<CheckResult[]> {
  return [
    master.checkStrictParse(pkg),
    checkVhsHls(pkg),
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
    master.checkRenditionRoles(pkg),
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
    await checkHlsProtection(pkg),
    ...(decryption ? [await checkDecryptedSamplesDecode(pkg.reader, hlsEncryptedTracks(pkg), decryption.keys, decryption.tools)] : []),
  ].filter((check) => check !== undefined);
}

export async function dashChecks(pkg: dash.DashPackage, sourceSeconds?: number, decryption?: Decryption): Promise<CheckResult[]> {
  return [
    dash.checkDashParse(pkg),
    checkVhsDash(pkg),
    await dash.checkDashStatic(pkg),
    await dash.checkDashProfiles(pkg),
    await dash.checkDashMpdAttributes(pkg),
    await dash.checkDashAdaptationSets(pkg),
    await dash.checkDashRepresentationAttributes(pkg),
    await dash.checkDashAlignment(pkg),
    dash.checkDashSegments(pkg),
    dash.checkDashTimeline(pkg),
    await dash.checkDashCodecs(pkg),
    await dash.checkDashRoles(pkg),
    await dash.checkDashChannels(pkg),
    await dash.checkDashBandwidth(pkg),
    dash.checkDashSourceDuration(pkg, sourceSeconds),
    await checkDashProtection(pkg),
    ...(decryption && pkg.mpd ? [await checkDecryptedSamplesDecode(pkg.reader, dashEncryptedTracks(pkg), decryption.keys, decryption.tools)] : []),
  ].filter((check) => check !== undefined);
}

export async function validatePackage(target: string, options: ValidationConfig): Promise<ValidationReport> {
  const manifests = await manifestsOf(target);
  let sourceSeconds: number | undefined;
  if (options.source) sourceSeconds = (await probeFile((await options.tools()).ffprobe, options.source)).durationSeconds;
  const checks: CheckResult[] = [];
  for (const manifest of manifests) {
    const { reader, ref } = PackageReader.forTarget(manifest);
    try {
      const isMpd = /\.mpd$/i.test(isUrl(ref) ? new URL(ref).pathname : ref);
      const decryption = { keys: options.keys, tools: options.tools };
      const results = isMpd ? await dashChecks(await dash.loadDash(reader, ref), sourceSeconds, decryption) : await hlsChecks(await loadHls(reader, ref, options.tools), sourceSeconds, decryption);
      const name = reader.display(ref);
      checks.push(...results.map((check) => ({ ...check, manifest: name })));
    } finally {
      await reader.close();
    }
  }
  return { ok: checks.every((check) => check.status !== 'fail'), target, checks };
}

/** One package of an output folder: its report, or why it could not be checked. */
export type PackageValidation =
  | (ValidationReport & { name: string })
  | { name: string; target: string; ok: false; error: { code: string; message: string; hint?: string; exitCode: number } };

export interface FolderValidationReport {
  ok: boolean;
  target: string;
  packages: PackageValidation[];
}

/** The package folders of an output folder (`transcode --out`), or none when the target is a package, a file or a URL. */
export async function packagesOfOutputFolder(target: string): Promise<{ name: string; path: string }[]> {
  return isUrl(target) ? [] : packageFoldersIn(target);
}

/** Every package of an output folder, one after another; a package that cannot be read does not stop the others. */
export async function validateOutputFolder(target: string, packages: { name: string; path: string }[], options: ValidationConfig): Promise<FolderValidationReport> {
  const results: PackageValidation[] = [];
  for (const { name, path } of packages) {
    try {
      results.push({ name, ...(await validatePackage(path, options)) });
    } catch (error) {
      if (!isVidpipeError(error)) throw error;
      results.push({ name, target: path, ok: false, error: { code: error.code, message: error.message, hint: error.hint, exitCode: error.exitCode } });
    }
  }
  return { ok: results.every((result) => result.ok), target, packages: results };
}
