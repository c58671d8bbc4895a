/**
 * `vidpipe doctor` through the real CLI: the pair of binaries, SQLite actually opening a
 * database, and what it says when either is wrong.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, runCli, tempDir, VIDPIPE_BIN } from '../helpers/media.js';

/** ffprobe 4.0.2 from ffprobe-static (a devDependency): a real ffprobe of another release than the system's ffmpeg. */
const OLD_FFPROBE = join(REPO_ROOT, 'node_modules', 'ffprobe-static', 'bin', process.platform, process.arch, 'ffprobe');

/**
 * A copy of the built CLI whose better-sqlite3 has no native binary, as an install whose
 * binary was never fetched or built: every other dependency is linked from node_modules.
 */
async function installWithoutSqliteBinary(dir: string): Promise<string> {
  const root = join(dir, 'broken-install');
  await mkdir(join(root, 'node_modules'), { recursive: true });
  await cp(join(REPO_ROOT, 'bin'), join(root, 'bin'), { recursive: true });
  await cp(join(REPO_ROOT, 'dist', 'src'), join(root, 'dist', 'src'), { recursive: true });
  await cp(join(REPO_ROOT, 'package.json'), join(root, 'package.json'));
  for (const name of await readdir(join(REPO_ROOT, 'node_modules'))) {
    if (name === 'better-sqlite3' || name.startsWith('.')) continue;
    await symlink(join(REPO_ROOT, 'node_modules', name), join(root, 'node_modules', name));
  }
  const sqlite = join(REPO_ROOT, 'node_modules', 'better-sqlite3');
  for (const part of ['package.json', 'lib']) await cp(join(sqlite, part), join(root, 'node_modules', 'better-sqlite3', part), { recursive: true });
  return join(root, 'bin', 'vidpipe');
}

describe('vidpipe doctor', { timeout: 120_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir('vidpipe-doctor-')));
  after(async () => cleanup());

  it('reports one ffmpeg/ffprobe release and a working SQLite', async () => {
    const r = await runCli(['doctor', '--json', '--db', join(dir, 'x.db')]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ffmpeg.version, report.ffprobe.version);
    assert.deepEqual(report.warnings, []);
    assert.equal(report.sqlite.ok, true);
    assert.match(report.sqlite.version, /^3\.\d+\.\d+$/);
    assert.equal(existsSync(join(dir, 'x.db')), false, 'doctor does not create the database it reports');
  });

  it('warns (exit 0) when ffmpeg and ffprobe are different releases', { skip: !existsSync(OLD_FFPROBE) && 'no ffprobe-static binary for this platform' }, async () => {
    const r = await runCli(['doctor', '--ffprobe', OLD_FFPROBE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ffprobe +\S+ \(from the command line\) version 4\.0\.2/);
    assert.match(r.stderr, /warning: ffmpeg \S+ and ffprobe 4\.0\.2\S* are different releases/);
  });

  it('fails (exit 1) when SQLite cannot open a database, as `vidpipe list` would', async () => {
    const bin = await installWithoutSqliteBinary(dir);
    assert.notEqual(bin, VIDPIPE_BIN);
    const doctor = await runCli(['doctor', '--json'], { bin });
    assert.equal(doctor.code, 1, doctor.stderr);
    const report = JSON.parse(doctor.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.sqlite.ok, false);
    assert.match(report.sqlite.error, /better_sqlite3\.node|linux-x64\.node|Cannot find module|bindings/i);
    assert.match(doctor.stderr, /SQLite does not work/);
    const list = await runCli(['list', '--db', join(dir, 'list.db')], { bin });
    assert.equal(list.code, 1, 'the failure doctor predicts');
  });
});
