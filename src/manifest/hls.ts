/**
 * HLS playlists written from a measured PackageModel (RFC 8216, Apple HLS authoring spec).
 * Pure functions: every writer returns the playlist text; the caller decides where it goes.
 * Rule numbers in comments refer to /work/shared/reference/streaming-standards.md §A.
 */
import { posix } from 'node:path';
import { VidpipeError } from '../errors.js';
import { groupBy } from './group-by.js';
import type { AudioTrack, PackageModel, SubtitleTrack, TrackBase, VideoTrack } from './model.js';
import { audioSignalling, subtitleSignalling, type RoleSignalling } from './roles.js';

export interface MediaPlaylistOptions {
  /**
   * Forces EXT-X-TARGETDURATION, so every audio and video playlist of a package can share
   * one value (Apple 8.2). Must be at least the track's own target duration.
   */
  targetDuration?: number;
}

/** Protocol versions from RFC 8216 §7, named by the feature that needs them. */
const VERSION_DECIMAL_EXTINF = 3;
const VERSION_BYTERANGE_IFRAMES = 4;
const VERSION_MAP_IN_IFRAME_PLAYLIST = 5;
const VERSION_MAP_IN_MEDIA_PLAYLIST = 6;
const VERSION_KEY_IV = 2;
const VERSION_KEYFORMAT = 5;

/** Apple 1.32: the first-listed variant should be about 2000 kb/s. */
const PREFERRED_FIRST_VARIANT_BPS = 2_000_000;

// ---------------------------------------------------------------------------
// Multivariant playlist
// ---------------------------------------------------------------------------

/** One EXT-X-STREAM-INF line before it is ordered and rendered. */
interface VariantLine {
  attributes: string;
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  /** H.264 plays everywhere, so the default (first) variant is chosen among these when possible. */
  isH264: boolean;
  isDefaultAudio: boolean;
  /** Its audio group is stereo (or it has none): the first variant is one of these, so stereo plays unless a player chooses 5.1. */
  isStereoAudio?: boolean;
}

export function writeMultivariantPlaylist(model: PackageModel): string {
  const audioGroups = groupBy(hlsAudioTracks(model), (track) => track.groupId);
  const subtitleGroups = groupBy(model.subtitles, (track) => track.groupId);
  checkRenditionGroups(audioGroups);
  checkRenditionGroups(subtitleGroups);
  const names = renditionNames([...audioGroups.values(), ...subtitleGroups.values()]);

  const audioOnly = model.videos.length === 0;
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${multivariantVersion(model)}`, '#EXT-X-INDEPENDENT-SEGMENTS'];
  // RFC 8216 §4.3.4.5: lets a player fetch the keys before it loads a media playlist.
  for (const attributes of sessionKeys(model)) lines.push(`#EXT-X-SESSION-KEY:${attributes}`);
  // Audio-only variants point at the audio playlists directly, so a TYPE=AUDIO group would be unused.
  if (!audioOnly) {
    for (const track of hlsAudioTracks(model)) lines.push(audioMediaTag(track, names.get(track)!));
  }
  for (const track of model.subtitles) lines.push(subtitleMediaTag(track, names.get(track)!));

  const subtitleGroupIds = [...subtitleGroups.keys()];
  const variants = audioOnly
    ? orderAudioOnlyVariants(audioOnlyVariants(model, subtitleGroupIds))
    : orderVideoVariants(videoVariants(model, audioGroups, subtitleGroupIds));
  if (variants.length === 0) {
    throw new VidpipeError('INTERNAL', 'cannot write an HLS multivariant playlist: the package has no video and no AAC audio');
  }
  for (const variant of variants) lines.push(`#EXT-X-STREAM-INF:${variant.attributes}`, variant.uri);

  for (const video of model.videos) {
    if (video.keyFrames.length > 0) lines.push(iFrameStreamTag(video));
  }
  return joinLines(lines);
}

/**
 * RFC 8216 §4.3.1.2: EXT-X-VERSION covers "the Playlist file, its associated media, and its server",
 * so the multivariant playlist declares the highest version any playlist it references needs.
 */
