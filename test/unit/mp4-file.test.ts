import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVidpipeError } from '../../src/errors.js';
import { countVideoSamples, readIndexBoxes, readVideoSamples } from '../../src/media/mp4-file.js';
import { audioSampleEntry, box, cmafFragment, ftypBox, largeBox, movieBox, u32, visualSampleEntry, type TrackSpec } from '../helpers/mp4-build.js';

const video = (sampleSizes: number[] | undefined, extra: Partial<TrackSpec> = {}): TrackSpec => ({
  trackId: 1,
  handler: 'vide',
  timescale: 15360,
  sampleEntry: visualSampleEntry('avc1', 320, 180),
  displaySize: [320, 180],
  sampleSizes,
  ...extra,
});
const audio = (sampleSizes: number[], trackId = 2): TrackSpec => ({ trackId, handler: 'soun', timescale: 48000, sampleEntry: audioSampleEntry('mp4a', 2, 48000, []), sampleSizes });
const fragment = (sequence: number, samples: number, trackId = 1) =>
  cmafFragment({ sequence, trackId, baseMediaDecodeTime: sequence * 1000, samples: Array.from({ length: samples }, (_, i) => ({ duration: 512, size: 10 + i, sync: i === 0 })) });
const mdat = (bytes: number) => box('mdat', Buffer.alloc(bytes, 7));

let dir: string;
let n = 0;
async function file(...parts: Buffer[]): Promise<string> {
  const path = join(dir, `f${n++}.mp4`);
  await writeFile(path, Buffer.concat(parts));
  return path;
}
const isMalformed = (error: unknown) => isVidpipeError(error) && /malformed MP4/.test(error.message);

describe('countVideoSamples', () => {
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'vidpipe-mp4-file-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('counts the sample table of a file with its index after the media data (ffmpeg without faststart)', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), mdat(5000), movieBox([video([900, 200, 300, 250, 120, 80, 60])]))), 7);
  });

  it('counts the sample table of a file with its index first (faststart)', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), movieBox([video([1, 2, 3])]), mdat(6))), 3);
  });

  it('reads a compact (stz2) sample size table', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), movieBox([video([4, 5, 6, 7, 8], { compactSizes: true })]), mdat(30))), 5);
  });

  it('counts the first video track, not the audio track listed before it', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), mdat(100), movieBox([audio([5, 5, 5, 5, 5, 5, 5, 5, 5, 5], 1), video([1, 2, 3, 4], { trackId: 2 })]))), 4);
  });

  it('sums the runs of every fragment of the video track (fragmented MP4), skipping other tracks', async () => {
    const path = await file(ftypBox(), movieBox([video(undefined), audio([])]), fragment(1, 4), fragment(2, 6, 2), fragment(3, 4), fragment(4, 2));
    assert.equal(await countVideoSamples(path), 10);
  });

  it('adds fragments to the samples already in the sample table', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), movieBox([video([3, 3, 3])]), mdat(9), fragment(1, 2))), 5);
  });

  it('walks past a media data box with a 64-bit size', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), largeBox('mdat', Buffer.alloc(64)), movieBox([video([8, 8])]))), 2);
  });

  it('says undefined for a file that is not an MP4, or has no video track', async () => {
    const matroska = Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01, 0x42, 0xf7, 0x81, 0x01, 0x42, 0xf2, 0x81]);
    assert.equal(await countVideoSamples(await file(matroska)), undefined);
    assert.equal(await countVideoSamples(await file(ftypBox(), movieBox([audio([1, 2])]), mdat(3))), undefined);
  });

  it('refuses a cut-off file and one without an index', async () => {
    const whole = Buffer.concat([ftypBox(), movieBox([video([100, 100])]), mdat(200)]);
    await assert.rejects(countVideoSamples(await file(whole.subarray(0, whole.length - 50))), isMalformed);
    await assert.rejects(countVideoSamples(await file(ftypBox(), mdat(200))), isMalformed);
  });

  it('adds up the video samples\' bytes from stsz, stz2 and fragment runs, not the audio track\'s', async () => {
    assert.deepEqual(await readVideoSamples(await file(ftypBox(), mdat(5000), movieBox([audio([9, 9], 1), video([900, 200, 300], { trackId: 2 })]))), { count: 3, bytes: 1400 });
    assert.deepEqual(await readVideoSamples(await file(ftypBox(), movieBox([video([4, 5, 6, 7, 8], { compactSizes: true })]), mdat(30))), { count: 5, bytes: 30 });
    // Fragment runs of 4 and 2 samples sized 10, 11, … each; the audio track's fragment is not counted.
    const fragmented = await file(ftypBox(), movieBox([video([3, 3, 3]), audio([])]), mdat(9), fragment(1, 4), fragment(2, 6, 2), fragment(3, 2));
    assert.deepEqual(await readVideoSamples(fragmented), { count: 3 + 4 + 2, bytes: 9 + (10 + 11 + 12 + 13) + (10 + 11) });
  });

  it('loads the index boxes only, whatever the size of the media data', async () => {
    const boxes = await readIndexBoxes(await file(ftypBox(), mdat(1 << 20), movieBox([video([1 << 20])])));
    assert.deepEqual(boxes?.map((b) => [b.box.type, b.buf.length > 0]), [['ftyp', false], ['mdat', false], ['moov', true]]);
    assert.equal(boxes?.[1]!.box.end, boxes?.[2]!.fileOffset);
  });

  it('ignores a few stray bytes after the last box', async () => {
    assert.equal(await countVideoSamples(await file(ftypBox(), movieBox([video([1])]), mdat(1), u32(0))), 1);
  });
});
