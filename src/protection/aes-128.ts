/**
 * HLS `METHOD=AES-128` (RFC 8216 §4.3.2.4, §5.2): each segment file (MPEG-TS or fMP4) encrypted
 * whole with AES-128-CBC and PKCS7 padding, the chain restarted per segment with its IV.
 */
import { createCipheriv } from 'node:crypto';
import { VidpipeError } from '../errors.js';

/**
 * The IV a playlist without an IV attribute implies: the segment's Media Sequence Number,
 * big-endian in 16 bytes (RFC 8216 §5.2).
 */
export function mediaSequenceIv(mediaSequenceNumber: number): Buffer {
  if (!Number.isSafeInteger(mediaSequenceNumber) || mediaSequenceNumber < 0) {
    throw new VidpipeError('INTERNAL', `not a media sequence number: ${mediaSequenceNumber}`);
  }
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(mediaSequenceNumber), 8);
  return iv;
}

/** The whole file, AES-128-CBC with PKCS7 padding: always 1–16 bytes longer, a multiple of 16. */
export function encryptAes128Segment(segment: Buffer, key: Buffer, iv: Buffer): Buffer {
  if (key.length !== 16) throw new VidpipeError('USAGE', `an AES-128 key is 16 bytes, not ${key.length}`);
  if (iv.length !== 16) throw new VidpipeError('INTERNAL', `an AES-128 IV is 16 bytes, not ${iv.length}`);
  const cipher = createCipheriv('aes-128-cbc', key, iv);
  return Buffer.concat([cipher.update(segment), cipher.final()]);
}

/** The `IV=0x…` attribute value of an EXT-X-KEY tag. */
export function ivAttribute(iv: Buffer): string {
  return `0x${iv.toString('hex').toUpperCase()}`;
}
