import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBinaries, type BinarySource } from '../../ffmpeg/binaries.js';
import { detectCapabilities } from '../../ffmpeg/capabilities.js';
import { openMetadata, printableMetadataTarget } from '../../db/engines.js';
import { defaultDatabasePath } from '../../db/location.js';
import { defaultWorkRoot } from '../../settings/job-settings.js';
import { EXIT_FAILURE, EXIT_OK } from '../../errors.js';
import type { GlobalOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';

interface EncoderCheck {
  name: string;
  purpose: string;
  /** Needed for the default job (H.264 + AAC); the others enable options. */
  required: boolean;
  /** Satisfied when any of these encoders exists. */
  anyOf: string[];
}

const ENCODER_CHECKS: EncoderCheck[] = [
  { name: 'libx264', purpose: 'H.264 video (default)', required: true, anyOf: ['libx264'] },
  { name: 'aac', purpose: 'AAC audio (default)', required: true, anyOf: ['aac'] },
  { name: 'libx265', purpose: 'HEVC video (--codecs hevc)', required: false, anyOf: ['libx265'] },
  { name: 'libsvtav1 or libaom-av1', purpose: 'AV1 video (--codecs av1)', required: false, anyOf: ['libsvtav1', 'libaom-av1'] },
  { name: 'libopus', purpose: 'Opus audio for DASH', required: false, anyOf: ['libopus'] },
  { name: 'mjpeg', purpose: 'poster and storyboard JPEGs', required: true, anyOf: ['mjpeg'] },
];

export type SqliteCheck = { ok: true; version: string; driver: string } | { ok: false; error: string };

/**
 * Opens a scratch database the way vidpipe opens its own (WAL, migrations): this is where a
 * native module that was not installed (an install script blocked, a build for another Node)
 * shows, which `require` alone would not reveal since better-sqlite3 loads its binary lazily.
 */
export async function checkSqlite(): Promise<SqliteCheck> {
  const folder = mkdtempSync(join(tmpdir(), 'vidpipe-doctor-'));
  try {
    const db = await openMetadata(join(folder, 'check.db'));
    try {
      const { version, driver } = await db.describe();
      return { ok: true, version, driver };
    } finally {
      await db.close();
    }
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** A warning when ffmpeg and ffprobe are not one release (e.g. ffmpeg 5.1 with ffprobe-static's 4.0.2). */
export function pairWarning(ffmpegVersion: string, ffprobeVersion: string): string | undefined {
  if (ffmpegVersion === ffprobeVersion) return undefined;
  return (
    `ffmpeg ${ffmpegVersion} and ffprobe ${ffprobeVersion} are different releases: ffprobe may describe a file differently from how this ffmpeg decodes it. ` +
    'Use the ffprobe that came with this ffmpeg (--ffprobe PATH or VIDPIPE_FFPROBE=PATH).'
  );
}

const SOURCE_TEXT: Record<BinarySource, string> = {
  flag: 'from the command line',
  env: 'from the environment',
  'beside-ffmpeg': 'beside ffmpeg',
  packaged: 'packaged npm binary',
  path: 'on PATH',
};

/**
 * Prints the binaries in use, their versions, the encoders found and whether SQLite works;
 * exit 1 when a required encoder is missing or the database cannot be opened, a warning (exit
 * 0) when ffmpeg and ffprobe are different releases.
 */
export async function runDoctor(global: GlobalOptions, io: CliIO): Promise<number> {
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const caps = await detectCapabilities(binaries);
  const checks = ENCODER_CHECKS.map((check) => ({ ...check, found: check.anyOf.filter((e) => caps.encoders.has(e)) }));
  const missingRequired = checks.filter((c) => c.required && c.found.length === 0);
  const sqlite = await checkSqlite();
  const warnings = [pairWarning(caps.ffmpegVersion, caps.ffprobeVersion)].filter((w): w is string => w !== undefined);
  const report = {
    node: process.version,
    ffmpeg: { path: binaries.ffmpeg, source: binaries.ffmpegSource, version: caps.ffmpegVersion },
    ffprobe: { path: binaries.ffprobe, source: binaries.ffprobeSource, version: caps.ffprobeVersion },
    encoders: Object.fromEntries(checks.map((c) => [c.name, c.found.length > 0])),
    sqlite,
    database: printableMetadataTarget(global.db ?? defaultDatabasePath(io.env)),
    workDir: defaultWorkRoot(io.env),
    warnings,
    ok: missingRequired.length === 0 && sqlite.ok,
  };
  if (global.json) {
    io.stdout(JSON.stringify(report));
  } else {
    io.stdout(
      [
        `node     ${report.node}`,
        `ffmpeg   ${report.ffmpeg.path} (${SOURCE_TEXT[report.ffmpeg.source]}) version ${report.ffmpeg.version}`,
        `ffprobe  ${report.ffprobe.path} (${SOURCE_TEXT[report.ffprobe.source]}) version ${report.ffprobe.version}`,
        `sqlite   ${sqlite.ok ? `${sqlite.version} (${sqlite.driver})` : '✖ CANNOT OPEN A DATABASE'}`,
        `database ${report.database}`,
        `work dir ${report.workDir}`,
        'encoders:',
        ...checks.map((c) => `  ${c.found.length ? '✔' : c.required ? '✖' : '–'} ${c.name.padEnd(24)} ${c.purpose}${c.found.length ? '' : c.required ? ' — MISSING' : ' — not available'}`),
      ].join('\n'),
    );
  }
  for (const warning of warnings) io.stderr(`vidpipe doctor: warning: ${warning}`);
  if (!sqlite.ok) {
    io.stderr(
      `vidpipe doctor: SQLite does not work: ${sqlite.error}\n` +
        '  Fix: reinstall vidpipe with the Node.js that runs it (npm install -g vidpipe); better-sqlite3 ships prebuilt binaries for ' +
        'Linux, macOS and Windows on x64/arm64, elsewhere allow its build: npm install -g vidpipe --allow-scripts=better-sqlite3',
    );
  }
  if (missingRequired.length > 0) {
    io.stderr(
      `vidpipe doctor: missing ${missingRequired.map((c) => c.name).join(', ')}. Fix: install a full ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg) ` +
        `and point vidpipe at it with --ffmpeg PATH or VIDPIPE_FFMPEG=PATH.`,
    );
  }
  return report.ok ? EXIT_OK : EXIT_FAILURE;
}
