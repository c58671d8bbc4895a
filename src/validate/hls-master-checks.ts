/**
 * Multivariant playlist checks (reference section A, assertions 1–14). Each takes the loaded
 * package and returns one result; a check that needs a multivariant playlist or measurements
 * it does not have is skipped with the reason.
 */
import HLS from 'hls-parser';
import { fail, fromProblems, pass, percentOff, skip, withinRatio, type CheckResult } from './result.js';
import { isMeasured, measuredOf, type HlsPackage } from './hls-load.js';
import { averageSegmentBitrate, peakSegmentBitrate } from '../media/measure.js';
import type { MasterEntry, MasterPlaylist } from './hls-playlist.js';
import type { MeasuredMedia } from './tracks.js';
import { DESCRIBES_VIDEO, KNOWN_CHARACTERISTICS } from '../manifest/roles.js';

const BITRATE_TOLERANCE = 0.1;
const FRAME_RATE_TOLERANCE = 0.01;

/** hls-parser in strict mode throws on RFC 8216 violations it knows; options are global, so they are restored. */
export function checkStrictParse(pkg: HlsPackage): CheckResult {
  const previous = HLS.getOptions();
  const problems: string[] = [];
  let count = 0;
  HLS.setOptions({ strictMode: true, silent: true });
  try {
    for (const [name, text] of [[pkg.name, pkg.text] as const, ...[...pkg.playlists.values()].map((p) => [p.name, p.text] as const)]) {
      if (text === undefined) continue;
      count++;
      try {
        HLS.parse(text);
      } catch (error) {
        problems.push(`${name}: ${(error as Error).message}`);
      }
    }
  } finally {
    HLS.setOptions(previous);
  }
  return fromProblems('hls-parse', problems, `${count} playlists parse in hls-parser strict mode`);
}

function needMaster(id: string, pkg: HlsPackage, run: (master: MasterPlaylist) => CheckResult): CheckResult {
  return pkg.master ? run(pkg.master) : skip(id, `${pkg.name} is a media playlist, not a multivariant playlist`);
}

const MEDIA_PLAYLIST_TAGS = new Set([
  'EXTINF', 'EXT-X-TARGETDURATION', 'EXT-X-MEDIA-SEQUENCE', 'EXT-X-DISCONTINUITY-SEQUENCE', 'EXT-X-ENDLIST',
  'EXT-X-PLAYLIST-TYPE', 'EXT-X-I-FRAMES-ONLY', 'EXT-X-MAP', 'EXT-X-BYTERANGE', 'EXT-X-DISCONTINUITY', 'EXT-X-KEY',
]);

export function checkMasterTags(pkg: HlsPackage): CheckResult {
  return needMaster('hls-master-tags', pkg, (master) => {
    const problems = master.tags.filter((tag) => MEDIA_PLAYLIST_TAGS.has(tag.name)).map((tag) => `line ${tag.line}: media playlist tag #${tag.name} in ${pkg.name}`);
    if (!pkg.text.startsWith('#EXTM3U')) problems.unshift(`${pkg.name} does not start with #EXTM3U`);
    return fromProblems('hls-master-tags', problems, `${pkg.name} starts with #EXTM3U and holds no media playlist tags`);
  });
}

const label = (entry: MasterEntry) => `${entry.tag === 'EXT-X-STREAM-INF' ? 'variant' : 'I-frame variant'} ${entry.uri ?? `(line ${entry.line})`}`;

function videoOf(pkg: HlsPackage, entry: MasterEntry): MeasuredMedia | undefined {
  return measuredOf(pkg, pkg.ref, entry.uri);
}

/** The renditions of a group, measured (for BANDWIDTH: "the largest audio rendition in its group"). */
function groupMeasurements(pkg: HlsPackage, master: MasterPlaylist, type: string, groupId: string | undefined): MeasuredMedia[] {
  if (!groupId) return [];
  return master.media
    .filter((media) => media.attributes.TYPE === type && media.attributes['GROUP-ID'] === groupId)
    .map((media) => measuredOf(pkg, pkg.ref, media.uri))
    .filter((m): m is MeasuredMedia => m !== undefined);
}

interface VariantRates {
  peak: number;
  average: number;
}

