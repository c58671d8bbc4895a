/**
 * Shaka Player in headless Chromium (#26): a package with the source's English sound (5.1, kept
 * as stereo plus AAC and E-AC-3 5.1) and English audio description beside it, and a French dub
 * (5.1) added afterwards by `vidpipe add-track`.
 * Shaka lists every language and role, starts with stereo (Chromium has no E-AC-3 decoder, and
 * its preferred channel count is 2), and switching to each audio language and role plays it:
 * the active variant changes to it, the media clock runs on and the browser decodes its audio.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { browserUnavailable, launchBrowser, waitUntil, type Browser } from '../helpers/browser.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { TranscodeResult } from '../../src/core/result.js';

const exec = promisify(execFile);
const ffmpeg = (args: string[]) => exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
const unavailable = await browserUnavailable();
const PLAY_TIMEOUT_MS = 60_000;

/** What the test's own Shaka Player says, read in the page. */
interface ShakaState {
  languages: { language: string; role: string; channelsCount: number | null; codecs: string | null }[];
  active?: { language: string; roles: string[]; channelsCount: number | null; audioCodec: string | null };
  variants: number;
  currentTime: number;
  audioBytes: number;
  errors: string[];
}

function shakaState(page: Page): Promise<ShakaState> {
  return page.evaluate(() => {
    const test = (window as any).tracksTest;
    // Shaka 5: one audio track per language, role, layout and codec it can play.
    const tracks = test.player.getAudioTracks();
    const active = tracks.find((t: any) => t.active);
    return {
      languages: tracks.map((t: any) => ({ language: t.language, role: (t.roles ?? []).join(','), channelsCount: t.channelsCount, codecs: t.codecs })),
      ...(active ? { active: { language: active.language, roles: active.roles ?? [], channelsCount: active.channelsCount, audioCodec: active.codecs } } : {}),
      variants: test.player.getVariantTracks().length,
      currentTime: test.video.currentTime,
      // Chromium's count of audio bytes handed to its decoder.
      audioBytes: test.video.webkitAudioDecodedByteCount ?? -1,
      errors: test.errors,
    };
  });
}

