import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/media.js';
import { ffmpeg } from '../helpers/media-tools.js';
import { browserUnavailable, launchBrowser, playerState, videoState, waitUntil, type Browser } from '../helpers/browser.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { TranscodeResult } from '../../src/core/result.js';

const unavailable = await browserUnavailable();
const PLAY_TIMEOUT_MS = 60_000;

describe('audio-only package in a real browser (Debian chromium via playwright-core)', { skip: unavailable, timeout: 300_000 }, () => {
  let cleanup: (() => Promise<void>) | undefined;
  let browser: Browser | undefined;
  let server: RunningServer | undefined;
  let result: TranscodeResult;

  before(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir('vidpipe-audio-browser-'));
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=5', '-ac', '2', '-c:a', 'flac', join(dir, 'tone.flac')]);
    const run = await runCli([
      'transcode', join(dir, 'tone.flac'), '--out', join(dir, 'out'), '--db', join(dir, 'db.sqlite'), '--json', '--progress', 'none',
      '--audio-ladder', '64', '--opus', '96', '--segment-duration', '2', '--no-thumbnails', '--concurrency', '2',
    ], { env: { VIDPIPE_WORK_DIR: join(dir, 'work') } });
    assert.equal(run.code, 0, run.stderr);
    result = JSON.parse(run.stdout) as TranscodeResult;
    server = await startServer({ dir: join(result.outputs.hls!, '..'), port: 0, host: '127.0.0.1' });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await cleanup?.();
  });

  for (const engine of ['hls', 'dash'] as const) {
    test(`${engine === 'hls' ? 'hls.js' : 'dash.js'} plays the audio-only package to its end`, async (t) => {
      const { page, consoleErrors } = await browser!.newPage();
      try {
        await page.goto(`${server!.url}?engine=${engine}`);
        const state = await waitUntil(
          async () => ({ media: await videoState(page), player: await playerState(page) }),
          (s) => s.player.errors.length > 0 || s.media.error !== null || s.media.currentTime > 4.5,
          PLAY_TIMEOUT_MS,
          `${engine} audio playback past 4.5 s`,
        );
        assert.deepEqual(state.player.errors, []);
        assert.equal(state.media.error, null);
        assert.ok(Math.abs(state.media.duration - 5) < 0.05, `duration ${state.media.duration}`);
        assert.deepEqual(consoleErrors, []);
        t.diagnostic(`${engine}: t=${state.media.currentTime.toFixed(2)} s of ${state.media.duration.toFixed(3)} s`);
      } finally {
        await page.close();
      }
    });
  }
});
