import type { MediaProbe } from '../ffmpeg/probe.js';

/** Technical keys muxers write that say nothing about the recording. */
const TECHNICAL_TAGS = new Set(['encoder', 'encoded_by', 'vendor_id', 'handler_name', 'major_brand', 'minor_version', 'compatible_brands', 'creation_time', 'duration']);
/** ID3v2 frames ffmpeg passes through under their frame id, and Vorbis-comment spellings, to common names. */
const TAG_ALIASES: Record<string, string> = { tsrc: 'isrc', trck: 'track', tracknumber: 'track', tpos: 'disc', discnumber: 'disc', tdrc: 'date', year: 'date', tcon: 'genre', tbpm: 'bpm', tpub: 'publisher', tcop: 'copyright' };

/**
 * The recording's tags: the container's (ID3, MP4 ilst, FLAC/WAV/AIFF) plus, for Ogg and Opus
 * files whose Vorbis comments sit on the stream, the main audio stream's, with common names.
 */
export function audioTags(probe: MediaProbe): Record<string, string> {
  const raw = probe.raw as { streams?: { index: number; tags?: Record<string, string> }[] } | undefined;
  const main = probe.audioStreams.find((s) => s.isDefault) ?? probe.audioStreams[0];
  const streamTags = raw?.streams?.find((s) => s.index === main?.index)?.tags ?? {};
  const tags: Record<string, string> = {};
  for (const [key, value] of [...Object.entries(streamTags), ...Object.entries(probe.tags)]) {
    const lower = key.toLowerCase();
    if (TECHNICAL_TAGS.has(lower) || lower === 'language' || !value.trim()) continue;
    tags[TAG_ALIASES[lower] ?? lower] = value;
  }
  return tags;
}
