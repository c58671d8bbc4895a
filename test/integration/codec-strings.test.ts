/**
 * Codec strings and track facts from files real encoders wrote, checked against the expected
 * RFC 6381 shape and against what ffprobe reports for the same file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeInit, type InitDescription } from '../../src/media/codec-strings.js';
import { ffmpeg, probeStream, type ProbedStream } from '../helpers/media-tools.js';

let dir: string;
const VIDEO = ['-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=30:d=1'];
const MONO = ['-f', 'lavfi', '-i', 'sine=d=1:sample_rate=48000'];
const STEREO = [...MONO, '-ac', '2'];

async function encode(name: string, args: string[]): Promise<{ description: InitDescription; probe: ProbedStream }> {
  const path = join(dir, name);
  await ffmpeg([...args, path]);
  const description = describeInit(await readFile(path));
  const probe = await probeStream(path, 'codec_name,codec_tag_string,profile,level,width,height,channels,sample_rate,color_transfer');
  return { description, probe };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vidpipe-codecs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('codec strings from real encodes', () => {
  // Not ultrafast: it turns off CABAC and B-frames, and x264 then writes Constrained Baseline
  // (avc1.42c0xx) whatever -profile:v asks for.
  it('x264 High@3.0 → avc1.64001e', async () => {
    const { description, probe } = await encode('high.mp4', [...VIDEO, '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-level', '3.0', '-pix_fmt', 'yuv420p']);
    assert.equal(description.codecs, 'avc1.64001e');
    assert.deepEqual([probe.profile, probe.level], ['High', 30]);
    assert.deepEqual([description.codec, description.width, description.height], ['h264', probe.width, probe.height]);
  });

  it('x264 Main → avc1.4d…, level as ffprobe reports it', async () => {
    const { description, probe } = await encode('main.mp4', [...VIDEO, '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main']);
    assert.equal(probe.profile, 'Main');
    // x264 sets constraint_set1 for Main, so the middle byte is 40, not 00.
    assert.match(description.codecs, /^avc1\.4d[0-9a-f]{2}[0-9a-f]{2}$/);
    assert.equal(description.codecs.slice(-2), probe.level!.toString(16).padStart(2, '0'));
  });

  it('x265 Main tagged hvc1 → hvc1.1.6.L<level>.<constraints>', async () => {
    const { description, probe } = await encode('hevc.mp4', [...VIDEO, '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-tag:v', 'hvc1']);
    assert.equal(probe.profile, 'Main');
    assert.match(description.codecs, /^hvc1\.1\.6\.L\d+(\.[0-9A-F]{1,2})+$/);
    assert.equal(description.codecs.split('.')[3], `L${probe.level}`);
    assert.equal(description.codec, 'hevc');
  });

  it('x265 Main 10 untagged → hev1.2.4…, and a PQ colr → videoRange PQ', async () => {
    const { description, probe } = await encode('pq.mp4', [
      ...VIDEO,
      '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error', '-pix_fmt', 'yuv420p10le',
      '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc',
    ]);
    assert.deepEqual([probe.codec_tag_string, probe.profile, probe.color_transfer], ['hev1', 'Main 10', 'smpte2084']);
    assert.match(description.codecs, new RegExp(`^hev1\\.2\\.4\\.L${probe.level}(\\.[0-9A-F]{1,2})+$`));
    assert.equal(description.videoRange, 'PQ');
    assert.deepEqual(description.colour, { colourType: 'nclx', primaries: 9, transfer: 16, matrix: 9, fullRange: false });
  });

  it('SVT-AV1 8-bit → av01.0.<level>M.08', async () => {
    const { description, probe } = await encode('av1.mp4', [...VIDEO, '-c:v', 'libsvtav1', '-preset', '12']);
    assert.equal(probe.profile, 'Main');
    assert.equal(description.codecs, `av01.0.${String(probe.level).padStart(2, '0')}M.08`);
    assert.equal(description.codec, 'av1');
  });

  it('AAC-LC → mp4a.40.2 with the channel count of the stream, not of the sample entry', async () => {
    const mono = await encode('mono.mp4', [...MONO, '-c:a', 'aac']);
    assert.equal(mono.description.codecs, 'mp4a.40.2');
    assert.equal(mono.probe.profile, 'LC');
    assert.deepEqual([mono.description.channels, mono.description.sampleRate], [1, 48000]);
    assert.equal(mono.probe.channels, 1);
    const stereo = await encode('stereo.mp4', [...STEREO, '-c:a', 'aac']);
    assert.equal(stereo.description.channels, 2);
  });

  it('ffmpeg aac with -profile:a aac_he → mp4a.40.5', async () => {
    // ffmpeg 5.1's native encoder has no SBR: it relabels the config as AOT 5 over plain LC data,
    // and ffprobe then fails to open the stream. The string still reports what the config claims.
    const path = join(dir, 'he.mp4');
    await ffmpeg([...MONO, '-c:a', 'aac', '-profile:a', 'aac_he', path]);
    const description = describeInit(await readFile(path));
    assert.deepEqual([description.codecs, description.codec], ['mp4a.40.5', 'aac']);
  });

  it('libopus in mp4 → opus', async () => {
    const { description, probe } = await encode('opus.mp4', [...STEREO, '-c:a', 'libopus', '-b:a', '64k']);
    assert.equal(probe.codec_tag_string, 'Opus');
    assert.deepEqual([description.codecs, description.codec, description.channels, description.sampleRate], ['opus', 'opus', 2, 48000]);
  });
});
