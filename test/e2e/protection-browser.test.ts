/**
 * `vidpipe serve --clear-key` in a real browser (Debian's chromium, EME's built-in
 * org.w3.clearkey): each scheme plays in the players the docs name with the right key (the media
 * clock advances and pictures are decoded) and does not with a wrong one. The packages are
 * vidpipe packages encrypted with the project's engine (test/helpers/protect-package.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { browserUnavailable, launchBrowser, playerState, videoState, waitUntil, type Browser } from '../helpers/browser.js';
import { protectPackage, type TestScheme } from '../helpers/protect-package.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import type { TranscodeResult } from '../../src/core/result.js';
import type { PlayerEngine } from '../../src/serve/player-assets.js';
import type { ClearKey } from '../../src/settings/command-options.js';

const unavailable = await browserUnavailable();
const PLAY_TIMEOUT_MS = 45_000;
/** How long a player given a wrong key is watched: it must neither advance nor decode a picture. */
const WRONG_KEY_WATCH_MS = 8_000;

const KEY = { kid: Buffer.from('5fa0e3c2b1d94e7f8a6b0c1d2e3f4051', 'hex'), key: Buffer.from('9b8a7c6d5e4f30211203f4e5d6c7b8a9', 'hex') };
const RIGHT: ClearKey[] = [{ kid: KEY.kid.toString('hex'), key: KEY.key.toString('hex') }];
/** Same key ID, another key: what a viewer given the wrong key file has. */
const WRONG_KEY: ClearKey[] = [{ kid: KEY.kid.toString('hex'), key: '00112233445566778899aabbccddeeff' }];
/** Another key ID altogether: the CDM has no key for the content. */
const OTHER_KID: ClearKey[] = [{ kid: '00000000000000000000000000000001', key: '00112233445566778899aabbccddeeff' }];

let dir: string;
let cleanup: (() => Promise<void>) | undefined;
let browser: Browser | undefined;
const servers: RunningServer[] = [];
const packages: Partial<Record<TestScheme, string>> = {};

async function serve(scheme: TestScheme, clearKeys: ClearKey[]): Promise<string> {
  const server = await startServer({ dir: packages[scheme]!, port: 0, host: '127.0.0.1', clearKeys });
  servers.push(server);
  return server.url;
}

async function watch(url: string, engine: PlayerEngine, until: (s: { time: number; frames: number; errors: string[] }) => boolean, timeoutMs: number) {
  const { page, consoleErrors } = await browser!.newPage();
  try {
    await page.goto(`${url}?engine=${engine}`);
    const probe = async () => {
      const [video, player] = await Promise.all([videoState(page), playerState(page)]);
      return { time: video.currentTime, frames: video.decodedFrames, width: video.videoWidth, errors: [...player.errors, ...(video.error ? [video.error] : [])] };
    };
    const deadline = Date.now() + timeoutMs;
    let last = await probe();
    while (!until(last) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      last = await probe();
    }
    return { ...last, consoleErrors };
  } finally {
    await page.close();
  }
}

async function plays(scheme: TestScheme, engine: PlayerEngine) {
  const url = await serve(scheme, RIGHT);
  const state = await watch(url, engine, (s) => s.errors.length > 0 || (s.time > 1.5 && s.frames > 0), PLAY_TIMEOUT_MS);
  assert.deepEqual(state.errors, [], `${scheme} in ${engine}`);
  assert.ok(state.time > 1.5, `${scheme} in ${engine}: the clock reached ${state.time}`);
  assert.ok(state.frames > 0, `${scheme} in ${engine}: decoded ${state.frames} frames`);
  assert.equal(state.width, 320);
  return state;
}

async function failsToPlay(scheme: TestScheme, engine: PlayerEngine, keys: ClearKey[], why: RegExp) {
  const url = await serve(scheme, keys);
  const state = await watch(url, engine, (s) => s.errors.length > 0 || s.time > 0.5, WRONG_KEY_WATCH_MS);
  assert.ok(state.time <= 0.5 && state.frames <= 0, `${scheme} in ${engine} with a wrong key: ${JSON.stringify(state)}`);
  // Failing for the reason a wrong key gives, not because the key could not be fetched at all.
  assert.match(state.errors.join('; '), why);
  return state;
}

describe('encrypted packages play in chromium with --clear-key, and not with a wrong key', { skip: unavailable }, () => {
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-protection-browser-'));
    await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 6, width: 320, height: 180 });
    const result = await runCli(['transcode', join(dir, 'clip.mp4'), '--out', join(dir, 'clear'), '--db', join(dir, 'db.sqlite'), '--segment-duration', '2', '--preset', 'superfast', '--ladder', '180p', '--json', '--progress', 'none']);
    assert.equal(result.code, 0, result.stderr);
    const clear = JSON.parse(result.stdout) as TranscodeResult;
    const root = clear.outputs.root!;
    const top = join(root, '..');
    const releaseName = root.slice(top.length);
    for (const scheme of ['cenc', 'cbcs', 'aes-128'] as const) {
      const copy = join(dir, scheme);
      await cp(top, copy, { recursive: true });
      await protectPackage(copy, join(copy, releaseName), scheme, KEY);
      packages[scheme] = copy;
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    for (const server of servers) await server.close();
    await cleanup?.();
  });

  for (const [scheme, engine] of [['cenc', 'shaka'], ['cenc', 'dash'], ['cbcs', 'shaka'], ['cbcs', 'dash'], ['cbcs', 'shaka-hls'], ['aes-128', 'hls'], ['aes-128', 'shaka-hls']] as const) {
    test(`'${scheme}' plays in ${engine} with the right key`, async (t) => {
      const state = await plays(scheme, engine);
      t.diagnostic(`t=${state.time.toFixed(2)} s, ${state.frames} frames`);
    });
  }

  for (const [scheme, engine, keys, which, why] of [
    // Shaka: 4012 (RESTRICTIONS_CANNOT_BE_MET) naming the key it has not got.
    ['cenc', 'shaka', OTHER_KID, 'a key for another KID', /4012.*missingKeys.*5fa0e3c2b1d94e7f8a6b0c1d2e3f4051/],
    ['cbcs', 'dash', OTHER_KID, 'a key for another KID', /invalid key status/],
    ['cbcs', 'shaka-hls', OTHER_KID, 'a key for another KID', /4012.*missingKeys/],
    // The key is fetched (from serve) but decrypts to noise: the segment does not parse.
    ['aes-128', 'hls', WRONG_KEY, 'a wrong key', /fragParsingError|fragDecryptError/],
  ] as const) {
    test(`'${scheme}' does not play in ${engine} with ${which}`, async (t) => {
      const state = await failsToPlay(scheme, engine, [...keys], why);
      t.diagnostic(JSON.stringify(state).slice(0, 300));
    });
  }

  test('without --clear-key the encrypted package does not play, and serve answers no key', async () => {
    const url = await serve('cbcs', []);
    const state = await watch(url, 'dash', (s) => s.errors.length > 0 || s.time > 0.5, WRONG_KEY_WATCH_MS);
    assert.ok(state.errors.length > 0 || (state.time <= 0.5 && state.frames <= 0), JSON.stringify(state));
    const response = await fetch(`${url}_vidpipe/clear-key/${RIGHT[0]!.kid}`);
    assert.equal(response.status, 404);
  });
});
