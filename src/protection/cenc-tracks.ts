/**
 * The tracks of a clear CMAF init segment as the encryptor needs them: which codec rule applies
 * (NAL subsamples for H.264/HEVC, whole samples for audio) and the parameter sets slice headers
 * are read with.
 */
import { VidpipeError } from '../errors.js';
import {
  boxReader,
  findBoxes,
  malformed,
  parseHdlr,
  parseStsd,
  parseTkhd,
  readTrackExtends,
  requireBox,
  type Box,
  type SampleEntry,
} from '../media/mp4-boxes.js';
import { H264Nals, HevcNals, type NalCodec } from './subsamples.js';

export type ProtectedCodec = 'h264' | 'hevc' | 'audio';

export interface ClearTrack {
  trackId: number;
  trak: Box;
  entry: SampleEntry;
  codec: ProtectedCodec;
  /** trex default, for fragments whose runs and tfhd give no size. */
  defaultSampleSize: number;
  /** H.264/HEVC: a parser primed with the config record's parameter sets. */
  nals?: () => NalCodec;
}

const CODECS: Record<string, ProtectedCodec> = {
  avc1: 'h264',
  avc3: 'h264',
  hvc1: 'hevc',
  hev1: 'hevc',
  mp4a: 'audio',
  Opus: 'audio',
  'ac-3': 'audio',
  'ec-3': 'audio',
};

/** avcC (ISO/IEC 14496-15 §5.3.3.1): NAL length size and the SPS/PPS NAL units. */
function readAvcC(buf: Buffer, box: Box): { nalLengthSize: number; parameterSets: Buffer[] } {
  const reader = boxReader(buf, box);
  reader.skip(4); // configurationVersion, profile, compatibility, level
  const nalLengthSize = (reader.u8() & 0x03) + 1;
  const parameterSets: Buffer[] = [];
  const spsCount = reader.u8() & 0x1f;
  for (let i = 0; i < spsCount; i++) parameterSets.push(reader.bytes(reader.u16()));
  const ppsCount = reader.u8();
  for (let i = 0; i < ppsCount; i++) parameterSets.push(reader.bytes(reader.u16()));
  return { nalLengthSize, parameterSets };
}

/** hvcC (ISO/IEC 14496-15 §8.3.3.1): NAL length size and the parameter set arrays. */
function readHvcC(buf: Buffer, box: Box): { nalLengthSize: number; parameterSets: Buffer[] } {
  const reader = boxReader(buf, box);
  reader.skip(21);
  const nalLengthSize = (reader.u8() & 0x03) + 1;
  const parameterSets: Buffer[] = [];
  const arrays = reader.u8();
  for (let i = 0; i < arrays; i++) {
    reader.skip(1); // array_completeness, NAL_unit_type
    const count = reader.u16();
    for (let j = 0; j < count; j++) parameterSets.push(reader.bytes(reader.u16()));
  }
  return { nalLengthSize, parameterSets };
}

/** The tracks of a clear init segment; a codec Common Encryption does not cover here is refused. */
export function readClearTracks(init: Buffer): ClearTrack[] {
  const trexes = readTrackExtends(init);
  const traks = findBoxes(init, 'moov/trak');
  if (traks.length === 0) throw malformed('init segment without a track');
  return traks.map((trak) => {
    const trackId = parseTkhd(init, requireBox(init, 'tkhd', trak)).trackId;
    const handler = parseHdlr(init, requireBox(init, 'mdia/hdlr', trak));
    const entries = parseStsd(init, requireBox(init, 'mdia/minf/stbl/stsd', trak));
    if (entries.length !== 1) throw malformed(`track ${trackId} has ${entries.length} sample entries, expected 1`);
    const entry = entries[0]!;
    if (entry.type !== entry.format) {
      throw new VidpipeError('USAGE', `track ${trackId} is already encrypted ('${entry.type}' of '${entry.format}')`);
    }
    const codec = CODECS[entry.type];
    if (!codec || (codec === 'audio') !== (handler === 'soun')) {
      throw new VidpipeError(
        'USAGE',
        `cannot encrypt ${handler === 'soun' ? 'audio' : 'video'} in '${entry.type}': vidpipe encrypts H.264 and HEVC video and AAC, Opus, AC-3 and E-AC-3 audio`,
        { hint: 'choose one of those codecs for an encrypted package, or leave out --encrypt' },
      );
    }
    const defaultSampleSize = trexes.find((trex) => trex.trackId === trackId)?.defaultSampleSize ?? 0;
    const track: ClearTrack = { trackId, trak, entry, codec, defaultSampleSize };
    if (codec !== 'audio') {
      const configType = codec === 'h264' ? 'avcC' : 'hvcC';
      const config = entry.children.find((child) => child.type === configType);
      if (!config) throw malformed(`track ${trackId} ('${entry.type}') has no ${configType}`);
      const { nalLengthSize, parameterSets } = codec === 'h264' ? readAvcC(init, config) : readHvcC(init, config);
      track.nals = () => (codec === 'h264' ? new H264Nals(nalLengthSize, parameterSets) : new HevcNals(nalLengthSize, parameterSets));
    }
    return track;
  });
}
