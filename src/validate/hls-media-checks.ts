/**
 * Media playlist checks (reference section A, assertions 15–26): playlist structure, URIs,
 * and what the segments really contain (key frames, durations, I-frame byte ranges).
 */
import { readFragmentSamples } from '../media/measure.js';
import { readBoxes, readTrackExtends } from '../media/mp4-boxes.js';
import { fromProblems, pass, skip, type CheckResult } from './result.js';
import { isMeasured, playlistsOf, type HlsPackage, type LoadedPlaylist } from './hls-load.js';
import type { MediaPlaylist } from './hls-playlist.js';
import type { MeasuredMedia } from './tracks.js';

const AV_DURATION_TOLERANCE = 0.1;
const SOURCE_DURATION_TOLERANCE = 0.1;
const GOP_SECONDS = 2;

type WithPlaylist = LoadedPlaylist & { playlist: MediaPlaylist };
const all = (pkg: HlsPackage) => playlistsOf(pkg, 'variant', 'iframe', 'audio', 'subtitles', 'media');
const avPlaylists = (pkg: HlsPackage) => playlistsOf(pkg, 'variant', 'audio', 'media');
const extinfTotal = (playlist: MediaPlaylist) => playlist.segments.reduce((sum, segment) => sum + segment.duration, 0);

function measuredPlaylists(pkg: HlsPackage): { loaded: WithPlaylist; media: MeasuredMedia }[] {
  return avPlaylists(pkg).flatMap((loaded) => (isMeasured(loaded.measured) ? [{ loaded, media: loaded.measured }] : []));
}

function unmeasuredNote(pkg: HlsPackage): string {
  const reasons = avPlaylists(pkg).flatMap((loaded) => (loaded.measured && !isMeasured(loaded.measured) ? [`${loaded.name}: ${loaded.measured.unmeasured}`] : []));
  return reasons.length ? ` (not measured: ${reasons.join('; ')})` : '';
}

export function checkUris(pkg: HlsPackage): CheckResult {
  return fromProblems('hls-uris', pkg.missing.map((m) => `missing ${m}`), `all ${pkg.uriCount} playlist, init and segment URIs resolve`);
}

export function checkVod(pkg: HlsPackage): CheckResult {
  const playlists = all(pkg);
  const problems: string[] = [];
  for (const { name, playlist } of playlists) {
    if (playlist.playlistType !== 'VOD') problems.push(`${name}: EXT-X-PLAYLIST-TYPE is ${playlist.playlistType ?? 'absent'}, not VOD`);
    if (!playlist.endList) problems.push(`${name}: no EXT-X-ENDLIST`);
  }
  return fromProblems('hls-vod', problems, `${playlists.length} media playlists are PLAYLIST-TYPE:VOD with EXT-X-ENDLIST`);
}

export function checkTargetDuration(pkg: HlsPackage): CheckResult {
  const problems: string[] = [];
  const playlists = all(pkg);
  for (const { name, playlist } of playlists) {
    if (playlist.targetDurations.length !== 1) {
      problems.push(`${name}: EXT-X-TARGETDURATION appears ${playlist.targetDurations.length} times (exactly once required)`);
      continue;
    }
    const td = playlist.targetDurations[0]!;
    const longest = playlist.segments.reduce((max, segment) => Math.max(max, segment.duration), 0);
    // RFC 8216 §4.3.3.1: each EXTINF rounded to the nearest integer is at most the target duration.
    if (Math.round(longest) > td) problems.push(`${name}: longest EXTINF ${longest} rounds to ${Math.round(longest)} > TARGETDURATION ${td}`);
  }
  return fromProblems('hls-target-duration', problems, `round(EXTINF) ≤ EXT-X-TARGETDURATION in ${playlists.length} playlists`);
}

