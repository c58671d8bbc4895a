/**
 * `--download` (end to end): download.mp4 in the published release is the top H.264 rung's
 * packets, untouched, with the default audio, moov before mdat, as long as the package, and
 * named by the --json result, `vidpipe show`, the database and the `serve` page. Jobs that
 * cannot have one are refused before anything is written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { ffprobeJson, makeClip, runCli, tempDir } from '../helpers/media.js';
import { joinCmafTrack, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { describePackage } from '../../src/serve/package-layout.js';
import { renderPlayerPage } from '../../src/serve/page.js';

const exec = promisify(execFile);

/** The file's top-level box types, in order, read from their headers. */
async function topLevelBoxes(path: string): Promise<string[]> {
  const file = await open(path, 'r');
  try {
    const size = (await file.stat()).size;
    const types: string[] = [];
    for (let pos = 0; pos < size; ) {
      const head = Buffer.alloc(16);
      await file.read(head, 0, 16, pos);
      let boxSize = head.readUInt32BE(0);
      if (boxSize === 1) boxSize = Number(head.readBigUInt64BE(8));
      else if (boxSize === 0) boxSize = size - pos;
      assert.ok(boxSize >= 8 && pos + boxSize <= size, `box at ${pos} of ${boxSize} bytes fits the file`);
      types.push(head.toString('latin1', 4, 8));
      pos += boxSize;
    }
    return types;
  } finally {
    await file.close();
  }
}

/** Each packet's size and MD5 of its data, in order (framemd5 of a stream copy: no decode). */
async function packetHashes(path: string, stream: string): Promise<string[]> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-i', path, '-map', `0:${stream}:0`, '-c', 'copy', '-f', 'framemd5', '-'], { maxBuffer: 64 * 1024 * 1024 });
  // #-lines are headers; columns: stream, dts, pts, duration, size, hash, then side data (the
  // audio's priming to skip, which the edit list of download.mp4 states and a CMAF track's does not).
  return stdout.split('\n').filter((line) => line && !line.startsWith('#')).map((line) => line.split(',').slice(4, 6).map((s) => s.trim()).join(' '));
}

describe('--download (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let result: any;
  let download: string;

  before(async () => {
    fixture = await transcodeFixture(
      (folder) => makeClip(join(folder, 'clip.mp4'), { durationSeconds: 4, width: 320, height: 180, rate: '30' }),
      ['--no-thumbnails', '--ladder', '90p,144p', '--preset', 'ultrafast', '--segment-duration', '2', '--download'],
    );
    result = fixture.result;
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
    download = result.outputs.download;
  });
  after(async () => fixture.cleanup());

  it('names download.mp4 in the release of the --json result, and publishes it there', async () => {
    assert.equal(typeof download, 'string', JSON.stringify(result.outputs));
    assert.equal(relative(result.outputs.root, download), 'download.mp4');
    assert.ok((await stat(download)).size > 0);
  });

  it('holds one H.264 stream at the top rung\'s size and one audio stream, as long as the package', async () => {
    const top = result.renditions.filter((r: any) => r.kind === 'video' && r.codec === 'h264').sort((a: any, b: any) => b.width * b.height - a.width * a.height)[0];
    assert.deepEqual([top.width, top.height], [256, 144]);
    const probe = await ffprobeJson(['-show_entries', 'stream=codec_type,codec_name,width,height,duration:format=duration', download]);
    const video = probe.streams.filter((s: any) => s.codec_type === 'video');
    const audio = probe.streams.filter((s: any) => s.codec_type === 'audio');
    assert.equal(probe.streams.length, 2, JSON.stringify(probe.streams));
    assert.equal(video.length, 1);
    assert.equal(audio.length, 1);
    assert.deepEqual([video[0].codec_name, video[0].width, video[0].height], ['h264', top.width, top.height]);
    assert.equal(audio[0].codec_name, 'aac');
    const frame = 1 / 30;
    for (const duration of [probe.format.duration, video[0].duration, audio[0].duration]) {
      assert.ok(Math.abs(Number(duration) - result.durationSeconds) <= frame + 1e-6, `duration ${duration} s within one frame of the package's ${result.durationSeconds} s`);
    }
  });

  it('is progressive: moov comes before mdat', async () => {
    const boxes = await topLevelBoxes(download);
    assert.ok(boxes.includes('moov') && boxes.includes('mdat'), boxes.join(','));
    assert.ok(boxes.indexOf('moov') < boxes.indexOf('mdat'), `top-level boxes: ${boxes.join(', ')}`);
  });

  it('carries the top rung\'s and the default audio\'s packets byte for byte (a remux, no encode)', async () => {
    const rung = await joinCmafTrack(join(result.outputs.root, 'video/h264-144p/index.m3u8'), join(fixture.dir, 'rung.mp4'));
    const rungPackets = await packetHashes(rung, 'v');
    assert.equal(rungPackets.length, 120);
    assert.deepEqual(await packetHashes(download, 'v'), rungPackets);
    const audioPlaylist = result.renditions.find((r: any) => r.kind === 'audio' && r.codec === 'aac').playlist;
    const audio = await joinCmafTrack(join(result.outputs.root, audioPlaylist), join(fixture.dir, 'audio.mp4'));
    assert.deepEqual(await packetHashes(download, 'a'), await packetHashes(audio, 'a'));
  });

  it('is listed by `vidpipe show` and recorded with its hash in the database', async () => {
    const db = join(fixture.dir, 'meta.db');
    const shown = await runCli(['show', result.id, '--db', db]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`download\\s+${download.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const json = await runCli(['show', result.id, '--db', db, '--json']);
    assert.equal(JSON.parse(json.stdout).latestJob.outputs.download, download);
    const database = new Database(db, { readonly: true });
    try {
      const row = database.prepare("SELECT bytes, sha256 FROM outputs WHERE job_id = ? AND key = 'download.mp4'").get(result.jobId) as { bytes: number; sha256: string } | undefined;
      assert.equal(row?.bytes, (await stat(download)).size);
      assert.match(row?.sha256 ?? '', /^[0-9a-f]{64}$/);
    } finally {
      database.close();
    }
  });

  it('is linked on the `serve` page of the package', async () => {
    const layout = await describePackage(result.package.root, '/');
    const href = `/${relative(result.package.root, download)}`;
    assert.equal(layout.download, href);
    assert.ok(renderPlayerPage(layout).includes(`<a href="${href}" download>`));
  });

  it('passes vidpipe validate', async () => {
    const validated = await runCli(['validate', result.package.root]);
    assert.equal(validated.code, 0, validated.stdout + validated.stderr);
  });
});

describe('--download refused where there is no H.264 picture', { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 1 });
  });
  after(async () => cleanup());

  for (const [label, args, message] of [
    ['an audio-only job', ['--audio-only'], /--download needs video/],
    ['a ladder without H.264', ['--codecs', 'av1'], /--download needs h264 in --codecs/],
  ] as const) {
    it(`refuses ${label} with exit 2, writing nothing`, async () => {
      const out = join(dir, `out-${args[0]!.slice(2)}`);
      const run = await runCli(['transcode', join(dir, 'clip.mp4'), '--out', out, '--db', join(dir, 'meta.db'), '--download', ...args]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
      assert.ok(!existsSync(out), `${out} not written`);
    });
  }
});

