import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, runCli, tempDir, VIDPIPE_BIN } from '../helpers/media.js';

test('`vidpipe serve` prints its URL, serves the package, and stops cleanly on Ctrl-C', async () => {
  const { dir, cleanup } = await tempDir('vidpipe-serve-cli-');
  try {
    await writeFile(join(dir, 'master.m3u8'), '#EXTM3U\n');
    const child = spawn(process.execPath, [VIDPIPE_BIN, 'serve', dir, '--port', '0'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const match = /serving .* at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on('exit', () => reject(new Error(`exited early: ${stderr}`)));
    });
    const res = await fetch(new URL('master.m3u8', url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(await res.text(), '#EXTM3U\n');
    const page = await (await fetch(url)).text();
    assert.match(page, /vidpipePlayer|vp-video/);

    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /server stopped/);
    await assert.rejects(fetch(url), 'nothing listens any more');

    const missing = await runCli(['serve', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /is not a folder/);
  } finally {
    await cleanup();
  }
});