/** Apple 8.2, RFC 8216 §6.2.4: audio and video playlists share one target duration (I-frame and subtitle ones may differ). */
export function checkSameTargetDuration(pkg: HlsPackage): CheckResult {
  const playlists = avPlaylists(pkg).filter((p) => p.playlist.targetDurations.length > 0);
  const values = new Map<number, string[]>();
  for (const { name, playlist } of playlists) values.set(playlist.targetDurations[0]!, [...(values.get(playlist.targetDurations[0]!) ?? []), name]);
  if (values.size <= 1) return pass('hls-same-target-duration', `TARGETDURATION ${[...values.keys()][0] ?? '-'} in all ${playlists.length} audio/video playlists`);
  const detail = [...values].map(([td, names]) => `${td} in ${names.join(', ')}`);
  return fromProblems('hls-same-target-duration', [`TARGETDURATION differs: ${detail.join('; ')}`], '');
}

export function checkMap(pkg: HlsPackage): CheckResult {
  const problems: string[] = [];
  let fmp4 = 0;
  for (const { name, playlist, format } of all(pkg)) {
    if (format !== 'fmp4') continue;
    fmp4++;
    const firstSegmentLine = playlist.segments[0]?.line;
    if (playlist.firstMapLine === undefined) problems.push(`${name}: fMP4 segments but no EXT-X-MAP`);
    else if (firstSegmentLine !== undefined && playlist.firstMapLine > firstSegmentLine) problems.push(`${name}: EXT-X-MAP (line ${playlist.firstMapLine}) after the first segment (line ${firstSegmentLine})`);
  }
  if (fmp4 === 0) return skip('hls-map', 'no fMP4 playlists (MPEG-TS and WebVTT segments need no EXT-X-MAP)');
  return fromProblems('hls-map', problems, `EXT-X-MAP before the first segment in ${fmp4} fMP4 playlists`);
}

/** RFC 8216 §7 / bis §8: the lowest protocol version each feature needs. */
function requiredVersion(playlist: MediaPlaylist): { version: number; why: string } {
  let required = { version: 1, why: 'no versioned feature' };
  const need = (version: number, why: string) => {
    if (version > required.version) required = { version, why };
  };
  if (playlist.segments.some((segment) => segment.durationText.includes('.'))) need(3, 'decimal EXTINF');
  if (playlist.segments.some((segment) => segment.byteRange)) need(4, 'EXT-X-BYTERANGE');
  if (playlist.iFramesOnly) need(4, 'EXT-X-I-FRAMES-ONLY');
  if (playlist.firstMapLine !== undefined) need(playlist.iFramesOnly ? 5 : 6, playlist.iFramesOnly ? 'EXT-X-MAP in an I-frame playlist' : 'EXT-X-MAP');
  return required;
}

export function checkVersion(pkg: HlsPackage): CheckResult {
  const problems: string[] = [];
  const playlists = all(pkg);
  for (const { name, playlist } of playlists) {
    const { version, why } = requiredVersion(playlist);
    const declared = playlist.version ?? 1;
    if (declared < version) problems.push(`${name}: EXT-X-VERSION ${playlist.version ?? 'absent (1)'} but ${why} needs ≥ ${version}`);
  }
  return fromProblems('hls-version', problems, `EXT-X-VERSION high enough for the features used in ${playlists.length} playlists`);
}

export function checkKeyFrameStarts(pkg: HlsPackage): CheckResult {
  const video = measuredPlaylists(pkg).filter(({ media }) => media.kind === 'video');
  if (video.length === 0) return skip('hls-keyframe-segment-start', `no measured video playlists${unmeasuredNote(pkg)}`);
  const problems: string[] = [];
  let segments = 0;
  for (const { loaded, media } of video) {
    segments += media.segments.length;
    for (const segment of media.segments) if (!segment.startsWithKeyFrame) problems.push(`${loaded.name}: ${segment.uri} does not start with a key frame`);
  }
  return fromProblems('hls-keyframe-segment-start', problems, `all ${segments} video segments start with a key frame${unmeasuredNote(pkg)}`);
}

function mostCommonRounded(values: readonly number[]): number | undefined {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value.toFixed(3), (counts.get(value.toFixed(3)) ?? 0) + 1);
  const best = [...counts].sort((a, b) => b[1] - a[1])[0];
  return best ? Number(best[0]) : undefined;
}