/** RFC 8216 §4.3.4.2: the variant's own segments plus the largest audio rendition of its group. */
function variantRates(pkg: HlsPackage, master: MasterPlaylist, entry: MasterEntry): VariantRates | undefined {
  const video = videoOf(pkg, entry);
  if (!video) return undefined;
  const audio = groupMeasurements(pkg, master, 'AUDIO', entry.attributes.AUDIO);
  if (entry.attributes.AUDIO && audio.length === 0) return undefined;
  return {
    peak: video.peakBitrate + Math.max(0, ...audio.map((a) => a.peakBitrate)),
    average: video.averageBitrate + Math.max(0, ...audio.map((a) => a.averageBitrate)),
  };
}

/** I-frame variants: each byte range is a "segment" lasting its EXTINF (RFC 8216 §4.1). */
function iFrameRates(pkg: HlsPackage, entry: MasterEntry): VariantRates | undefined {
  if (!entry.uri) return undefined;
  const loaded = pkg.playlists.get(pkg.reader.resolve(pkg.ref, entry.uri));
  const segments = loaded?.playlist?.segments ?? [];
  if (segments.length === 0 || segments.some((segment) => !segment.byteRange)) return undefined;
  const spans = segments.map((segment) => ({ bytes: segment.byteRange!.length, durationSeconds: segment.duration }));
  const td = loaded!.playlist!.targetDurations[0] ?? Math.max(...spans.map((s) => s.durationSeconds));
  return { peak: peakSegmentBitrate(spans, td), average: averageSegmentBitrate(spans) };
}

function compareRate(
  problems: string[],
  unmeasured: string[],
  entry: MasterEntry,
  attribute: 'BANDWIDTH' | 'AVERAGE-BANDWIDTH',
  measured: number | undefined,
  required: boolean,
): string | undefined {
  const text = entry.attributes[attribute];
  if (text === undefined) {
    if (required) problems.push(`${label(entry)}: no ${attribute}`);
    return undefined;
  }
  const declared = Number(text);
  if (!Number.isInteger(declared) || declared <= 0) {
    problems.push(`${label(entry)}: ${attribute}=${text} is not a positive integer`);
    return undefined;
  }
  if (measured === undefined) {
    unmeasured.push(label(entry));
    return undefined;
  }
  const what = attribute === 'BANDWIDTH' ? 'peak' : 'average';
  if (!withinRatio(declared, measured, BITRATE_TOLERANCE)) {
    problems.push(`${label(entry)}: ${attribute} ${declared} vs measured ${what} ${measured} (${percentOff(declared, measured)}, allowed ±10 %)`);
  }
  return `${entry.uri}: ${declared} vs ${measured}`;
}

function rateCheck(id: string, attribute: 'BANDWIDTH' | 'AVERAGE-BANDWIDTH', pkg: HlsPackage): CheckResult {
  return needMaster(id, pkg, (master) => {
    const problems: string[] = [];
    const unmeasured: string[] = [];
    const compared: string[] = [];
    const pick = (rates: VariantRates | undefined) => (rates ? (attribute === 'BANDWIDTH' ? rates.peak : rates.average) : undefined);
    for (const entry of master.streams) {
      const line = compareRate(problems, unmeasured, entry, attribute, pick(variantRates(pkg, master, entry)), true);
      if (line) compared.push(line);
    }
    for (const entry of master.iFrameStreams) {
      // AVERAGE-BANDWIDTH is optional on I-frame variants; BANDWIDTH is required on both.
      const line = compareRate(problems, unmeasured, entry, attribute, pick(iFrameRates(pkg, entry)), attribute === 'BANDWIDTH');
      if (line) compared.push(line);
    }
    if (problems.length === 0 && compared.length === 0) {
      return skip(id, unmeasured.length ? `cannot measure ${unmeasured.join(', ')}` : 'no variants');
    }
    const note = unmeasured.length ? ` (not measured: ${unmeasured.join(', ')})` : '';
    const what = attribute === 'BANDWIDTH' ? 'peak segment bit rate' : 'average segment bit rate';
    return fromProblems(id, problems, `${attribute} within ±10 % of the measured ${what} on ${compared.length} variants${note}`, compared);
  });
}

