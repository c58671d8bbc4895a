import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { detectCapabilities } from '../../ffmpeg/capabilities.js';
import { defaultDatabasePath } from '../../db/database.js';
import { defaultWorkRoot } from '../../core/transcode.js';
import { EXIT_FAILURE, EXIT_OK } from '../../core/errors.js';
import type { GlobalOptions } from '../program.js';
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

/** Prints the binaries in use, their versions and the encoders found; non-zero when a required one is missing. */
export async function runDoctor(global: GlobalOptions, io: CliIO): Promise<number> {
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const caps = await detectCapabilities(binaries);
  const checks = ENCODER_CHECKS.map((check) => ({ ...check, found: check.anyOf.filter((e) => caps.encoders.has(e)) }));
  const missingRequired = checks.filter((c) => c.required && c.found.length === 0);
  const report = {
    node: process.version,
    ffmpeg: { path: binaries.ffmpeg, source: binaries.ffmpegSource, version: caps.ffmpegVersion },
    ffprobe: { path: binaries.ffprobe, source: binaries.ffprobeSource, version: caps.ffprobeVersion },
    encoders: Object.fromEntries(checks.map((c) => [c.name, c.found.length > 0])),
    database: global.db ?? defaultDatabasePath(io.env),
    workDir: defaultWorkRoot(io.env),
    ok: missingRequired.length === 0,
  };
  if (global.json) {
    io.stdout(JSON.stringify(report));
  } else {
    io.stdout(
      [
        `node     ${report.node}`,
        `ffmpeg   ${report.ffmpeg.path} (${report.ffmpeg.source}) version ${report.ffmpeg.version}`,
        `ffprobe  ${report.ffprobe.path} (${report.ffprobe.source}) version ${report.ffprobe.version}`,
        `database ${report.database}`,
        `work dir ${report.workDir}`,
        'encoders:',
        ...checks.map((c) => `  ${c.found.length ? '✔' : c.required ? '✖' : '–'} ${c.name.padEnd(24)} ${c.purpose}${c.found.length ? '' : c.required ? ' — MISSING' : ' — not available'}`),
      ].join('\n'),
    );
  }
  if (missingRequired.length > 0) {
    io.stderr(
      `vidpipe doctor: missing ${missingRequired.map((c) => c.name).join(', ')}. Fix: install a full ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg) ` +
        `and point vidpipe at it with --ffmpeg PATH or VIDPIPE_FFMPEG=PATH.`,
    );
    return EXIT_FAILURE;
  }
  return EXIT_OK;
}