/** Apple 1.13 / vidpipe's grid: a key frame every round(2 s × fps) frames, each within half a frame of it. */
export function checkKeyFrameGrid(pkg: HlsPackage): CheckResult {
  const video = measuredPlaylists(pkg).filter(({ media }) => media.kind === 'video' && media.frameRate);
  if (video.length === 0) return skip('hls-keyframe-grid', `no measured video playlists${unmeasuredNote(pkg)}`);
  const problems: string[] = [];
  const gops: string[] = [];
  for (const { loaded, media } of video) {
    const fps = media.frameRate!;
    const expected = Math.round(GOP_SECONDS * fps) / fps;
    const intervals = media.keyFrameTimes.slice(1).map((time, index) => time - media.keyFrameTimes[index]!);
    const gop = mostCommonRounded(intervals);
    gops.push(`${loaded.name}: GOP ${gop === undefined ? 'n/a (one key frame)' : `${gop.toFixed(3)} s`}`);
    const off = intervals.map((interval, index) => ({ interval, at: media.keyFrameTimes[index + 1]! })).filter(({ interval }) => Math.abs(interval - expected) > media.frameSeconds / 2);
    if (off.length) {
      const first = off[0]!;
      problems.push(`${loaded.name}: ${off.length} of ${intervals.length} key frame intervals are not ${expected.toFixed(3)} s (first: ${first.interval.toFixed(3)} s before the key frame at ${first.at.toFixed(3)} s)`);
    }
  }
  return fromProblems('hls-keyframe-grid', problems, `key frames on the ${GOP_SECONDS} s grid (${gops.join(', ')})`, gops);
}

export function checkMediaDurations(pkg: HlsPackage): CheckResult {
  const measured = measuredPlaylists(pkg);
  if (measured.length === 0) return skip('hls-duration-media', `no measured playlists${unmeasuredNote(pkg)}`);
  const problems: string[] = [];
  const details: string[] = [];
  for (const { loaded, media } of measured) {
    const declared = extinfTotal(loaded.playlist);
    const trimmed = media.presentationSeconds !== media.durationSeconds ? ` (${media.presentationSeconds.toFixed(3)} s after the edit list)` : '';
    details.push(`${loaded.name}: ΣEXTINF ${declared.toFixed(3)} s, media ${media.durationSeconds.toFixed(3)} s${trimmed}`);
    // Apple 8.1: within one frame (plus EXTINF's six printed decimals). Segment durations may
    // count the encoder delay an edit list hides (ffmpeg does) or leave it out (vidpipe does).
    const tolerance = media.frameSeconds + 1e-5;
    const off = Math.min(Math.abs(declared - media.durationSeconds), Math.abs(declared - media.presentationSeconds));
    if (off > tolerance) {
      problems.push(`${loaded.name}: ΣEXTINF ${declared.toFixed(3)} s vs media ${media.durationSeconds.toFixed(3)} s${trimmed}, more than one frame (${(media.frameSeconds * 1000).toFixed(1)} ms)`);
    }
  }
  return fromProblems('hls-duration-media', problems, `ΣEXTINF within one frame of the media in ${measured.length} playlists${unmeasuredNote(pkg)}`, details);
}

/** Apple 8.3: audio and video playlists last the same, compared as presented (without AAC priming). */
export function checkAudioVideoDurations(pkg: HlsPackage): CheckResult {
  const measured = measuredPlaylists(pkg);
  const video = measured.filter(({ media }) => media.kind === 'video');
  // Audio muxed into MPEG-TS video segments counts as an audio track of its own length.
  const audio = [
    ...measured.filter(({ media }) => media.kind === 'audio'),
    ...video.flatMap(({ loaded, media }) => (media.muxedAudioSeconds === undefined ? [] : [{ loaded, media: { ...media, presentationSeconds: media.muxedAudioSeconds } }])),
  ];
  if (video.length === 0 || audio.length === 0) return skip('hls-duration-av', 'needs measured audio and video playlists');
  const problems: string[] = [];
  for (const a of audio) {
    for (const v of video) {
      const diff = a.media.presentationSeconds - v.media.presentationSeconds;
      if (Math.abs(diff) > AV_DURATION_TOLERANCE) problems.push(`${a.loaded.name} ${a.media.presentationSeconds.toFixed(3)} s vs ${v.loaded.name} ${v.media.presentationSeconds.toFixed(3)} s`);
    }
  }
  const range = (list: typeof measured) => [...new Set(list.map(({ media }) => media.presentationSeconds.toFixed(3)))].join('/');
  return fromProblems('hls-duration-av', problems, `audio ${range(audio)} s vs video ${range(video)} s, within ${AV_DURATION_TOLERANCE} s`);
}