export const checkBandwidth = (pkg: HlsPackage) => rateCheck('hls-bandwidth', 'BANDWIDTH', pkg);
export const checkAverageBandwidth = (pkg: HlsPackage) => rateCheck('hls-average-bandwidth', 'AVERAGE-BANDWIDTH', pkg);

/** Apple 1.30: the measured peak SHOULD be no more than twice the measured average. */
export function checkPeakToAverage(pkg: HlsPackage): CheckResult {
  return needMaster('hls-peak-average', pkg, (master) => {
    const problems: string[] = [];
    const ratios: string[] = [];
    for (const entry of master.streams) {
      const rates = variantRates(pkg, master, entry);
      if (!rates || rates.average === 0) continue;
      const ratio = rates.peak / rates.average;
      ratios.push(`${entry.uri}: ${ratio.toFixed(2)}`);
      if (ratio > 2) problems.push(`${label(entry)}: peak ${rates.peak} is ${ratio.toFixed(2)}× the average ${rates.average} (at most 2×)`);
    }
    if (ratios.length === 0) return skip('hls-peak-average', 'no variant could be measured');
    return fromProblems('hls-peak-average', problems, `measured peak ≤ 2× average on ${ratios.length} variants (${ratios.map((r) => r.split(': ')[1]).join(', ')})`, ratios);
  });
}

export function checkCodecsPresent(pkg: HlsPackage): CheckResult {
  return needMaster('hls-codecs', pkg, (master) => {
    const entries = [...master.streams, ...master.iFrameStreams];
    const problems = entries.filter((entry) => !entry.attributes.CODECS).map((entry) => `${label(entry)}: no CODECS`);
    return fromProblems('hls-codecs', problems, `CODECS on every STREAM-INF / I-FRAME-STREAM-INF tag (${entries.length})`);
  });
}

const splitCodecs = (text: string) => text.split(',').map((codec) => codec.trim()).filter(Boolean);
const sameCodecSet = (a: string[], b: string[]) => {
  const normal = (list: string[]) => [...new Set(list.map((c) => c.toLowerCase()))].sort().join(',');
  return normal(a) === normal(b);
};

export function checkCodecsMatchBitstream(pkg: HlsPackage): CheckResult {
  return needMaster('hls-codecs-bitstream', pkg, (master) => {
    const problems: string[] = [];
    const unmeasured: string[] = [];
    let compared = 0;
    const compare = (entry: MasterEntry, expected: string[] | undefined) => {
      if (!entry.attributes.CODECS) return; // reported by hls-codecs
      if (!expected) return void unmeasured.push(label(entry));
      compared++;
      const declared = splitCodecs(entry.attributes.CODECS);
      if (!sameCodecSet(declared, expected)) {
        problems.push(`${label(entry)}: CODECS "${declared.join(',')}" vs bitstream "${[...new Set(expected)].join(',')}"`);
      }
    };
    for (const entry of master.streams) {
      const video = videoOf(pkg, entry);
      const audioGroup = entry.attributes.AUDIO;
      const audio = groupMeasurements(pkg, master, 'AUDIO', audioGroup);
      const complete = video && (!audioGroup || audio.length > 0);
      compare(entry, complete ? [...video.codecs, ...audio.flatMap((a) => a.codecs)] : undefined);
    }
    for (const entry of master.iFrameStreams) {
      const video = iFrameSource(pkg, entry);
      compare(entry, video?.codecs.slice(0, 1));
    }
    if (compared === 0 && problems.length === 0) return skip('hls-codecs-bitstream', unmeasured.length ? `cannot measure ${unmeasured.join(', ')}` : 'no CODECS to compare');
    const note = unmeasured.length ? ` (not measured: ${unmeasured.join(', ')})` : '';
    return fromProblems('hls-codecs-bitstream', problems, `CODECS equal the codec strings of the init segments on ${compared} variants${note}`);
  });
}

