/**
 * The DASH MPD (static, live + CMAF profiles) written from a measured PackageModel.
 * Pure: returns the XML text. Rule numbers refer to /work/shared/reference/streaming-standards.md §A.
 */
import { VidpipeError } from '../errors.js';
import { groupBy } from './group-by.js';
import type { AudioTrack, PackageModel, Segment, SubtitleTrack, ThumbnailTrack, TrackBase, VideoTrack } from './model.js';
import { audioSignalling, ROLE_SCHEME, subtitleSignalling, type RoleSignalling } from './roles.js';

const PROFILES = 'urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019';
/** Channel count (ISO/IEC 23009-1 §5.8.5.4), for AAC and Opus. */
const CHANNEL_CONFIGURATION_SCHEME = 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011';
/**
 * E-AC-3's own scheme (DASH-IF IOP §9.2.1.2, ETSI TS 102 366 Annex I): a 16-bit channel mask in
 * hex, one bit per loudspeaker location, L C R Ls Rs Lrs/Rrs… from the top bit, LFE the lowest.
 */
const DOLBY_CHANNEL_CONFIGURATION_SCHEME = 'tag:dolby.com,2014:dash:audio_channel_configuration:2011';
const DOLBY_CHANNEL_MASKS: Record<number, string> = { 1: '4000', 2: 'A000', 6: 'F801' };
/**
 * Representation@bandwidth is required, but the model records no size for the single WebVTT file;
 * subtitles are a few hundred bytes per minute, so a nominal 1 kb/s never starves a client.
 */
const NOMINAL_TEXT_BANDWIDTH = 1000;
/** DASH-IF IOP §6.2.6 tiled thumbnails, as dash.js and Shaka read them. */
const THUMBNAIL_TILE_SCHEME = 'http://dashif.org/thumbnail_tile';
/** Sheet durations are in milliseconds so a fractional interval × tile count stays exact enough. */
const THUMBNAIL_TIMESCALE = 1000;
/** Common Encryption's MPD namespace (cenc:default_KID, cenc:pssh; ISO/IEC 23001-7 §11.2). */
const CENC_NAMESPACE = 'urn:mpeg:cenc:2013';

interface XmlElement {
  name: string;
  attributes: [string, string | number | undefined][];
  children?: XmlElement[];
  text?: string;
  /** Children given as XML text by a key provider, written as they are. */
  childrenXml?: string;
}

