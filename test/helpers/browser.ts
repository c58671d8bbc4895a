import { access, mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { PlayerEngine } from '../../src/serve/player-assets.js';
import { REPO_ROOT } from './media.js';

/** Debian's chromium (apt-get install chromium; scripts/setup --test installs it). */
export const CHROMIUM_PATH = process.env.VIDPIPE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts');

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];

/** Why the browser tests cannot run here, or undefined when they can. */
export async function browserUnavailable(): Promise<string | undefined> {
  try {
    await access(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    return `no chromium at ${CHROMIUM_PATH} (run scripts/setup --test, or set VIDPIPE_CHROMIUM)`;
  }
}

export interface Browser {
  context: BrowserContext;
  /** A new tab that records console errors and uncaught page errors. */
  newPage(): Promise<{ page: Page; consoleErrors: string[] }>;
  close(): Promise<void>;
}

/** Chromium with a fresh profile, removed again on close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = await mkdtemp(join(tmpdir(), 'vidpipe-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1100, height: 1400 },
  });
  return {
    context,
    async newPage() {
      const page = await context.newPage();
      const consoleErrors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
      return { page, consoleErrors };
    },
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** What the served player page exposes as window.vidpipePlayer. */
export interface PlayerState {
  engine: PlayerEngine;
  levels: { label: string; width: number; height: number; bitrate: number }[];
  currentLevel: number;
  autoLevel: boolean;
  errors: string[];
  warnings: string[];
  storyboardCues: number;
  thumbnail?: { sprite: string; x: number; y: number; w: number; h: number; time: number };
}

export function playerState(page: Page): Promise<PlayerState> {
  return page.evaluate(() => {
    const { select: _select, ...state } = (window as unknown as { vidpipePlayer: PlayerState & { select: unknown } }).vidpipePlayer;
    return JSON.parse(JSON.stringify(state)) as PlayerState;
  });
}

export interface VideoState {
  currentTime: number;
  paused: boolean;
  videoWidth: number;
  videoHeight: number;
  duration: number;
  error: string | null;
  /** Frames the browser decoded and presented so far. */
  decodedFrames: number;
}

export function videoState(page: Page): Promise<VideoState> {
  return page.evaluate(() => {
    const v = document.getElementById('vp-video') as HTMLVideoElement;
    const quality = v.getVideoPlaybackQuality?.();
    return {
      currentTime: v.currentTime, paused: v.paused, videoWidth: v.videoWidth, videoHeight: v.videoHeight, duration: v.duration,
      error: v.error ? `${v.error.code} ${v.error.message}` : null, decodedFrames: quality ? quality.totalVideoFrames : -1,
    };
  });
}

/** Polls `probe` until it returns true, or fails with the last state after `timeoutMs`. */
export async function waitUntil<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await probe();
  }
  return last;
}