/** The measured video an I-frame playlist points into: the variant playlist using the same segment files. */
function iFrameSource(pkg: HlsPackage, entry: MasterEntry): MeasuredMedia | undefined {
  if (!entry.uri) return undefined;
  const iframes = pkg.playlists.get(pkg.reader.resolve(pkg.ref, entry.uri));
  const firstSegment = iframes?.playlist?.segments[0];
  if (!iframes || !firstSegment) return undefined;
  const target = pkg.reader.resolve(iframes.ref, firstSegment.uri);
  for (const loaded of pkg.playlists.values()) {
    if (loaded.role === 'iframe' || !isMeasured(loaded.measured) || !loaded.playlist) continue;
    if (loaded.playlist.segments.some((segment) => pkg.reader.resolve(loaded.ref, segment.uri) === target)) return loaded.measured;
  }
  return undefined;
}

function isVideoVariant(pkg: HlsPackage, entry: MasterEntry): boolean {
  const measured = videoOf(pkg, entry);
  return measured ? measured.kind === 'video' : entry.attributes.RESOLUTION !== undefined;
}

export function checkResolution(pkg: HlsPackage): CheckResult {
  return needMaster('hls-resolution', pkg, (master) => {
    const problems: string[] = [];
    let compared = 0;
    const entries = [
      ...master.streams.filter((entry) => isVideoVariant(pkg, entry)).map((entry) => ({ entry, video: videoOf(pkg, entry) })),
      ...master.iFrameStreams.map((entry) => ({ entry, video: iFrameSource(pkg, entry) })),
    ];
    for (const { entry, video } of entries) {
      const declared = entry.attributes.RESOLUTION;
      if (!declared) {
        problems.push(`${label(entry)}: no RESOLUTION`);
        continue;
      }
      if (!video?.width || !video.height) continue;
      compared++;
      const coded = `${video.width}x${video.height}`;
      const display = video.displayWidth && video.displayHeight ? `${video.displayWidth}x${video.displayHeight}` : coded;
      if (declared !== coded && declared !== display) problems.push(`${label(entry)}: RESOLUTION ${declared} vs stream ${coded}`);
    }
    if (entries.length === 0) return skip('hls-resolution', 'no video variants');
    return fromProblems('hls-resolution', problems, `RESOLUTION equals the coded size on ${compared} of ${entries.length} video variants`);
  });
}

export function checkFrameRate(pkg: HlsPackage): CheckResult {
  return needMaster('hls-frame-rate', pkg, (master) => {
    const problems: string[] = [];
    const videoVariants = master.streams.filter((entry) => isVideoVariant(pkg, entry));
    if (videoVariants.length === 0) return skip('hls-frame-rate', 'no video variants');
    let compared = 0;
    for (const entry of videoVariants) {
      const declared = entry.attributes['FRAME-RATE'];
      if (declared === undefined) {
        problems.push(`${label(entry)}: no FRAME-RATE`);
        continue;
      }
      if (!/^\d+(\.\d{1,3})?$/.test(declared)) problems.push(`${label(entry)}: FRAME-RATE=${declared} is not a decimal with at most 3 places`);
      const measured = videoOf(pkg, entry)?.frameRate;
      if (measured === undefined) continue;
      compared++;
      if (Math.abs(Number(declared) - measured) > FRAME_RATE_TOLERANCE) problems.push(`${label(entry)}: FRAME-RATE ${declared} vs measured ${measured.toFixed(3)}`);
    }
    return fromProblems('hls-frame-rate', problems, `FRAME-RATE within ${FRAME_RATE_TOLERANCE} of the measured rate on ${compared} of ${videoVariants.length} video variants`);
  });
}

export function checkIndependentSegments(pkg: HlsPackage): CheckResult {
  return needMaster('hls-independent-segments', pkg, (master) => {
    if (master.tags.some((tag) => tag.name === 'EXT-X-INDEPENDENT-SEGMENTS')) return pass('hls-independent-segments', `EXT-X-INDEPENDENT-SEGMENTS in ${pkg.name}`);
    const videoPlaylists = [...pkg.playlists.values()].filter((p) => p.role === 'variant' && p.playlist);
    const lacking = videoPlaylists.filter((p) => !p.playlist!.independentSegments).map((p) => `${p.name} lacks EXT-X-INDEPENDENT-SEGMENTS`);
    if (lacking.length === 0) return pass('hls-independent-segments', 'EXT-X-INDEPENDENT-SEGMENTS in every video media playlist');
    return fail('hls-independent-segments', `not in ${pkg.name}, and ${lacking.length} video playlists lack it (${lacking.slice(0, 2).join('; ')})`, { problems: lacking });
  });
}