export function writeMpd(model: PackageModel): string {
  const adaptationSets = [
    ...videoAdaptationSets(model.videos),
    ...audioAdaptationSets(model.audios),
    ...model.subtitles.map(textAdaptationSet),
    ...(model.thumbnails ? [thumbnailAdaptationSet(model.thumbnails)] : []),
  ].map((set, index) => withId(set, index));

  const mpd: XmlElement = {
    name: 'MPD',
    attributes: [
      ['xmlns', 'urn:mpeg:dash:schema:mpd:2011'],
      ['xmlns:cenc', [...model.videos, ...model.audios].some((track) => (track.protection?.dash.length ?? 0) > 0) ? CENC_NAMESPACE : undefined],
      ['type', 'static'],
      ['profiles', PROFILES],
      ['mediaPresentationDuration', isoDuration(model.durationSeconds)],
      ['minBufferTime', isoDuration(minBufferSeconds(model))],
    ],
    children: [{ name: 'Period', attributes: [['id', '0'], ['start', 'PT0S']], children: adaptationSets }],
  };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${renderXml(mpd, '')}`;
}

/**
 * Every Representation's bandwidth is its peak segment bit rate (RFC 8216 §4.1: each full-length
 * segment is its own peak window), so a segment downloads at that rate within its own duration:
 * buffering the longest segment is enough for continuous play.
 */
function minBufferSeconds(model: PackageModel): number {
  const tracks: TrackBase[] = [...model.videos, ...model.audios];
  const durations = tracks.flatMap((track) => track.segments.map((segment) => segment.duration / track.timescale));
  return durations.length > 0 ? Math.max(...durations) : model.segmentDurationSeconds;
}

// ---------------------------------------------------------------------------
// Adaptation sets
// ---------------------------------------------------------------------------

/** One set per codec family: players cannot switch between H.264 and AV1 Representations seamlessly. */
function videoAdaptationSets(videos: VideoTrack[]): XmlElement[] {
  return [...groupBy(videos, (video) => video.codec).values()].map((tracks) => {
    const fastest = tracks.reduce((a, b) => (rate(b.frameRate) > rate(a.frameRate) ? b : a));
    return adaptationSet(
      [
        ['contentType', 'video'],
        ['mimeType', 'video/mp4'],
        ['segmentAlignment', 'true'],
        ['startWithSAP', '1'],
        ['maxWidth', Math.max(...tracks.map((track) => track.width))],
        ['maxHeight', Math.max(...tracks.map((track) => track.height))],
        ['maxFrameRate', frameRateValue(fastest.frameRate)],
      ],
      contentProtection(tracks),
      byBandwidth(tracks).map(videoRepresentation),
    );
  });
}

/**
 * One set per codec family, language, role and channel count: @lang and Role belong to the set,
 * and switching language, purpose or speaker layout mid-stream is not adaptation. A Label tells
 * apart two sets that share language and role (stereo and 5.1).
 */
function audioAdaptationSets(audios: AudioTrack[]): XmlElement[] {
  const sets = [...groupBy(audios, (audio) => [audio.codec, audio.language, audio.role ?? '', audio.channels].join('\u0000')).values()];
  const sharedKey = (tracks: AudioTrack[]) => [tracks[0].codec, tracks[0].language, setSignalling(tracks).dashRole].join('\u0000');
  const setsPerKey = groupBy(sets, sharedKey);
  return sets.map((tracks) =>
    adaptationSet(
      [
        ['contentType', 'audio'],
        ['mimeType', 'audio/mp4'],
        ['lang', tracks[0].language],
        ['segmentAlignment', 'true'],
        ['startWithSAP', '1'],
      ],
      [...contentProtection(tracks), ...(setsPerKey.get(sharedKey(tracks))!.length > 1 ? [label(layoutName(tracks[0]))] : []), ...roleDescriptors(setSignalling(tracks))],
      byBandwidth(tracks).map(audioRepresentation),
    ),
  );
}

/** A set's name with its speaker layout when that is not stereo: `English 5.1` beside `English`. */
function layoutName(track: AudioTrack): string {
  if (track.channels <= 2) return track.name;
  return `${track.name} ${track.channels === 6 ? '5.1' : track.channels === 8 ? '7.1' : `${track.channels}ch`}`;
}

/** A set without a role of its own is main when it holds the default rendition, else an alternate. */
function setSignalling(tracks: AudioTrack[]): RoleSignalling {
  return audioSignalling(tracks[0].role, tracks.some((track) => track.isDefault));
}

/** Accessibility before Role, as the schema orders AdaptationSet elements. */
function roleDescriptors(signalling: RoleSignalling): XmlElement[] {
  return [
    ...signalling.accessibility.map((descriptor): XmlElement => ({ name: 'Accessibility', attributes: [['schemeIdUri', descriptor.schemeIdUri], ['value', descriptor.value]] })),
    role(signalling.dashRole),
  ];
}

function label(text: string): XmlElement {
  return { name: 'Label', attributes: [], text };
}

/** Side-loaded WebVTT: one file per track, addressed by BaseURL. */
function textAdaptationSet(track: SubtitleTrack): XmlElement {
  return adaptationSet(
    [
      ['contentType', 'text'],
      ['mimeType', 'text/vtt'],
      ['lang', track.language],
      ['segmentAlignment', 'true'],
      ['startWithSAP', '1'],
    ],
    // The Label (before Role, as the schema orders them) tells apart two tracks of one language.
    [label(track.name), ...roleDescriptors(subtitleSignalling(track.role))],
    [
      {
        name: 'Representation',
        attributes: [
          ['id', track.id],
          ['bandwidth', NOMINAL_TEXT_BANDWIDTH],
        ],
        children: [{ name: 'BaseURL', attributes: [], text: track.vttUri }],
      },
    ],
  );
}

/**
 * The storyboard sheets as an image AdaptationSet: one Representation as large as a sheet, the
 * tile grid in an EssentialProperty, and a $Number$ template with one "segment" per sheet.
 */
function thumbnailAdaptationSet(track: ThumbnailTrack): XmlElement {
  const numbered = numberTemplate(track.sheetUris);
  if (!numbered) throw new VidpipeError('INTERNAL', `storyboard sheets ${track.sheetUris.join(', ')} are not numbered consecutively`);
  return adaptationSet(
    [
      ['contentType', 'image'],
      ['mimeType', 'image/jpeg'],
    ],
    [],
    [
      {
        name: 'Representation',
        attributes: [
          ['id', track.id],
          ['bandwidth', Math.max(1, Math.ceil(track.bandwidth))],
          ['width', track.columns * track.tileWidth],
          ['height', track.rows * track.tileHeight],
        ],
        children: [
          { name: 'EssentialProperty', attributes: [['schemeIdUri', THUMBNAIL_TILE_SCHEME], ['value', `${track.columns}x${track.rows}`]] },
          {
            name: 'SegmentTemplate',
            attributes: [
              ['timescale', THUMBNAIL_TIMESCALE],
              ['duration', Math.round(track.sheetDurationSeconds * THUMBNAIL_TIMESCALE)],
              ['media', numbered.media],
              ['startNumber', numbered.startNumber],
            ],
          },
        ],
      },
    ],
  );
}

function adaptationSet(
  attributes: XmlElement['attributes'],
  /** Label and Role elements, which come before the Representations. */
  roles: XmlElement[],
  representations: XmlElement[],
): XmlElement {
  return { name: 'AdaptationSet', attributes, children: [...roles, ...representations] };
}

/** Rule 33: AdaptationSet ids are unique within the Period. */
function withId(set: XmlElement, index: number): XmlElement {
  return { ...set, attributes: [['id', index], ...set.attributes] };
}

/**
 * The ContentProtection elements of a set (before its Role, as the schema orders them): its
 * tracks are of one type, encrypted under one key, so they signal alike.
 */
function contentProtection(tracks: TrackBase[]): XmlElement[] {
  const signalled = tracks.map((track) => JSON.stringify(track.protection?.dash ?? []));
  if (new Set(signalled).size > 1) throw new VidpipeError('INTERNAL', `the tracks ${tracks.map((track) => track.id).join(', ')} of one AdaptationSet are protected differently`);
  return (tracks[0]?.protection?.dash ?? []).map((element) => ({
    name: 'ContentProtection',
    attributes: [
      ['schemeIdUri', element.schemeIdUri],
      ['value', element.value],
      ['cenc:default_KID', element.defaultKid],
      ['robustness', element.robustness],
    ],
    ...(element.childrenXml !== undefined
      ? { childrenXml: element.childrenXml }
      : { children: element.pssh ? [{ name: 'cenc:pssh', attributes: [], text: element.pssh }] : [] }),
  }));
}

function role(value: string): XmlElement {
  return { name: 'Role', attributes: [['schemeIdUri', ROLE_SCHEME], ['value', value]] };
}

function videoRepresentation(track: VideoTrack): XmlElement {
  return mediaRepresentation(
    track,
    [
      ['width', track.width],
      ['height', track.height],
      ['frameRate', frameRateValue(track.frameRate)],
      ['sar', track.sar],
    ],
    [],
  );
}

function audioRepresentation(track: AudioTrack): XmlElement {
  return mediaRepresentation(track, [['audioSamplingRate', track.sampleRate]], [channelConfiguration(track)]);
}

/** E-AC-3 says its layout in Dolby's scheme (players ignore the generic one for it); the rest by count. */
function channelConfiguration(track: AudioTrack): XmlElement {
  const dolbyMask = track.codecs === 'ec-3' ? DOLBY_CHANNEL_MASKS[track.channels] : undefined;
  const [scheme, value] = dolbyMask ? [DOLBY_CHANNEL_CONFIGURATION_SCHEME, dolbyMask] : [CHANNEL_CONFIGURATION_SCHEME, String(track.channels)];
  return { name: 'AudioChannelConfiguration', attributes: [['schemeIdUri', scheme], ['value', value]] };
}

/**
 * Rule 35: id, bandwidth and codecs on every audio/video Representation. `descriptors` come before the
 * segment addressing, as the schema orders RepresentationBase elements (e.g. AudioChannelConfiguration).
 */
function mediaRepresentation(
  track: VideoTrack | AudioTrack,
  attributes: XmlElement['attributes'],
  descriptors: XmlElement[],
): XmlElement {
  return {
    name: 'Representation',
    attributes: [['id', track.id], ['bandwidth', bandwidthValue(track)], ['codecs', track.codecs], ...attributes],
    children: [...descriptors, segmentAddressing(track)],
  };
}

/** Rule 35: bandwidth is the measured peak, an integer, rounded up so it stays an upper bound. */
function bandwidthValue(track: TrackBase): number {
  const value = Math.ceil(track.peakBitrate);
  if (!(value > 0)) throw new VidpipeError('INTERNAL', `track ${track.id} has no measured peak bit rate`);
  return value;
}

function byBandwidth<T extends TrackBase>(tracks: T[]): T[] {
  return [...tracks].sort((a, b) => a.peakBitrate - b.peakBitrate);
}

// ---------------------------------------------------------------------------
// Segment addressing
// ---------------------------------------------------------------------------

/**
 * A SegmentTemplate with $Number$ when the segment names follow one numbered pattern, otherwise a
 * SegmentList naming each file. Both carry the measured SegmentTimeline (rule 37).
 */
function segmentAddressing(track: TrackBase): XmlElement {
  if (track.segments.length === 0) throw new VidpipeError('INTERNAL', `track ${track.id} has no segments`);
  const timeline: XmlElement = { name: 'SegmentTimeline', attributes: [], children: timelineEntries(track.segments) };
  const numbered = numberTemplate(track.segments.map((segment) => segment.uri));
  if (numbered) {
    return {
      name: 'SegmentTemplate',
      attributes: [
        ['timescale', track.timescale],
        ['initialization', withRepresentationId(escapeTemplateLiteral(track.initUri), track.id)],
        ['media', withRepresentationId(numbered.media, track.id)],
        ['startNumber', numbered.startNumber],
      ],
      children: [timeline],
    };
  }
  return {
    name: 'SegmentList',
    attributes: [['timescale', track.timescale]],
    children: [
      { name: 'Initialization', attributes: [['sourceURL', track.initUri]] },
      timeline,
      ...track.segments.map((segment): XmlElement => ({ name: 'SegmentURL', attributes: [['media', segment.uri]] })),
    ],
  };
}

/**
 * Finds one run of digits that counts up by one from segment to segment, with the same text around
 * it, and turns it into $Number$ (or $Number%0Nd$ when the first name is zero-padded).
 */
function numberTemplate(uris: string[]): { media: string; startNumber: number } | undefined {
  const first = uris[0];
  for (const run of numberCandidates(first)) {
    const prefix = first.slice(0, run.index);
    const suffix = first.slice(run.index + run[0].length);
    const width = run[0].length > 1 && run[0].startsWith('0') ? run[0].length : 0;
    const startNumber = Number(run[0]);
    const matches = uris.every(
      (uri, index) => uri === `${prefix}${String(startNumber + index).padStart(width, '0')}${suffix}`,
    );
    if (matches) {
      const number = width > 0 ? `$Number%0${width}d$` : '$Number$';
      return { media: `${escapeTemplateLiteral(prefix)}${number}${escapeTemplateLiteral(suffix)}`, startNumber };
    }
  }
  return undefined;
}

/**
 * Digit runs of a segment name, most likely segment number first: those in the file name before its
 * extension, last first. With a single segment every run "counts", and "video/h264-720p/seg_00001.m4s"
 * should still become seg_$Number%05d$.m4s, not h$Number$-720p or .m$Number$s.
 */
function numberCandidates(uri: string): RegExpExecArray[] {
  const nameStart = uri.lastIndexOf('/') + 1;
  const extension = uri.lastIndexOf('.');
  const stemEnd = extension > nameStart ? extension : uri.length;
  const inStem = (run: RegExpExecArray) => run.index >= nameStart && run.index + run[0].length <= stemEnd;
  return [...uri.matchAll(/\d+/g)].sort((a, b) => Number(inStem(b)) - Number(inStem(a)) || b.index - a.index);
}

/** In a template a literal "$" must be written "$$" (ISO/IEC 23009-1 §5.3.9.4.4). */
function escapeTemplateLiteral(text: string): string {
  return text.replaceAll('$', '$$$$');
}

/**
 * Rule 37 expects templates to name the Representation: path components equal to the id become
 * $RepresentationID$, which expands back to the same text. Ids with characters that would need
 * URL escaping are left literal.
 */
function withRepresentationId(template: string, id: string): string {
  if (!/^[A-Za-z0-9._~-]+$/.test(id)) return template;
  return template
    .split('/')
    .map((component) => (component === id ? '$RepresentationID$' : component))
    .join('/');
}

/**
 * Run-length encoded <S t d r>: consecutive segments with the same duration and no gap share one
 * entry; @t appears on the first entry and wherever the measured start does not follow on.
 */
function timelineEntries(segments: Segment[]): XmlElement[] {
  const runs: { t?: number; d: number; r: number }[] = [];
  let expectedStart: number | undefined;
  for (const segment of segments) {
    const last = runs[runs.length - 1];
    const contiguous = segment.startTime === expectedStart;
    if (last && contiguous && last.d === segment.duration) last.r += 1;
    else runs.push({ t: contiguous ? undefined : segment.startTime, d: segment.duration, r: 0 });
    expectedStart = segment.startTime + segment.duration;
  }
  return runs.map((run) => ({
    name: 'S',
    attributes: [
      ['t', run.t],
      ['d', run.d],
      ['r', run.r > 0 ? run.r : undefined],
    ],
  }));
}

// ---------------------------------------------------------------------------
// Values and XML
// ---------------------------------------------------------------------------

/** xs:duration in seconds with millisecond precision, e.g. PT13.013S. */
function isoDuration(seconds: number): string {
  const text = seconds.toFixed(3).replace(/\.?0+$/, '');
  return `PT${text}S`;
}

/** FrameRateType: "30" for whole rates, otherwise the reduced fraction, e.g. "30000/1001". */
function frameRateValue({ num, den }: { num: number; den: number }): string {
  const divisor = gcd(num, den);
  const [n, d] = [num / divisor, den / divisor];
  return d === 1 ? String(n) : `${n}/${d}`;
}

function rate({ num, den }: { num: number; den: number }): number {
  return num / den;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function renderXml(element: XmlElement, indent: string): string {
  const attributes = element.attributes
    .filter((pair): pair is [string, string | number] => pair[1] !== undefined)
    .map(([name, value]) => ` ${name}="${escapeXml(String(value))}"`)
    .join('');
  const open = `${indent}<${element.name}${attributes}`;
  if (element.text !== undefined) return `${open}>${escapeXml(element.text)}</${element.name}>\n`;
  if (element.childrenXml !== undefined) return `${open}>\n${indent}  ${element.childrenXml.trim()}\n${indent}</${element.name}>\n`;
  if (!element.children || element.children.length === 0) return `${open}/>\n`;
  const children = element.children.map((child) => renderXml(child, `${indent}  `)).join('');
  return `${open}>\n${children}${indent}</${element.name}>\n`;
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Encoded so attribute-value normalization does not turn them into spaces.
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/**
 * Escapes for both attribute values and text. Characters XML 1.0 forbids even as references
 * (C0 controls other than tab and line breaks, lone surrogates, U+FFFE/U+FFFF, §2.2 Char)
 * are dropped: a parser stops at the first one.
 */
export function escapeXml(value: string): string {
  return value.replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '').replace(/[&<>"'\t\n\r]/g, (char) => XML_ESCAPES[char]!);
}
