/**
 * A deliberately literal reading of HLS playlists: every tag as written, with line numbers,
 * so checks can see what is missing or misplaced. (hls-parser fills in defaults and, when
 * not strict, silently drops what it cannot parse, which would hide exactly what validate
 * has to report; it is used for the strict-parse check only.)
 */
import type { ByteSpan } from './source.js';

export type Attributes = Record<string, string>;

/** RFC 8216 §4.2 attribute list; quoted values are returned without their quotes. */
export function parseAttributes(text: string): Attributes {
  const attributes: Attributes = {};
  const pattern = /([A-Z0-9-]+)=("[^"]*"|[^,]*)/g;
  for (const match of text.matchAll(pattern)) {
    const value = match[2]!;
    attributes[match[1]!] = value.startsWith('"') ? value.slice(1, -1) : value;
  }
  return attributes;
}

export interface TagLine {
  name: string;
  value: string;
  line: number;
}

export interface MasterEntry {
  tag: 'EXT-X-STREAM-INF' | 'EXT-X-I-FRAME-STREAM-INF' | 'EXT-X-MEDIA';
  attributes: Attributes;
  /** STREAM-INF: the next URI line; the others: their URI attribute. */
  uri?: string;
  line: number;
}

export interface MasterPlaylist {
  kind: 'master';
  tags: TagLine[];
  version?: number;
  streams: MasterEntry[];
  iFrameStreams: MasterEntry[];
  media: MasterEntry[];
}

export interface MediaSegmentEntry {
  uri: string;
  duration: number;
  /** EXTINF exactly as written, to tell integer from decimal durations. */
  durationText: string;
  byteRange?: ByteSpan;
  /** URI of the EXT-X-MAP in force for this segment. */
  mapUri?: string;
  mapByteRange?: ByteSpan;
  line: number;
}

export interface MediaPlaylist {
  kind: 'media';
  tags: TagLine[];
  version?: number;
  targetDurations: number[];
  playlistType?: string;
  endList: boolean;
  iFramesOnly: boolean;
  independentSegments: boolean;
  segments: MediaSegmentEntry[];
  /** Line of the first EXT-X-MAP, if any. */
  firstMapLine?: number;
}

export type Playlist = MasterPlaylist | MediaPlaylist;

function tagLines(text: string): { tags: TagLine[]; uris: { uri: string; line: number }[]; lines: string[] } {
  const lines = text.split(/\r?\n/);
  const tags: TagLine[] = [];
  const uris: { uri: string; line: number }[] = [];
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    if (line.startsWith('#EXT')) {
      const colon = line.indexOf(':');
      tags.push({ name: colon < 0 ? line.slice(1) : line.slice(1, colon), value: colon < 0 ? '' : line.slice(colon + 1), line: index + 1 });
    } else if (!line.startsWith('#')) {
      uris.push({ uri: line, line: index + 1 });
    }
  });
  return { tags, uris, lines };
}

const MASTER_TAGS = new Set(['EXT-X-STREAM-INF', 'EXT-X-I-FRAME-STREAM-INF', 'EXT-X-MEDIA', 'EXT-X-SESSION-DATA', 'EXT-X-SESSION-KEY']);

export function isMasterText(text: string): boolean {
  return tagLines(text).tags.some((tag) => MASTER_TAGS.has(tag.name));
}

function parseByteRange(value: string, previousEnd: number | undefined): ByteSpan {
  const [length, offset] = value.split('@');
  return { length: Number(length), offset: offset === undefined ? (previousEnd ?? 0) : Number(offset) };
}

export function parseMaster(text: string): MasterPlaylist {
  const { tags, uris } = tagLines(text);
  const master: MasterPlaylist = { kind: 'master', tags, streams: [], iFrameStreams: [], media: [] };
  for (const tag of tags) {
    if (tag.name === 'EXT-X-VERSION') master.version = Number(tag.value);
    if (tag.name === 'EXT-X-STREAM-INF') {
      const next = uris.find((entry) => entry.line > tag.line);
      master.streams.push({ tag: tag.name, attributes: parseAttributes(tag.value), uri: next?.uri, line: tag.line });
    } else if (tag.name === 'EXT-X-I-FRAME-STREAM-INF' || tag.name === 'EXT-X-MEDIA') {
      const attributes = parseAttributes(tag.value);
      const list = tag.name === 'EXT-X-MEDIA' ? master.media : master.iFrameStreams;
      list.push({ tag: tag.name, attributes, uri: attributes.URI, line: tag.line });
    }
  }
  return master;
}

export function parseMedia(text: string): MediaPlaylist {
  const { tags, uris } = tagLines(text);
  const playlist: MediaPlaylist = {
    kind: 'media',
    tags,
    targetDurations: [],
    endList: false,
    iFramesOnly: false,
    independentSegments: false,
    segments: [],
  };
  let pending: { duration: number; durationText: string; line: number; byteRange?: ByteSpan } | undefined;
  let map: { uri?: string; byteRange?: ByteSpan } = {};
  const rangeEnds = new Map<string, number>();
  const events = [...tags.map((tag) => ({ line: tag.line, tag })), ...uris.map((uri) => ({ line: uri.line, uri }))].sort((a, b) => a.line - b.line);
  let pendingRange: string | undefined;
  for (const event of events) {
    if ('uri' in event && event.uri) {
      if (!pending) continue;
      const byteRange = pendingRange === undefined ? undefined : parseByteRange(pendingRange, rangeEnds.get(event.uri.uri));
      if (byteRange) rangeEnds.set(event.uri.uri, byteRange.offset + byteRange.length);
      playlist.segments.push({
        uri: event.uri.uri,
        duration: pending.duration,
        durationText: pending.durationText,
        line: pending.line,
        ...(byteRange ? { byteRange } : {}),
        ...(map.uri ? { mapUri: map.uri } : {}),
        ...(map.byteRange ? { mapByteRange: map.byteRange } : {}),
      });
      pending = undefined;
      pendingRange = undefined;
      continue;
    }
    const tag = (event as { tag: TagLine }).tag;
    switch (tag.name) {
      case 'EXT-X-VERSION':
        playlist.version = Number(tag.value);
        break;
      case 'EXT-X-TARGETDURATION':
        playlist.targetDurations.push(Number(tag.value));
        break;
      case 'EXT-X-PLAYLIST-TYPE':
        playlist.playlistType = tag.value;
        break;
      case 'EXT-X-ENDLIST':
        playlist.endList = true;
        break;
      case 'EXT-X-I-FRAMES-ONLY':
        playlist.iFramesOnly = true;
        break;
      case 'EXT-X-INDEPENDENT-SEGMENTS':
        playlist.independentSegments = true;
        break;
      case 'EXT-X-MAP': {
        const attributes = parseAttributes(tag.value);
        map = { uri: attributes.URI, byteRange: attributes.BYTERANGE ? parseByteRange(attributes.BYTERANGE, 0) : undefined };
        playlist.firstMapLine ??= tag.line;
        break;
      }
      case 'EXTINF': {
        const durationText = tag.value.split(',')[0]!.trim();
        pending = { duration: Number(durationText), durationText, line: tag.line };
        break;
      }
      case 'EXT-X-BYTERANGE':
        pendingRange = tag.value;
        break;
    }
  }
  return playlist;
}