export function checkIFramePlaylists(pkg: HlsPackage): CheckResult {
  return needMaster('hls-iframe-playlists', pkg, (master) => {
    const video = master.streams.filter((entry) => isVideoVariant(pkg, entry));
    if (video.length === 0) return skip('hls-iframe-playlists', 'no video variants');
    const problems: string[] = [];
    if (master.iFrameStreams.length === 0) problems.push('no EXT-X-I-FRAME-STREAM-INF (Apple 6.1: I-frame playlists MUST be provided)');
    for (const entry of master.iFrameStreams) {
      const absent = ['URI', 'BANDWIDTH', 'CODECS', 'RESOLUTION'].filter((name) => !entry.attributes[name]);
      if (absent.length) problems.push(`${label(entry)}: no ${absent.join(', ')}`);
      const loaded = entry.uri ? pkg.playlists.get(pkg.reader.resolve(pkg.ref, entry.uri)) : undefined;
      if (loaded?.playlist && !loaded.playlist.iFramesOnly) problems.push(`${loaded.name} has no EXT-X-I-FRAMES-ONLY`);
    }
    const resolutions = new Set(master.iFrameStreams.map((entry) => entry.attributes.RESOLUTION));
    for (const entry of video) {
      if (master.iFrameStreams.length && !resolutions.has(entry.attributes.RESOLUTION)) problems.push(`${label(entry)}: no I-frame playlist at ${entry.attributes.RESOLUTION ?? 'its resolution'}`);
    }
    return fromProblems('hls-iframe-playlists', problems, `${master.iFrameStreams.length} I-frame playlists for ${video.length} video variants`);
  });
}

/** EXT-X-MEDIA groups: required attributes, unique NAMEs, one DEFAULT, DEFAULT⇒AUTOSELECT, references resolve. */
export function checkRenditionGroups(pkg: HlsPackage): CheckResult {
  return needMaster('hls-audio-groups', pkg, (master) => {
    const problems: string[] = [];
    const groups = new Map<string, MasterEntry[]>();
    for (const media of master.media) {
      const { TYPE: type, 'GROUP-ID': groupId, NAME: name } = media.attributes;
      const where = `EXT-X-MEDIA line ${media.line}`;
      if (!type || !groupId || !name) problems.push(`${where}: needs TYPE, GROUP-ID and NAME`);
      if (type === 'AUDIO' || type === 'SUBTITLES') {
        if (!media.attributes.LANGUAGE) problems.push(`${where} (${name}): no LANGUAGE`);
        if (!media.uri && type === 'SUBTITLES') problems.push(`${where} (${name}): no URI`);
      }
      if (type === 'AUDIO') {
        const channels = media.attributes.CHANNELS;
        const measured = measuredOf(pkg, pkg.ref, media.uri)?.channels;
        if (!channels) problems.push(`${where} (${name}): no CHANNELS`);
        else if (measured !== undefined && Number(channels.split('/')[0]) !== measured) problems.push(`${where} (${name}): CHANNELS="${channels}" vs ${measured} channels in the stream`);
      }
      if (media.attributes.DEFAULT === 'YES' && media.attributes.AUTOSELECT !== 'YES') problems.push(`${where} (${name}): DEFAULT=YES without AUTOSELECT=YES`);
      const key = `${type}/${groupId}`;
      groups.set(key, [...(groups.get(key) ?? []), media]);
    }
    for (const [key, members] of groups) {
      const names = members.map((m) => m.attributes.NAME);
      const duplicate = names.find((name, index) => names.indexOf(name) !== index);
      if (duplicate) problems.push(`group ${key}: NAME "${duplicate}" used twice`);
      if (members.filter((m) => m.attributes.DEFAULT === 'YES').length > 1) problems.push(`group ${key}: more than one DEFAULT=YES`);
    }
    for (const entry of master.streams) {
      for (const type of ['AUDIO', 'SUBTITLES', 'VIDEO'] as const) {
        const groupId = entry.attributes[type];
        if (groupId && !groups.has(`${type}/${groupId}`)) problems.push(`${label(entry)}: ${type}="${groupId}" names no EXT-X-MEDIA group`);
      }
    }
    if (master.media.length === 0) return pass('hls-audio-groups', 'no EXT-X-MEDIA renditions (audio, if any, is muxed)');
    return fromProblems('hls-audio-groups', problems, `EXT-X-MEDIA renditions: ${master.media.length}, groups: ${groups.size}; GROUP-ID, NAME, LANGUAGE, CHANNELS, DEFAULT/AUTOSELECT consistent`);
  });
}

