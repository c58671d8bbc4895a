import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { ARTIFACTS_DIR, browserUnavailable, launchBrowser, playerState, videoState, waitUntil, type Browser, type PlayerState } from '../helpers/browser.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { TranscodeResult } from '../../src/core/result.js';
import type { PlayerEngine } from '../../src/serve/player-assets.js';

const run = promisify(execFile);
const unavailable = await browserUnavailable();
const PLAY_TIMEOUT_MS = 60_000;

let dir: string;
let cleanup: (() => Promise<void>) | undefined;
let browser: Browser | undefined;
const servers: RunningServer[] = [];

async function transcode(input: string, out: string, extra: string[]): Promise<TranscodeResult> {
  const result = await runCli(['transcode', input, '--out', out, '--db', join(dir, 'db.sqlite'), '--segment-duration', '2', '--preset', 'superfast', '--json', '--progress', 'none', ...extra]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as TranscodeResult;
}

async function serve(result: TranscodeResult): Promise<string> {
  // Entry manifests sit one level above the release folder the result's root names.
  const server = await startServer({ dir: join(result.outputs.hls!, '..'), port: 0, host: '127.0.0.1' });
  servers.push(server);
  return server.url;
}

/** Opens the player page and waits until it knows the renditions. */
async function openPlayer(url: string, engine: PlayerEngine) {
  const { page, consoleErrors } = await browser!.newPage();
  await page.goto(`${url}?engine=${engine}`);
  await waitUntil(() => playerState(page), (s) => s.levels.length > 0 || s.errors.length > 0, PLAY_TIMEOUT_MS, `${engine} renditions`);
  return { page, consoleErrors };
}

/** Waits until the media clock passes `seconds`, failing on a player or media error. */
async function playsPast(page: Page, seconds: number, what: string) {
  return waitUntil(
    async () => ({ video: await videoState(page), player: await playerState(page) }),
    (s) => s.player.errors.length > 0 || s.video.error !== null || s.video.currentTime > seconds,
    PLAY_TIMEOUT_MS,
    what,
  );
}

/** Selects rendition `index` with the page's picker and checks the browser decodes that rendition's pictures and keeps playing. */
async function playsRendition(t: TestContext, url: string, engine: PlayerEngine, index: number, codecPrefix?: string): Promise<PlayerState> {
  const { page, consoleErrors } = await openPlayer(url, engine);
  try {
    // Pick a rendition once playback has started, as a viewer does: hls.js 1.x can fail an append
    // when the level changes while the very first init segment is still being appended.
    await playsPast(page, 0.3, `${engine} starts`);
    const levels = (await playerState(page)).levels;
    const level = levels[index]!;
    if (codecPrefix) assert.ok(level.label.includes(codecPrefix), `${level.label} is a ${codecPrefix} rendition`);
    await page.selectOption('#vp-rendition', String(index));
    const switched = await waitUntil(
      async () => ({ video: await videoState(page), player: await playerState(page) }),
      (s) => s.player.errors.length > 0 || s.video.error !== null || (s.player.currentLevel === index && s.video.videoWidth === level.width && s.video.videoHeight === level.height),
      PLAY_TIMEOUT_MS,
      `${engine} switch to ${level.label}`,
    );
    assert.deepEqual(switched.player.errors, []);
    assert.equal(switched.video.error, null);
    assert.equal(switched.player.autoLevel, false);
    const from = switched.video.currentTime;
    const later = await playsPast(page, Math.min(from + 1, 5), `${engine} ${level.label} playing on`);
    assert.deepEqual(later.player.errors, []);
    assert.equal(later.video.videoWidth, level.width);
    assert.equal(later.player.currentLevel, index);
    assert.deepEqual(consoleErrors, []);
    t.diagnostic(`${engine} ${level.label}: decoded ${later.video.videoWidth}x${later.video.videoHeight}, t=${later.video.currentTime.toFixed(2)} s, ${later.video.decodedFrames} frames`);
    return later.player;
  } finally {
    await page.close();
  }
}

describe('playback in a real browser (Debian chromium via playwright-core)', { skip: unavailable }, () => {
  let video: TranscodeResult;
  let url: string;
  let support: Record<string, boolean> = {};

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-browser-'));
    await mkdir(ARTIFACTS_DIR, { recursive: true });
    await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 6, width: 320, height: 180 });
    video = await transcode(join(dir, 'clip.mp4'), join(dir, 'out'), ['--ladder', '180p,144p']);
    url = await serve(video);
    browser = await launchBrowser();
    const { page } = await browser.newPage();
    support = await page.evaluate(() =>
      Object.fromEntries(
        ['video/mp4; codecs="avc1.64000d"', 'audio/mp4; codecs="mp4a.40.2"', 'video/mp4; codecs="av01.0.00M.08"'].map((type) => [type, MediaSource.isTypeSupported(type)]),
      ),
    );
    await page.close();
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    await cleanup?.();
  });

  test('this chromium decodes H.264 and AAC through Media Source Extensions', (t) => {
    t.diagnostic(`MediaSource.isTypeSupported: ${JSON.stringify(support)}`);
    assert.equal(support['video/mp4; codecs="avc1.64000d"'], true, 'H.264 in MSE (Debian chromium links its ffmpeg with H.264)');
    assert.equal(support['audio/mp4; codecs="mp4a.40.2"'], true);
  });

  test('hls.js plays the package: page without errors, storyboard loaded, thumbnails over the seek bar', async (t) => {
    const { page, consoleErrors } = await openPlayer(url, 'hls');
    try {
      const state = await playsPast(page, 2.2, 'hls.js playback past 2 s');
      assert.deepEqual(state.player.errors, []);
      assert.equal(state.video.error, null);
      assert.ok(state.video.currentTime > 2.2);
      assert.ok(Math.abs(state.video.duration - 6) < 0.1, `duration ${state.video.duration}`);
      const level = state.player.levels[state.player.currentLevel]!;
      assert.equal(state.video.videoWidth, level.width, 'the picture has the current rendition\'s size');
      assert.equal(state.video.videoHeight, level.height);
      assert.deepEqual(state.player.levels.map((l) => `${l.width}x${l.height}`).sort(), ['256x144', '320x180']);
      // Non-fatal hls.js events (bufferStalledError while the first segments arrive on a busy machine) are reported, not failures.
      if (state.player.warnings.length) t.diagnostic(`hls.js non-fatal events: ${state.player.warnings.join(', ')}`);
      assert.ok(state.player.warnings.every((w) => /bufferStalledError|bufferNudgeOnStall|bufferSeekOverHole/.test(w)), state.player.warnings.join(', '));

      assert.equal(state.player.storyboardCues, 3, 'storyboard.vtt has one cue per 2 s');
      const bar = (await page.locator('#vp-seekbar').boundingBox())!;
      await page.mouse.move(bar.x + bar.width * 0.8, bar.y + bar.height / 2);
      const hovered = await playerState(page);
      assert.ok(hovered.thumbnail, 'a thumbnail is shown');
      assert.match(hovered.thumbnail!.sprite, /\/storyboard\/sprite_001\.jpg$/);
      assert.equal(hovered.thumbnail!.x, 320, 'the third cue (4–6 s) at 80 % of 6 s');
      const sprite = await fetch(hovered.thumbnail!.sprite);
      assert.equal(sprite.headers.get('content-type'), 'image/jpeg');
      assert.ok(await page.locator('#vp-thumb').isVisible());
      assert.ok(await page.locator('#vp-report .vp-ladder').isVisible(), 'the job report is on the page');
      // Viewport only: a full-page capture resizes the viewport, which ends the hover.
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'player-hls.png') });
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('hls.js: each H.264 rendition can be selected and plays', async (t) => {
    const levels = (await openPlayer(url, 'hls').then(async ({ page }) => {
      const s = await playerState(page);
      await page.close();
      return s.levels;
    }));
    for (let i = 0; i < levels.length; i++) await playsRendition(t, url, 'hls', i, 'avc1');
  });

  test('dash.js plays the package and each rendition can be selected', async (t) => {
    const { page, consoleErrors } = await openPlayer(url, 'dash');
    try {
      const state = await playsPast(page, 2.2, 'dash.js playback past 2 s');
      assert.deepEqual(state.player.errors, []);
      assert.equal(state.video.error, null);
      assert.equal(state.player.storyboardCues, 3);
      assert.deepEqual(state.player.levels.map((l) => `${l.width}x${l.height}`).sort(), ['256x144', '320x180']);
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'player-dash.png'), fullPage: true });
      assert.deepEqual(consoleErrors, []);
      for (let i = 0; i < state.player.levels.length; i++) await playsRendition(t, url, 'dash', i, 'avc1');
    } finally {
      await page.close();
    }
  });

  // A third implementation of both formats, stricter than the other two in places (it reads the
  // MPD's and the playlists' codecs, timing and byte ranges itself).
  for (const engine of ['shaka', 'shaka-hls'] as const) {
    const format = engine === 'shaka' ? 'DASH' : 'HLS';
    test(`Shaka Player plays the ${format} package and each rendition can be selected`, async (t) => {
      const { page, consoleErrors } = await openPlayer(url, engine);
      try {
        const state = await playsPast(page, 2.2, `Shaka Player (${format}) playback past 2 s`);
        assert.deepEqual(state.player.errors, []);
        assert.equal(state.video.error, null);
        assert.ok(Math.abs(state.video.duration - 6) < 0.1, `duration ${state.video.duration}`);
        assert.deepEqual(state.player.levels.map((l) => `${l.width}x${l.height}`).sort(), ['256x144', '320x180']);
        // Shaka's current variant changes as soon as ABR switches, while the frames already
        // buffered from the previous one still play: the picture catches up within a segment.
        const settled = await waitUntil(
          async () => ({ video: await videoState(page), player: await playerState(page) }),
          (s) => s.video.videoWidth === s.player.levels[s.player.currentLevel]?.width,
          PLAY_TIMEOUT_MS,
          `Shaka Player (${format}): the picture has the current rendition's size`,
        );
        assert.equal(settled.video.videoWidth, settled.player.levels[settled.player.currentLevel]!.width);
        if (state.player.warnings.length) t.diagnostic(`Shaka Player recoverable errors: ${state.player.warnings.join(', ')}`);
        assert.deepEqual(state.player.warnings, [], 'no recoverable errors either');
        assert.deepEqual(consoleErrors, []);
        await page.screenshot({ path: join(ARTIFACTS_DIR, `player-${engine}.png`), fullPage: true });
        for (let i = 0; i < state.player.levels.length; i++) await playsRendition(t, url, engine, i, 'avc1');
      } finally {
        await page.close();
      }
    });
  }

  test('an output folder: the index shows the package with its poster, and its link opens a player page that plays', async () => {
    const server = await startServer({ dir: join(dir, 'out'), port: 0, host: '127.0.0.1' });
    servers.push(server);
    const { page, consoleErrors } = await browser!.newPage();
    try {
      await page.goto(server.url);
      const name = video.outputs.hls!.split('/').at(-2)!;
      const row = `tr[data-package="${name}"]`;
      await page.waitForFunction((selector) => ((document.querySelector(`${selector} img`) as HTMLImageElement | null)?.naturalWidth ?? 0) > 0, row, { timeout: PLAY_TIMEOUT_MS });
      assert.match(await page.textContent(row) ?? '', /0:06.*h264-180p, h264-144p, aac-128k/);
      await Promise.all([page.waitForURL(`${server.url}${name}/`), page.click(`${row} td:nth-child(2) a`)]);
      await waitUntil(() => playerState(page), (s) => s.levels.length > 0 || s.errors.length > 0, PLAY_TIMEOUT_MS, 'renditions from the index');
      const state = await playsPast(page, 1.2, 'hls.js playback of a package opened from the index');
      assert.deepEqual(state.player.errors, []);
      assert.equal(state.video.error, null);
      assert.equal(state.player.storyboardCues, 3);
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'output-folder-index.png'), fullPage: true });
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('an audio-only package plays in hls.js and in Shaka Player (HLS and DASH)', async () => {
    const wav = join(dir, 'tone.wav');
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=6', '-ac', '2', wav]);
    const audio = await transcode(wav, join(dir, 'out-audio'), []);
    assert.equal(audio.kind, 'audio');
    const audioUrl = await serve(audio);
    for (const engine of ['hls', 'shaka-hls', 'shaka'] as const) {
      const { page, consoleErrors } = await openPlayer(audioUrl, engine);
      try {
        const state = await playsPast(page, 2.2, `audio-only playback past 2 s (${engine})`);
        assert.deepEqual(state.player.errors, [], engine);
        assert.equal(state.video.error, null);
        assert.ok(state.player.levels.length >= 1 && state.player.levels.every((l) => l.height === 0), `${engine}: ${JSON.stringify(state.player.levels)}`);
        assert.equal(state.video.videoWidth, 0, 'no picture');
        assert.deepEqual(consoleErrors, []);
      } finally {
        await page.close();
      }
    }
  });

  test('the AV1 variant of a multi-codec package plays in dash.js and hls.js', async (t) => {
    if (!support['video/mp4; codecs="av01.0.00M.08"']) return t.skip('this chromium has no AV1 decoder for MSE');
    const multi = await transcode(join(dir, 'clip.mp4'), join(dir, 'out-av1'), ['--codecs', 'h264,av1', '--ladder', '144p', '--no-thumbnails', '--name', 'multi']);
    assert.ok(multi.renditions.some((r) => r.codecs.startsWith('av01')), JSON.stringify(multi.renditions.map((r) => r.codecs)));
    const multiUrl = await serve(multi);
    for (const engine of ['dash', 'hls'] as const) {
      const { page } = await openPlayer(multiUrl, engine);
      const levels = (await playerState(page)).levels;
      await page.close();
      const av1 = levels.findIndex((l) => l.label.includes('av01'));
      assert.ok(av1 >= 0, `${engine} lists the AV1 rendition: ${levels.map((l) => l.label).join('; ')}`);
      await playsRendition(t, multiUrl, engine, av1, 'av01');
    }
  });
});