function multivariantVersion(model: PackageModel): number {
  const versions = [
    ...model.videos.map(mediaPlaylistVersion),
    ...model.videos.filter((video) => video.keyFrames.length > 0).map(iFramePlaylistVersion),
    ...hlsAudioTracks(model).map(mediaPlaylistVersion),
    ...model.subtitles.map(() => VERSION_DECIMAL_EXTINF),
    keyTagsVersion(sessionKeys(model)),
  ];
  return Math.max(1, ...versions);
}

/** The EXT-X-SESSION-KEY attribute lists of every HLS track, each once. */
function sessionKeys(model: PackageModel): string[] {
  return unique([...model.videos, ...hlsAudioTracks(model)].flatMap((track) => track.protection?.hlsSessionKeys ?? []));
}

/** RFC 8216 §7: IV needs version 2, KEYFORMAT and KEYFORMATVERSIONS version 5. */
function keyTagsVersion(attributeLists: string[]): number {
  if (attributeLists.some((attributes) => /(^|,)KEYFORMAT(VERSIONS)?=/.test(attributes))) return VERSION_KEYFORMAT;
  if (attributeLists.some((attributes) => /(^|,)IV=/.test(attributes))) return VERSION_KEY_IV;
  return 1;
}

/**
 * The track's EXT-X-KEY tags. They follow EXT-X-MAP: a key applies to the EXT-X-MAP after it too,
 * and the init segment is clear (RFC 8216 §4.3.2.4–5, content-protection.md §2).
 */
function keyTags(track: TrackBase): string[] {
  return (track.protection?.hlsKeys ?? []).map((attributes) => `#EXT-X-KEY:${attributes}`);
}

/** Apple lists AAC and E-AC-3 but not Opus (rule 29), so Opus renditions exist only in the MPD. */
function hlsAudioTracks(model: PackageModel): AudioTrack[] {
  return model.audios.filter((track) => track.codec === 'aac' || track.codec === 'eac3');
}

/** Rule 13: at most one DEFAULT=YES per group. */
function checkRenditionGroups(groups: Map<string, { isDefault: boolean }[]>): void {
  for (const [groupId, tracks] of groups) {
    if (tracks.filter((track) => track.isDefault).length > 1) {
      throw new VidpipeError('INTERNAL', `HLS group "${groupId}" has more than one DEFAULT rendition`);
    }
  }
}

/**
 * Each rendition's NAME as the playlist can carry it (quotedText), unique within its group (rule 13):
 * names the source made distinct may meet once their double quotes are replaced, so a repeat gets
 * a number, as the plan numbers repeated titles.
 */
function renditionNames(groups: (AudioTrack | SubtitleTrack)[][]): Map<AudioTrack | SubtitleTrack, string> {
  const names = new Map<AudioTrack | SubtitleTrack, string>();
  for (const tracks of groups) {
    const used = new Set<string>();
    for (const track of tracks) {
      const base = quotedText(track.name);
      let name = base;
      for (let n = 2; used.has(name); n++) name = `${base} ${n}`;
      used.add(name);
      names.set(track, name);
    }
  }
  return names;
}

function audioMediaTag(track: AudioTrack, name: string): string {
  return renditionTag('AUDIO', track, name, audioSignalling(track.role, track.isDefault), [['CHANNELS', quoted(String(track.channels))]]);
}

function subtitleMediaTag(track: SubtitleTrack, name: string): string {
  const signalling = subtitleSignalling(track.role);
  return renditionTag('SUBTITLES', track, name, signalling, [['FORCED', yesNo(signalling.forced)]]);
}

/**
 * EXT-X-MEDIA with the attributes every rendition carries (rule 13), the role's AUTOSELECT and
 * CHARACTERISTICS (src/manifest/roles.ts), plus the type's own.
 */