describe('audio languages in Shaka Player (Debian chromium via playwright-core)', { skip: unavailable, timeout: 600_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let browser: Browser;
  let server: RunningServer;
  let dashUrl: string;
  let hlsUrl: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-tracks-browser-'));
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000:duration=6', join(dir, 'dub.wav')]);
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=44100:duration=6', '-ac', '2', join(dir, 'description.mp3')]);
    await makeClip(join(dir, 'film.mp4'), { durationSeconds: 6, width: 192, height: 108, rate: '25', extraArgs: ['-af', 'aformat=channel_layouts=5.1', '-metadata:s:a:0', 'language=eng'] });
    const run = await runCli([
      'transcode', join(dir, 'film.mp4'), '--out', join(dir, 'out'), '--db', join(dir, 'db.sqlite'), '--json', '--progress', 'none',
      '--segment-duration', '2', '--preset', 'ultrafast', '--ladder', '108p', '--no-thumbnails', '--surround', 'aac,eac3',
      '--audio-track', `${join(dir, 'description.mp3')}:en:description`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as TranscodeResult;
    const packageDir = join(result.outputs.hls!, '..');
    // The French dub arrives later: a new release of the published package (nothing re-encoded).
    const added = await runCli(['add-track', packageDir, '--audio-track', `${join(dir, 'dub.wav')}:fr:dub`, '--db', join(dir, 'db.sqlite'), '--work-dir', join(dir, 'work'), '--progress', 'none']);
    assert.equal(added.code, 0, added.stderr);
    server = await startServer({ dir: packageDir, port: 0, host: '127.0.0.1' });
    dashUrl = `${server.url}manifest.mpd`;
    hlsUrl = `${server.url}master.m3u8`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await cleanup?.();
  });

  for (const format of ['DASH', 'HLS'] as const) {
    test(`switches to each audio language and role of the ${format} package and plays it`, async (t) => {
      const { page } = await browser.newPage();
      try {
        // The served page loads Shaka Player; the test drives a player of its own on a video element of its own.
        await page.goto(`${server.url}?engine=shaka`);
        await page.waitForFunction(() => (window as any).shaka !== undefined, undefined, { timeout: PLAY_TIMEOUT_MS });
        await page.evaluate(async (manifest) => {
          const pageVideo = document.getElementById('vp-video') as HTMLVideoElement | null;
          pageVideo?.pause();
          const shaka = (window as any).shaka;
          const video = document.createElement('video');
          video.muted = true;
          document.body.appendChild(video);
          const player = new shaka.Player();
          const errors: string[] = [];
          player.addEventListener('error', (event: any) => errors.push(`${event.detail.category}/${event.detail.code}`));
          (window as any).tracksTest = { player, video, errors };
          await player.attach(video);
          await player.load(manifest);
          await video.play();
        }, format === 'DASH' ? dashUrl : hlsUrl);

        const started = await waitUntil(() => shakaState(page), (s) => s.errors.length > 0 || s.currentTime > 0.5, PLAY_TIMEOUT_MS, `${format} starts`);
        assert.deepEqual(started.errors, []);
        t.diagnostic(`${format}: ${started.variants} playable variants, languages ${JSON.stringify(started.languages)}, starts with ${JSON.stringify(started.active)}`);
        assert.deepEqual([...new Set(started.languages.map((l) => l.language))].sort(), ['en', 'fr']);
        assert.ok(started.languages.every((l) => !l.codecs?.startsWith('ec-3')), 'no E-AC-3 track offered where it cannot play');
        if (format === 'DASH') {
          const stereo = started.languages.filter((l) => l.channelsCount === 2).map((l) => `${l.language}/${l.role}`).sort();
          assert.deepEqual(stereo, ['en/description', 'en/main', 'fr/dub']);
          assert.ok(started.languages.some((l) => l.channelsCount === 6 && l.language === 'en'), 'the AAC 5.1 is offered too');
        }
        assert.equal(started.active?.language, 'en');
        assert.equal(started.active?.channelsCount, 2, 'stereo first');
        assert.ok(!started.active?.audioCodec?.startsWith('ec-3'), 'Chromium decodes no E-AC-3: never chosen');

        const choices = format === 'DASH'
          ? [{ language: 'fr', role: 'dub' }, { language: 'en', role: 'description' }, { language: 'en', role: 'main' }]
          // HLS says a role only as CHARACTERISTICS, which Shaka lists as the track's roles.
          : [{ language: 'fr', role: '' }, { language: 'en', role: 'public.accessibility.describes-video' }, { language: 'en', role: '' }];
        for (const choice of choices) {
          const before = await shakaState(page);
          // The stereo track of that language and role, as a menu of languages offers it.
          await page.evaluate(({ language, role }) => {
            const player = (window as any).tracksTest.player;
            const track = player.getAudioTracks().find((t: any) => t.language === language && (role === '' ? (t.roles ?? []).length === 0 : (t.roles ?? []).includes(role)) && t.channelsCount === 2);
            if (!track) throw new Error(`no stereo ${language} ${role} track among ${JSON.stringify(player.getAudioTracks())}`);
            player.selectAudioTrack(track);
          }, choice);
          const switched = await waitUntil(
            () => shakaState(page),
            (s) => s.errors.length > 0 || (s.active?.language === choice.language && (choice.role === '' ? s.active.roles.length === 0 : s.active.roles.includes(choice.role))),
            PLAY_TIMEOUT_MS,
            `${format} switch to ${choice.language} ${choice.role}`,
          );
          assert.deepEqual(switched.errors, []);
          // It plays: the clock moves a second on (looping back to 0 near the end) and audio is decoded after the switch.
          if (switched.currentTime > 4) await page.evaluate(() => { (window as any).tracksTest.video.currentTime = 0.2; });
          const from = (await shakaState(page)).currentTime;
          const later = await waitUntil(() => shakaState(page), (s) => s.errors.length > 0 || s.currentTime > from + 1, PLAY_TIMEOUT_MS, `${format} ${choice.language} ${choice.role} plays on`);
          assert.deepEqual(later.errors, []);
          assert.equal(later.active?.language, choice.language);
          assert.equal(later.active?.roles.join(), choice.role);
          assert.ok(later.audioBytes > before.audioBytes, `${choice.language} ${choice.role}: audio decoded (${before.audioBytes} → ${later.audioBytes} bytes)`);
          t.diagnostic(`${format} ${choice.language}/${choice.role}: ${JSON.stringify(later.active)} at ${later.currentTime.toFixed(2)} s`);
        }
      } finally {
        await page.close();
      }
    });
  }
});
