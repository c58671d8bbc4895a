/**
 * Encrypting one sample in place under the two Common Encryption schemes vidpipe writes
 * (ISO/IEC 23001-7 §10.1 'cenc', §10.4 'cbcs').
 */
import { createCipheriv } from 'node:crypto';
import type { Subsample } from './subsamples.js';

const BLOCK = 16;

/** The 1:9 pattern of 'cbcs' video, or 0:0 (every whole block) for full-sample encryption. */
export interface Pattern {
  cryptBlocks: number;
  skipBlocks: number;
}

export const VIDEO_PATTERN: Pattern = { cryptBlocks: 1, skipBlocks: 9 };
export const NO_PATTERN: Pattern = { cryptBlocks: 0, skipBlocks: 0 };

/** The whole sample as one protected range (audio: no subsamples). */
function wholeSample(sample: Buffer): Subsample[] {
  return [{ clearBytes: 0, protectedBytes: sample.length }];
}

/**
 * 'cenc': AES-128-CTR, the 8-byte IV in the counter block's first half and a block counter in
 * the second; the protected ranges of one sample form one keystream (§10.1).
 */
export function encryptCencSample(sample: Buffer, key: Buffer, iv: Buffer, subsamples?: Subsample[]): void {
  const counter = Buffer.alloc(BLOCK);
  iv.copy(counter);
  const ranges = subsamples ?? wholeSample(sample);
  const cipher = createCipheriv('aes-128-ctr', key, counter);
  let pos = 0;
  for (const { clearBytes, protectedBytes } of ranges) {
    pos += clearBytes;
    if (protectedBytes > 0) {
      const range = sample.subarray(pos, pos + protectedBytes);
      cipher.update(range).copy(range);
    }
    pos += protectedBytes;
  }
  cipher.final();
}

/**
 * 'cbcs': AES-128-CBC restarted with the constant IV at every protected range; within a range
 * the pattern encrypts `cryptBlocks` blocks and skips `skipBlocks` (0:0: every whole block), the
 * chain running through the encrypted blocks only, a trailing partial block left clear (§10.4.2).
 */
export function encryptCbcsSample(sample: Buffer, key: Buffer, constantIv: Buffer, pattern: Pattern, subsamples?: Subsample[]): void {
  const ranges = subsamples ?? wholeSample(sample);
  let pos = 0;
  for (const { clearBytes, protectedBytes } of ranges) {
    pos += clearBytes;
    if (protectedBytes >= BLOCK) encryptCbcsRange(sample.subarray(pos, pos + protectedBytes), key, constantIv, pattern);
    pos += protectedBytes;
  }
}

function encryptCbcsRange(range: Buffer, key: Buffer, iv: Buffer, pattern: Pattern): void {
  const blocks = Math.floor(range.length / BLOCK);
  const period = pattern.cryptBlocks + pattern.skipBlocks;
  const crypt = pattern.cryptBlocks === 0 ? blocks : pattern.cryptBlocks;
  // The blocks the pattern picks, gathered so one CBC pass chains them, then put back.
  const picked: number[] = [];
  for (let block = 0; block < blocks; block++) {
    if (period === 0 || block % period < crypt) picked.push(block);
  }
  const plain = Buffer.alloc(picked.length * BLOCK);
  picked.forEach((block, i) => range.copy(plain, i * BLOCK, block * BLOCK, (block + 1) * BLOCK));
  const cipher = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  picked.forEach((block, i) => encrypted.copy(range, block * BLOCK, i * BLOCK, (i + 1) * BLOCK));
}