function renditionTag(
  type: 'AUDIO' | 'SUBTITLES',
  track: AudioTrack | SubtitleTrack,
  name: string,
  signalling: RoleSignalling,
  own: [string, string][],
): string {
  return `#EXT-X-MEDIA:${attributeList([
    ['TYPE', type],
    ['GROUP-ID', quoted(track.groupId)],
    ['NAME', quoted(name)],
    ['LANGUAGE', quoted(track.language)],
    ['DEFAULT', yesNo(track.isDefault)],
    // DEFAULT=YES requires AUTOSELECT=YES; the others may be picked by the user's language too,
    // except what a preference never means (a commentary).
    ['AUTOSELECT', yesNo(track.isDefault || signalling.autoselect)],
    ...own,
    ['CHARACTERISTICS', signalling.characteristics.length > 0 ? quoted(signalling.characteristics.join(',')) : undefined],
    ['URI', quoted(track.playlistUri)],
  ])}`;
}

/**
 * One variant per (video × audio group × subtitle group): a variant names one group of each type,
 * and BANDWIDTH must cover its video plus the largest rendition of its audio group (rule 9).
 */
function videoVariants(
  model: PackageModel,
  audioGroups: Map<string, AudioTrack[]>,
  subtitleGroupIds: string[],
): VariantLine[] {
  const audioChoices: (AudioTrack[] | undefined)[] = audioGroups.size > 0 ? [...audioGroups.values()] : [undefined];
  const variants: VariantLine[] = [];
  for (const video of model.videos) {
    for (const audioGroup of audioChoices) {
      for (const subtitleGroupId of orNone(subtitleGroupIds)) {
        variants.push(videoVariant(video, audioGroup, subtitleGroupId));
      }
    }
  }
  return variants;
}

function videoVariant(video: VideoTrack, audioGroup: AudioTrack[] | undefined, subtitleGroupId?: string): VariantLine {
  const audio = audioGroup ?? [];
  const bandwidth = video.peakBitrate + maxOf(audio.map((track) => track.peakBitrate));
  const averageBandwidth = video.averageBitrate + maxOf(audio.map((track) => track.averageBitrate));
  const muxed = video.muxedAudioCodecs ? [video.muxedAudioCodecs] : [];
  const codecs = unique([video.codecs, ...muxed, ...audio.map((track) => track.codecs)]).join(',');
  const attributes = attributeList([
    ['BANDWIDTH', bandwidthValue(bandwidth, video.id)],
    ['AVERAGE-BANDWIDTH', Math.round(averageBandwidth)],
    ['CODECS', quoted(codecs)],
    ['RESOLUTION', `${video.width}x${video.height}`],
    ['FRAME-RATE', (video.frameRate.num / video.frameRate.den).toFixed(3)],
    ['VIDEO-RANGE', video.videoRange === 'SDR' ? undefined : video.videoRange],
    ['CLOSED-CAPTIONS', 'NONE'],
    ['AUDIO', audioGroup ? quoted(audioGroup[0].groupId) : undefined],
    ['SUBTITLES', subtitleGroupId === undefined ? undefined : quoted(subtitleGroupId)],
  ]);
  return {
    attributes,
    uri: video.playlistUri,
    bandwidth,
    averageBandwidth,
    isH264: video.codec === 'h264',
    isDefaultAudio: false,
    isStereoAudio: audio.every((track) => track.channels <= 2),
  };
}

/** Without video, each AAC track becomes its own variant so players see audio-only streams. */
function audioOnlyVariants(model: PackageModel, subtitleGroupIds: string[]): VariantLine[] {
  const variants: VariantLine[] = [];
  for (const track of hlsAudioTracks(model)) {
    for (const subtitleGroupId of orNone(subtitleGroupIds)) {
      const attributes = attributeList([
        ['BANDWIDTH', bandwidthValue(track.peakBitrate, track.id)],
        ['AVERAGE-BANDWIDTH', Math.round(track.averageBitrate)],
        ['CODECS', quoted(track.codecs)],
        ['SUBTITLES', subtitleGroupId === undefined ? undefined : quoted(subtitleGroupId)],
      ]);
      variants.push({
        attributes,
        uri: track.playlistUri,
        bandwidth: track.peakBitrate,
        averageBandwidth: track.averageBitrate,
        isH264: false,
        isDefaultAudio: track.isDefault,
      });
    }
  }
  return variants;
}

