/**
 * Resume never reuses segments encrypted under another key (#24). A job encrypting with a key
 * file is killed (SIGKILL) once all its tracks are packaged and encrypted; the key file is then
 * given another key for the same KID, and the same command runs again. The new run must not
 * resume the killed one's work (its resume key holds a hash of the loaded keys), and every
 * segment of every track it publishes decrypts with the new key (ffmpeg's decryptor, the joined
 * track decoded whole) and not with the old one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodedFrameCount, makeClip, runCli, tempDir, type CliRun } from '../helpers/media.js';
import { readPlaylist, resolveUri } from '../helpers/package-files.js';

const KID = '55555555555555555555555555555555';
const OLD_KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const NEW_KEY = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

/** Frames ffmpeg decodes from a track piped in with `-decryption_key`, and what it complained about. */
function decryptAndDecode(track: Buffer, key: string): Promise<{ frames: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-decryption_key', key, '-i', 'pipe:0', '-map', '0', '-f', 'framemd5', '-'], { timeout: 120_000 });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', () => resolve({ frames: out.split('\n').filter((line) => /^\d+,/.test(line)).length, stderr }));
    child.stdin.end(track);
  });
}

describe('a resumed encrypted job with another key', { timeout: 600_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;
  let killed: CliRun;
  let rerun: CliRun;
  const args = () => [
    'transcode', source, '--out', join(dir, 'out'), '--name', 'clip', '--db', join(dir, 'meta.db'), '--work-dir', join(dir, 'work'),
    '--concurrency', '2', '--ladder', '144p,90p', '--preset', 'ultrafast', '--segment-duration', '2', '--no-thumbnails', '--progress', 'plain',
    '--encrypt', 'cbcs', '--key-file', join(dir, 'keys.txt'),
  ];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-resume-encrypt-'));
    source = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 4 });
    await writeFile(join(dir, 'keys.txt'), `${KID}:${OLD_KEY}\n`);
    let armed = false;
    killed = await runCli(args(), {
      onStderr: (text, child) => {
        if (armed || !/Package CMAF segments: done/.test(text)) return;
        armed = true;
        child.kill('SIGKILL');
      },
    });
    await writeFile(join(dir, 'keys.txt'), `${KID}:${NEW_KEY}\n`);
    rerun = await runCli([...args(), '--json']);
  });
  after(async () => cleanup?.());

  it('the first run was killed with its tracks encrypted under the old key, before publishing', () => {
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assert.doesNotMatch(killed.stderr, /Publish: done/);
  });

  it('the run with the new key does not resume that work', () => {
    assert.equal(rerun.code, 0, rerun.stderr);
    const result = JSON.parse(rerun.stdout);
    assert.equal(result.status, 'succeeded');
    assert.equal(result.resumed, undefined, `resumed: ${JSON.stringify(result.resumed)}`);
  });

  it('every segment of every track decrypts with the new key, none with the old', async () => {
    const masterPath = join(dir, 'out', 'clip', 'master.m3u8');
    const master = await readPlaylist(masterPath);
    const playlists = new Set<string>([
      ...master.variants.filter((variant: any) => !variant.isIFrameOnly).map((variant: any) => variant.uri),
      ...master.variants.flatMap((variant: any) => variant.audio.map((audio: any) => audio.uri)),
    ]);
    assert.equal(playlists.size, 3, [...playlists].join(' '));
    const sourceFrames = await decodedFrameCount(source);
    for (const uri of playlists) {
      const path = resolveUri(masterPath, uri);
      const playlist = await readPlaylist(path);
      const parts = [playlist.segments[0].map.uri, ...playlist.segments.map((segment: any) => segment.uri)];
      const track = Buffer.concat(await Promise.all(parts.map((part: string) => readFile(resolveUri(path, part)))));
      const right = await decryptAndDecode(track, NEW_KEY);
      assert.equal(right.stderr, '', `${uri} with the new key`);
      if (uri.includes('video')) assert.equal(right.frames, sourceFrames, `${uri}: every frame`);
      else assert.ok(right.frames > 100, `${uri}: ${right.frames} audio frames`);
      const wrong = await decryptAndDecode(track, OLD_KEY);
      assert.notEqual(wrong.stderr, '', `${uri} does not decode with the old key`);
    }
  });
});
