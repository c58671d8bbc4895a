/**
 * Which bytes of a NAL-structured video sample (H.264, HEVC) are encrypted (ISO/IEC 23001-7
 * §9.5 / §10.4): every NAL length field, NAL header and slice header stays clear, non-VCL NAL
 * units (parameter sets, SEI, AUD …) stay entirely clear, and each VCL NAL's slice data is one
 * protected range. For 'cenc' the protected range is shortened at its start to a multiple of 16
 * bytes (§9.5.2.2 recommends block-aligned ranges; what Shaka Packager and Bento4 write too).
 */
import { malformed } from '../media/mp4-boxes.js';
import { h264SliceHeaderBits, parseH264Pps, parseH264Sps, type H264ParameterSets } from './h264-slice.js';
import { hevcSliceHeaderBytes, parseHevcPps, parseHevcSps, type HevcParameterSets } from './hevc-slice.js';
import { storedLength, unescapeRbsp } from './rbsp.js';

export interface Subsample {
  clearBytes: number;
  protectedBytes: number;
}

/** The scheme-specific part of the subsample rule. */
export type SampleScheme = 'cenc' | 'cbcs';

const MAX_CLEAR_RUN = 0xffff;
const BLOCK = 16;
/** Enough RBSP for any slice header vidpipe's encoders write; longer ones are retried on the whole NAL. */
const HEADER_PROBE_BYTES = 256;

/** Parses parameter sets seen in the config record or in band, and measures slice headers. */
export interface NalCodec {
  readonly nalLengthSize: number;
  /** Clear bytes at the start of a VCL NAL (NAL header + slice header), or undefined for a non-VCL NAL. */
  vclClearBytes(nal: Buffer): number | undefined;
}

/** Measures the slice header on the NAL's first bytes, then on the whole NAL when it runs past them. */
function headerBytes(nal: Buffer, measure: (rbsp: Buffer) => number): number {
  const probe = unescapeRbsp(nal.subarray(0, HEADER_PROBE_BYTES));
  try {
    if (nal.length > HEADER_PROBE_BYTES) return storedLength(probe, measure(probe.bytes));
  } catch {
    // ran past the probe: measure on the whole NAL below
  }
  const whole = unescapeRbsp(nal);
  return storedLength(whole, measure(whole.bytes));
}

export class H264Nals implements NalCodec {
  private readonly sets: H264ParameterSets = { sps: new Map(), pps: new Map() };

  constructor(readonly nalLengthSize: number, parameterSets: Buffer[]) {
    for (const nal of parameterSets) this.vclClearBytes(nal);
  }

  vclClearBytes(nal: Buffer): number | undefined {
    const type = nal[0]! & 0x1f;
    if (type === 7) {
      const sps = parseH264Sps(unescapeRbsp(nal).bytes);
      this.sets.sps.set(sps.id, sps);
    } else if (type === 8) {
      const pps = parseH264Pps(unescapeRbsp(nal).bytes);
      this.sets.pps.set(pps.id, pps);
    }
    if (type !== 1 && type !== 5) return undefined;
    // The header ends inside a byte shared with slice data: that byte stays clear.
    return Math.min(nal.length, headerBytes(nal, (rbsp) => Math.ceil(h264SliceHeaderBits(rbsp, this.sets) / 8)));
  }
}

export class HevcNals implements NalCodec {
  private readonly sets: HevcParameterSets = { sps: new Map(), pps: new Map() };

  constructor(readonly nalLengthSize: number, parameterSets: Buffer[]) {
    for (const nal of parameterSets) this.vclClearBytes(nal);
  }

  vclClearBytes(nal: Buffer): number | undefined {
    if (nal.length < 2) throw malformed('HEVC NAL unit shorter than its header');
    const type = (nal[0]! >> 1) & 0x3f;
    if (type === 33) {
      const sps = parseHevcSps(unescapeRbsp(nal).bytes);
      this.sets.sps.set(sps.id, sps);
    } else if (type === 34) {
      const pps = parseHevcPps(unescapeRbsp(nal).bytes);
      this.sets.pps.set(pps.id, pps);
    }
    if (type >= 32) return undefined;
    return Math.min(nal.length, headerBytes(nal, (rbsp) => hevcSliceHeaderBytes(rbsp, this.sets)));
  }
}

/** Appends a clear run and a protected run, splitting clear runs longer than a u16 field. */
function push(subsamples: Subsample[], clearBytes: number, protectedBytes: number): void {
  while (clearBytes > MAX_CLEAR_RUN) {
    subsamples.push({ clearBytes: MAX_CLEAR_RUN, protectedBytes: 0 });
    clearBytes -= MAX_CLEAR_RUN;
  }
  if (clearBytes > 0 || protectedBytes > 0) subsamples.push({ clearBytes, protectedBytes });
}

/**
 * The subsample map of one length-prefixed sample. A VCL NAL with fewer than 16 bytes of slice
 * data stays clear (nothing a block cipher could cover). Clear runs between protected ones are
 * merged into the next subsample, so the map is as short as the layout allows.
 */
export function nalSubsamples(sample: Buffer, codec: NalCodec, scheme: SampleScheme): Subsample[] {
  const subsamples: Subsample[] = [];
  let clear = 0;
  let pos = 0;
  const lengthSize = codec.nalLengthSize;
  while (pos < sample.length) {
    if (pos + lengthSize > sample.length) throw malformed(`NAL length field cut off at ${pos} of a ${sample.length}-byte sample`);
    const nalLength = sample.readUIntBE(pos, lengthSize);
    const nalStart = pos + lengthSize;
    if (nalStart + nalLength > sample.length) throw malformed(`NAL unit of ${nalLength} bytes at ${pos} runs past its ${sample.length}-byte sample`);
    const nal = sample.subarray(nalStart, nalStart + nalLength);
    pos = nalStart + nalLength;
    const headerBytes = nalLength === 0 ? undefined : codec.vclClearBytes(nal);
    if (headerBytes === undefined) {
      clear += lengthSize + nalLength;
      continue;
    }
    let protectedBytes = nalLength - headerBytes;
    // 'cenc': whole blocks only; 'cbcs' leaves a trailing partial block clear by itself.
    if (scheme === 'cenc') protectedBytes -= protectedBytes % BLOCK;
    if (protectedBytes < BLOCK) protectedBytes = 0;
    if (protectedBytes === 0) {
      clear += lengthSize + nalLength;
      continue;
    }
    push(subsamples, clear + lengthSize + nalLength - protectedBytes, protectedBytes);
    clear = 0;
  }
  push(subsamples, clear, 0);
  return subsamples;
}