/**
 * Ascending BANDWIDTH, except that the variant nearest 2000 kb/s with stereo audio goes first (Apple
 * 1.32), because players start with the first listed variant. Apple's ladder table states average rates, so the
 * distance is measured on AVERAGE-BANDWIDTH; H.264 variants are preferred since every device decodes them.
 */
function orderVideoVariants(variants: VariantLine[]): VariantLine[] {
  const sorted = [...variants].sort((a, b) => a.bandwidth - b.bandwidth);
  const stereo = sorted.filter((variant) => variant.isStereoAudio !== false);
  const h264 = stereo.filter((variant) => variant.isH264);
  const candidates = h264.length > 0 ? h264 : stereo.length > 0 ? stereo : sorted;
  const distance = (variant: VariantLine) => Math.abs(variant.averageBandwidth - PREFERRED_FIRST_VARIANT_BPS);
  const first = candidates.reduce((best, variant) => (distance(variant) < distance(best) ? variant : best));
  return [first, ...sorted.filter((variant) => variant !== first)];
}

/** The default audio rendition is what the package means to play, so it starts; the rest ascend. */
function orderAudioOnlyVariants(variants: VariantLine[]): VariantLine[] {
  const sorted = [...variants].sort((a, b) => a.bandwidth - b.bandwidth);
  return [...sorted.filter((variant) => variant.isDefaultAudio), ...sorted.filter((variant) => !variant.isDefaultAudio)];
}

/** Rule 14: URI, BANDWIDTH, CODECS (video only: the I-frame playlist has no audio) and RESOLUTION. */
function iFrameStreamTag(video: VideoTrack): string {
  const uri = requireIFramePlaylistUri(video);
  if (video.iFramePeakBitrate === undefined) {
    throw new VidpipeError('INTERNAL', `video track ${video.id} has key frames but no measured I-frame peak bit rate`);
  }
  return `#EXT-X-I-FRAME-STREAM-INF:${attributeList([
    ['BANDWIDTH', bandwidthValue(video.iFramePeakBitrate, `${video.id} I-frames`)],
    ['AVERAGE-BANDWIDTH', video.iFrameAverageBitrate === undefined ? undefined : Math.round(video.iFrameAverageBitrate)],
    ['CODECS', quoted(video.codecs)],
    ['RESOLUTION', `${video.width}x${video.height}`],
    ['VIDEO-RANGE', video.videoRange === 'SDR' ? undefined : video.videoRange],
    ['URI', quoted(uri)],
  ])}`;
}

// ---------------------------------------------------------------------------
// Media playlists
// ---------------------------------------------------------------------------

/**
 * A VOD media playlist of the track's segments. fMP4 tracks (initUri set) get EXT-X-MAP and
 * version 6, the lowest that allows MAP outside I-frame playlists; MPEG-TS tracks (empty initUri)
 * need only version 3 for decimal EXTINF. The target duration defaults to the package-wide value
 * so audio and video playlists agree (Apple 8.2) even when the caller passes no option.
 */
export function writeMediaPlaylist(
  track: VideoTrack | AudioTrack,
  model: PackageModel,
  options: MediaPlaylistOptions = {},
): string {
  const durations = track.segments.map((segment) => extinf(segment.duration, track.timescale));
  const ownTarget = targetDurationOf(durations, track.id);
  const targetDuration = options.targetDuration ?? Math.max(ownTarget, commonTargetDuration(model));
  checkForcedTargetDuration(targetDuration, ownTarget, track.id);

  const lines = playlistHeader(mediaPlaylistVersion(track), targetDuration);
  if (hasInitSegment(track)) lines.push(`#EXT-X-MAP:URI=${quoted(relativeUri(track.playlistUri, track.initUri))}`);
  lines.push(...keyTags(track));
  track.segments.forEach((segment, index) => {
    lines.push(`#EXTINF:${durations[index]},`, relativeUri(track.playlistUri, segment.uri));
  });
  lines.push('#EXT-X-ENDLIST');
  return joinLines(lines);
}

/**
 * The target duration every audio and video playlist of the package should share (Apple 8.2,
 * RFC 8216 §6.2.4): the largest of their own target durations. I-frame and subtitle playlists may differ.
 */
