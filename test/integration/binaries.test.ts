/**
 * Which ffmpeg/ffprobe pair a run uses, with real executables laid out in temporary folders
 * (links to the machine's ffmpeg and ffprobe) standing for a custom build, the packaged npm
 * binaries and PATH.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ffprobeBeside, resolveBinaries } from '../../src/ffmpeg/binaries.js';
import { detectCapabilities } from '../../src/ffmpeg/capabilities.js';
import { tempDir } from '../helpers/media.js';

/** Absolute path of a command on this machine's PATH. */
const which = (name: string) => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();

describe('ffmpeg and ffprobe come from one place', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  /** Folders holding links named ffmpeg / ffprobe (or only one of them). */
  const folder = async (name: string, binaries: ('ffmpeg' | 'ffprobe')[]) => {
    const path = join(dir, name);
    await mkdir(path, { recursive: true });
    for (const binary of binaries) await symlink(which(binary), join(path, binary));
    return path;
  };
  let custom: string;
  let lonely: string;
  let packaged: string;
  let probeOnly: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-binaries-'));
    custom = await folder('custom/bin', ['ffmpeg', 'ffprobe']);
    lonely = await folder('lonely', ['ffmpeg']);
    packaged = await folder('packaged', ['ffmpeg', 'ffprobe']);
    probeOnly = await folder('probe-only', ['ffprobe']);
  });
  after(async () => cleanup());

  it('takes the ffprobe beside a given ffmpeg over the packaged one', async () => {
    const binaries = await resolveBinaries({ ffmpeg: join(custom, 'ffmpeg') }, process.env, { ffprobe: join(packaged, 'ffprobe') });
    assert.deepEqual(binaries, { ffmpeg: join(custom, 'ffmpeg'), ffmpegSource: 'flag', ffprobe: join(custom, 'ffprobe'), ffprobeSource: 'beside-ffmpeg' });
    const fromEnv = await resolveBinaries({}, { ...process.env, VIDPIPE_FFMPEG: join(custom, 'ffmpeg') }, {});
    assert.equal(fromEnv.ffprobe, join(custom, 'ffprobe'));
    assert.equal(fromEnv.ffmpegSource, 'env');
  });

  it('falls back to the ffprobe on PATH, then to the packaged one, when none is beside a given ffmpeg', async () => {
    const withPath = await resolveBinaries({ ffmpeg: join(lonely, 'ffmpeg') }, process.env, { ffprobe: join(packaged, 'ffprobe') });
    assert.equal(withPath.ffprobe, 'ffprobe');
    assert.equal(withPath.ffprobeSource, 'path');
    const noPath = await resolveBinaries({ ffmpeg: join(lonely, 'ffmpeg') }, { PATH: lonely }, { ffprobe: join(packaged, 'ffprobe') });
    assert.equal(noPath.ffprobe, join(packaged, 'ffprobe'));
    assert.equal(noPath.ffprobeSource, 'packaged');
  });

  it('uses the packaged pair only when both are installed, else the system pair', async () => {
    const pair = await resolveBinaries({}, process.env, { ffmpeg: join(packaged, 'ffmpeg'), ffprobe: join(packaged, 'ffprobe') });
    assert.deepEqual(pair, { ffmpeg: join(packaged, 'ffmpeg'), ffmpegSource: 'packaged', ffprobe: join(packaged, 'ffprobe'), ffprobeSource: 'packaged' });
    const halfPackaged = await resolveBinaries({}, process.env, { ffmpeg: join(packaged, 'ffmpeg') });
    assert.deepEqual(halfPackaged, { ffmpeg: 'ffmpeg', ffmpegSource: 'path', ffprobe: 'ffprobe', ffprobeSource: 'path' });
  });

  it('on PATH, pairs ffmpeg with the ffprobe in its own folder', async () => {
    // probe-only comes first: its ffprobe is what PATH alone would pick, but it is not ffmpeg's.
    const binaries = await resolveBinaries({}, { PATH: `${probeOnly}:${custom}` }, {});
    assert.deepEqual(binaries, { ffmpeg: 'ffmpeg', ffmpegSource: 'path', ffprobe: join(custom, 'ffprobe'), ffprobeSource: 'beside-ffmpeg' });
    assert.equal(ffprobeBeside('ffmpeg', { PATH: `${probeOnly}:${custom}` }), join(custom, 'ffprobe'));
  });

  it('asks each binary for its version once: finding it and reading its capabilities share the answer', async () => {
    // Wrappers that note each run, then run the real tool.
    const logged = join(dir, 'logged');
    await mkdir(logged, { recursive: true });
    const runs = join(dir, 'runs.log');
    for (const name of ['ffmpeg', 'ffprobe']) {
      await writeFile(join(logged, name), `#!/bin/sh\necho "${name} $*" >> '${runs}'\nexec '${which(name)}' "$@"\n`);
      await chmod(join(logged, name), 0o755);
    }
    const binaries = await resolveBinaries({ ffmpeg: join(logged, 'ffmpeg') }, process.env, {});
    const capabilities = await detectCapabilities(binaries);
    assert.match(capabilities.ffmpegVersion, /\d/);
    assert.match(capabilities.ffprobeVersion, /\d/);
    assert.ok(capabilities.encoders.has('libx264'));
    const lines = (await readFile(runs, 'utf8')).trim().split('\n');
    assert.deepEqual(lines.filter((line) => line.includes('-version')).sort(), ['ffmpeg -hide_banner -version', 'ffprobe -hide_banner -version']);
  });

  it('says what to install when there is no ffprobe at all', async () => {
    await assert.rejects(resolveBinaries({ ffmpeg: join(lonely, 'ffmpeg') }, { PATH: lonely }, {}), (error: Error & { hint?: string }) => {
      assert.match(error.message, /ffprobe was not found/);
      assert.match(error.hint ?? '', /--ffprobe PATH/);
      return true;
    });
  });
});