/** Which rendition types each known CHARACTERISTICS value describes (describes-video is audio; the rest text). */
const CHARACTERISTIC_TYPES: Record<string, string[]> = { [DESCRIBES_VIDEO]: ['AUDIO'] };
const TEXT_TYPES = ['SUBTITLES', 'CLOSED-CAPTIONS'];

/**
 * Role signalling of EXT-X-MEDIA (RFC 8216 §4.3.4.1, Apple §4): CHARACTERISTICS values are UTIs
 * players know, on the type they describe; FORCED only on SUBTITLES; a FORCED rendition is
 * AUTOSELECT=YES (a client only shows it by choosing it on its own).
 */
export function checkRenditionRoles(pkg: HlsPackage): CheckResult {
  return needMaster('hls-rendition-roles', pkg, (master) => {
    const problems: string[] = [];
    let described = 0;
    for (const media of master.media) {
      const { TYPE: type = '', NAME: name, CHARACTERISTICS: characteristics, FORCED: forced } = media.attributes;
      const where = `EXT-X-MEDIA line ${media.line} (${name})`;
      for (const value of (characteristics ?? '').split(',').map((v) => v.trim()).filter(Boolean)) {
        described++;
        if (!KNOWN_CHARACTERISTICS.has(value)) problems.push(`${where}: CHARACTERISTICS value "${value}" is not one players know (${[...KNOWN_CHARACTERISTICS].join(', ')})`);
        else if (!(CHARACTERISTIC_TYPES[value] ?? TEXT_TYPES).includes(type)) problems.push(`${where}: "${value}" describes ${(CHARACTERISTIC_TYPES[value] ?? TEXT_TYPES).join('/')} renditions, not TYPE=${type}`);
      }
      if (forced !== undefined && type !== 'SUBTITLES') problems.push(`${where}: FORCED on TYPE=${type} (only SUBTITLES may carry it)`);
      if (forced !== undefined && forced !== 'YES' && forced !== 'NO') problems.push(`${where}: FORCED=${forced} is neither YES nor NO`);
      if (forced === 'YES' && media.attributes.AUTOSELECT !== 'YES') problems.push(`${where}: FORCED=YES without AUTOSELECT=YES`);
    }
    const forcedCount = master.media.filter((m) => m.attributes.FORCED === 'YES').length;
    return fromProblems('hls-rendition-roles', problems, `${described} CHARACTERISTICS values known and on their type, ${forcedCount} FORCED subtitle renditions`);
  });
}

export function checkClosedCaptions(pkg: HlsPackage): CheckResult {
  return needMaster('hls-closed-captions', pkg, (master) => {
    const values = master.streams.map((entry) => entry.attributes['CLOSED-CAPTIONS']);
    const problems: string[] = [];
    if (values.includes('NONE') && values.some((value) => value !== 'NONE')) problems.push('CLOSED-CAPTIONS=NONE on some variants but not on all (RFC 8216 §4.3.4.2)');
    const groups = new Set(master.media.filter((m) => m.attributes.TYPE === 'CLOSED-CAPTIONS').map((m) => m.attributes['GROUP-ID']));
    for (const entry of master.streams) {
      const value = entry.attributes['CLOSED-CAPTIONS'];
      if (value && value !== 'NONE' && !groups.has(value)) problems.push(`${label(entry)}: CLOSED-CAPTIONS="${value}" names no CLOSED-CAPTIONS group`);
    }
    const summary = values.every((v) => v === undefined) ? 'no CLOSED-CAPTIONS attributes' : `CLOSED-CAPTIONS consistent on ${values.length} variants`;
    return fromProblems('hls-closed-captions', problems, summary);
  });
}