export function commonTargetDuration(model: PackageModel): number {
  const tracks: TrackBase[] = [...model.videos, ...hlsAudioTracks(model)];
  if (tracks.length === 0) {
    throw new VidpipeError('INTERNAL', 'cannot compute a target duration: the package has no HLS audio or video track');
  }
  return Math.max(
    ...tracks.map((track) => targetDurationOf(track.segments.map((s) => extinf(s.duration, track.timescale)), track.id)),
  );
}

/**
 * An I-frame playlist (rule 14): one entry per key frame, addressed by byte range into the normal
 * segments (the range includes its moof, Apple 6.10). Each entry lasts until the next key frame,
 * the last one until the end of the track. `_model` keeps the call shape of the other writers.
 */
export function writeIFramePlaylist(track: VideoTrack, _model: PackageModel): string {
  const playlistUri = requireIFramePlaylistUri(track);
  const keyFrames = [...track.keyFrames].sort((a, b) => a.time - b.time);
  const trackEnd = endTime(track);
  const durations = keyFrames.map((keyFrame, index) => {
    const next = index + 1 < keyFrames.length ? keyFrames[index + 1].time : trackEnd;
    if (next <= keyFrame.time) {
      throw new VidpipeError('INTERNAL', `video track ${track.id}: key frame at ${keyFrame.time} has no duration`);
    }
    return extinf(next - keyFrame.time, track.timescale);
  });

  const targetDuration = targetDurationOf(durations, `${track.id} I-frames`);
  const lines = playlistHeader(iFramePlaylistVersion(track), targetDuration, ['#EXT-X-I-FRAMES-ONLY']);
  if (hasInitSegment(track)) lines.push(`#EXT-X-MAP:URI=${quoted(relativeUri(playlistUri, track.initUri))}`);
  // The byte ranges point into the same encrypted segments: the same keys.
  lines.push(...keyTags(track));
  keyFrames.forEach((keyFrame, index) => {
    lines.push(
      `#EXTINF:${durations[index]},`,
      `#EXT-X-BYTERANGE:${keyFrame.length}@${keyFrame.offset}`,
      relativeUri(playlistUri, keyFrame.uri),
    );
  });
  lines.push('#EXT-X-ENDLIST');
  return joinLines(lines);
}

/**
 * A VOD playlist of WebVTT segments; its target duration is its own (rule 17 exempts subtitles).
 * `_model` keeps the call shape of the other writers.
 */
export function writeSubtitlePlaylist(track: SubtitleTrack, _model: PackageModel): string {
  const durations = track.segments.map((segment) => segment.durationSeconds.toFixed(6));
  const lines = playlistHeader(VERSION_DECIMAL_EXTINF, targetDurationOf(durations, track.id));
  track.segments.forEach((segment, index) => {
    lines.push(`#EXTINF:${durations[index]},`, relativeUri(track.playlistUri, segment.uri));
  });
  lines.push('#EXT-X-ENDLIST');
  return joinLines(lines);
}

function mediaPlaylistVersion(track: TrackBase): number {
  return Math.max(hasInitSegment(track) ? VERSION_MAP_IN_MEDIA_PLAYLIST : VERSION_DECIMAL_EXTINF, keyTagsVersion(track.protection?.hlsKeys ?? []));
}

function iFramePlaylistVersion(track: TrackBase): number {
  return Math.max(hasInitSegment(track) ? VERSION_MAP_IN_IFRAME_PLAYLIST : VERSION_BYTERANGE_IFRAMES, keyTagsVersion(track.protection?.hlsKeys ?? []));
}

