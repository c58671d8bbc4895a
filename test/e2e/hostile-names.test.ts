/**
 * File names crafted by strangers, through the real CLI: a name that looks like an option is
 * never taken for one, and `--` ends the options.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeClip, runCli, tempDir } from '../helpers/media.js';

describe('names that look like options', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const names = ['-version.mp4', '-x.mp4', '-vfoo', '-hx', '-out.mp4'];
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-dash-names-'));
    const clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90, rate: '15', audio: false });
    for (const name of names) await copyFile(clip, join(dir, name));
  });
  after(() => cleanup());

  it('are refused with exit 2 and a hint, nothing written, for transcode, validate and with no command', async () => {
    for (const name of names) {
      for (const argv of [['transcode', name, '--out', 'out', '--db', 'x.db'], ['transcode', 'clip.mp4', name, '--out', 'out', '--db', 'x.db'], ['validate', name], [name]]) {
        const run = await runCli(argv, { cwd: dir });
        assert.equal(run.code, 2, `${argv.join(' ')}: ${run.stdout}${run.stderr}`);
        assert.equal(run.stdout, '', `${argv.join(' ')} printed on stdout (the version?)`);
        assert.match(run.stderr, new RegExp(`'${name}' is not an option`), argv.join(' '));
        assert.ok(run.stderr.includes(`./${name}`) && run.stderr.includes(`-- ${name}`), run.stderr);
      }
    }
    assert.ok(!existsSync(join(dir, 'out')), 'nothing published');
    assert.ok(!existsSync(join(dir, 'x.db')), 'no database written');
  });

  it('after --, or written ./-name, are transcoded', async () => {
    const run = await runCli(['transcode', '--out', 'out', '--db', 'x.db', '--ladder', '90p', '--no-thumbnails', '--json', '--', '-version.mp4', '-vfoo'], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const results = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { input: string; status: string });
    assert.deepEqual(results.map((r) => [r.input, r.status]), [['-version.mp4', 'succeeded'], ['-vfoo', 'succeeded']]);
    const dotted = await runCli(['transcode', './-hx', '--out', 'out', '--db', 'x.db', '--ladder', '90p', '--no-thumbnails', '--json'], { cwd: dir });
    assert.equal(dotted.code, 0, dotted.stderr);
    assert.equal((await readdir(join(dir, 'out'))).length, 3);
  });
});