export function checkSourceDuration(pkg: HlsPackage, sourceSeconds: number | undefined): CheckResult {
  if (sourceSeconds === undefined) return skip('hls-duration-source', 'no --source given');
  const problems: string[] = [];
  const playlists = avPlaylists(pkg);
  for (const { name, playlist } of playlists) {
    const total = extinfTotal(playlist);
    if (Math.abs(total - sourceSeconds) > SOURCE_DURATION_TOLERANCE) problems.push(`${name}: ΣEXTINF ${total.toFixed(3)} s vs source ${sourceSeconds.toFixed(3)} s`);
  }
  return fromProblems('hls-duration-source', problems, `ΣEXTINF of ${playlists.length} playlists within ${SOURCE_DURATION_TOLERANCE} s of the source's ${sourceSeconds.toFixed(3)} s`);
}

/** Apple 6.10: each I-frame byte range starts at a moof (or the sidx before it) and holds a whole sync sample. */
export async function checkIFrameRanges(pkg: HlsPackage): Promise<CheckResult> {
  const playlists = playlistsOf(pkg, 'iframe');
  if (playlists.length === 0) return skip('hls-iframe-ranges', 'no I-frame playlists');
  const problems: string[] = [];
  const skipped: string[] = [];
  let ranges = 0;
  for (const loaded of playlists) {
    const { playlist } = loaded;
    if (loaded.format !== 'fmp4') {
      skipped.push(`${loaded.name} (${loaded.format ?? 'unreadable'} segments)`);
      continue;
    }
    const mapUri = playlist.segments[0]?.mapUri;
    const initRef = mapUri ? pkg.reader.resolve(loaded.ref, mapUri) : undefined;
    if (!initRef || !(await pkg.reader.exists(initRef))) {
      skipped.push(`${loaded.name} (no readable EXT-X-MAP)`);
      continue;
    }
    const trex = readTrackExtends(await pkg.reader.readBytes(initRef));
    const bySegment = new Map<string, typeof playlist.segments>();
    for (const segment of playlist.segments) bySegment.set(segment.uri, [...(bySegment.get(segment.uri) ?? []), segment]);
    for (const [uri, entries] of bySegment) {
      const ref = pkg.reader.resolve(loaded.ref, uri);
      if (!(await pkg.reader.exists(ref))) continue; // reported by hls-uris
      const buffer = await pkg.reader.readBytes(ref);
      const fragments = readFragmentSamples(buffer, trex);
      const boxes = readBoxes(buffer);
      for (const entry of entries) {
        ranges++;
        const range = entry.byteRange ?? { offset: 0, length: buffer.length };
        const where = `${loaded.name}: ${uri} @${range.offset}+${range.length}`;
        const box = boxes.find((b) => b.start === range.offset);
        if (!box) problems.push(`${where} does not start at a top-level box`);
        else if (entry.byteRange && box.type !== 'moof' && box.type !== 'sidx') problems.push(`${where} starts at '${box.type}', not at a moof or sidx`);
        const end = range.offset + range.length;
        if (end > buffer.length) problems.push(`${where} runs past the end of the ${buffer.length}-byte file`);
        const covered = fragments.some((fragment) => fragment.offset >= range.offset && fragment.moofOffset < end && fragment.samples.some((s) => s.isSync && s.offset >= range.offset && s.offset + s.size <= end));
        if (!covered) problems.push(`${where} covers no whole sync sample`);
      }
    }
  }
  if (ranges === 0) return skip('hls-iframe-ranges', `cannot check ${skipped.join(', ')}`);
  const note = skipped.length ? ` (not checked: ${skipped.join(', ')})` : '';
  return fromProblems('hls-iframe-ranges', problems, `${ranges} I-frame byte ranges start at a moof/sidx and hold a whole key frame${note}`);
}