/** Header shared by every VOD media playlist (rules 18, 21; rule 11 also holds per playlist). */
function playlistHeader(version: number, targetDuration: number, extraTags: string[] = []): string[] {
  return [
    '#EXTM3U',
    `#EXT-X-VERSION:${version}`,
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    ...extraTags,
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
}

/** MPEG-TS tracks have no initialization segment; the model leaves initUri empty for them. */
function hasInitSegment(track: TrackBase): boolean {
  return track.initUri !== '';
}

/** EXTINF value with 6 decimals: enough for any timescale players use, and exact enough for rule 23. */
function extinf(duration: number, timescale: number): string {
  return (duration / timescale).toFixed(6);
}

/**
 * Rule 15: the largest EXTINF rounded to the nearest integer. Computed from the printed values, since
 * that is what a client rounds (6.4999996 prints as 6.500000 and rounds to 7).
 */
function targetDurationOf(extinfs: string[], what: string): number {
  if (extinfs.length === 0) throw new VidpipeError('INTERNAL', `cannot write a playlist for ${what}: it has no segments`);
  // A target duration of 0 is meaningless to players; sub-half-second tracks still get 1.
  return Math.max(1, ...extinfs.map((value) => Math.round(Number(value))));
}

function checkForcedTargetDuration(targetDuration: number, ownTarget: number, trackId: string): void {
  if (!Number.isInteger(targetDuration) || targetDuration < ownTarget) {
    throw new VidpipeError(
      'INTERNAL',
      `target duration ${targetDuration} is invalid for track ${trackId}: it must be an integer of at least ${ownTarget}`,
    );
  }
}

function endTime(track: TrackBase): number {
  const last = track.segments[track.segments.length - 1];
  if (!last) throw new VidpipeError('INTERNAL', `track ${track.id} has no segments`);
  return last.startTime + last.duration;
}

function requireIFramePlaylistUri(video: VideoTrack): string {
  if (video.keyFrames.length === 0 || !video.iFramePlaylistUri) {
    throw new VidpipeError('INTERNAL', `video track ${video.id} has no I-frame playlist (key frames or URI missing)`);
  }
  return video.iFramePlaylistUri;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/**
 * `target` as seen from the folder of `playlistUri` (rule 26: URIs resolve relative to the playlist).
 * Both are relative to the package root; rooting them at "/" keeps path.posix from consulting the cwd.
 */
function relativeUri(playlistUri: string, target: string): string {
  return posix.relative(posix.dirname(`/${playlistUri}`), `/${target}`);
}

/**
 * RFC 8216 §4.2 quoted-string: no double quote, CR or LF, and no way to escape them. For values
 * vidpipe makes (URIs, codecs, group ids, language tags) one of those is a bug, refused here; text
 * from the source goes through quotedText first.
 */
function quoted(value: string): string {
  if (/["\r\n]/.test(value)) {
    throw new VidpipeError('INTERNAL', `HLS attribute value ${JSON.stringify(value)} contains a quote or line break`);
  }
  return `"${value}"`;
}

/**
 * Text from the source (a stream title) made fit for a quoted-string: double quotes become
 * typographic ones (“ and ” in turn), line breaks and other control characters a space. An
 * apostrophe is allowed but becomes ’ too: hls-parser (used by `vidpipe validate` and many
 * tools) takes ' for a quote and loses the attributes after an odd number of them.
 */
function quotedText(text: string): string {
  let quotes = 0;
  return text
    .replace(/"/g, () => (quotes++ % 2 === 0 ? '\u201C' : '\u201D'))
    .replace(/'/g, '\u2019')
    .replace(/[\p{Cc}\u2028\u2029]/gu, ' ');
}

/** Rule 3: BANDWIDTH is a positive integer; rounding up keeps it an upper bound. */
function bandwidthValue(bitsPerSecond: number, what: string): number {
  const value = Math.ceil(bitsPerSecond);
  if (!(value > 0)) throw new VidpipeError('INTERNAL', `${what} has no measured peak bit rate`);
  return value;
}

/** Renders NAME=value pairs, skipping absent optional attributes. */
function attributeList(pairs: [string, string | number | undefined][]): string {
  return pairs
    .filter((pair): pair is [string, string | number] => pair[1] !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
}

function yesNo(flag: boolean): string {
  return flag ? 'YES' : 'NO';
}

function maxOf(values: number[]): number {
  return values.length === 0 ? 0 : Math.max(...values);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** The group ids to iterate, or a single "no group" when there are none. */
function orNone(groupIds: string[]): (string | undefined)[] {
  return groupIds.length > 0 ? groupIds : [undefined];
}


/** Playlists end with a newline so concatenating tools and diff see a complete last line. */
function joinLines(lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
