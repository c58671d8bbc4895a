/**
 * The raw byte sequence payload (RBSP) of an H.264/HEVC NAL unit and an Exp-Golomb reader
 * over it. Slice headers are parsed on the RBSP (emulation prevention bytes removed), but
 * subsample sizes count bytes of the NAL as stored, so the unescaping keeps where it removed
 * bytes to map a header length back.
 */
import { BitReader, malformed } from '../media/mp4-boxes.js';

export interface Rbsp {
  bytes: Buffer;
  /** Offsets in the NAL (as stored) of every emulation prevention byte removed, ascending. */
  removedAt: number[];
}

/** Removes each 0x03 that follows two zero bytes (ITU-T H.264 §7.4.1, H.265 §7.4.2). */
export function unescapeRbsp(nal: Buffer): Rbsp {
  const out = Buffer.alloc(nal.length);
  const removedAt: number[] = [];
  let zeros = 0;
  let length = 0;
  for (let i = 0; i < nal.length; i++) {
    const byte = nal[i]!;
    if (zeros >= 2 && byte === 0x03) {
      removedAt.push(i);
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[length++] = byte;
  }
  return { bytes: out.subarray(0, length), removedAt };
}

/** How many bytes of the stored NAL hold the first `rbspBytes` bytes of its RBSP. */
export function storedLength(rbsp: Rbsp, rbspBytes: number): number {
  let stored = rbspBytes;
  for (const at of rbsp.removedAt) {
    if (at < stored) stored++;
    else break;
  }
  return stored;
}

/** Bit reader with the ue(v)/se(v) Exp-Golomb codes of the H.26x syntax tables. */
export class ExpGolombReader {
  private readonly bits: BitReader;
  private readonly totalBits: number;

  constructor(bytes: Buffer) {
    this.bits = new BitReader(bytes);
    this.totalBits = bytes.length * 8;
  }

  /** Bits read so far. */
  get position(): number {
    return this.totalBits - this.bits.remaining;
  }

  u(count: number): number {
    return count === 0 ? 0 : this.bits.read(count);
  }

  flag(): boolean {
    return this.bits.read(1) === 1;
  }

  skip(count: number): void {
    while (count > 0) {
      const step = Math.min(count, 24);
      this.bits.read(step);
      count -= step;
    }
  }

  ue(): number {
    let leadingZeros = 0;
    while (this.bits.read(1) === 0) {
      if (++leadingZeros > 31) throw malformed('Exp-Golomb code longer than 32 bits');
    }
    return 2 ** leadingZeros - 1 + this.u(leadingZeros);
  }

  se(): number {
    const code = this.ue();
    return code % 2 === 1 ? (code + 1) / 2 : -(code / 2);
  }
}

/** Ceil(Log2(n)) as the H.26x specs use it for fixed-length index fields. */
export function ceilLog2(n: number): number {
  let bits = 0;
  while (2 ** bits < n) bits++;
  return bits;
}
