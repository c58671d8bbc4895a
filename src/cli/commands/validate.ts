import { EXIT_FAILURE, EXIT_OK } from '../../core/errors.js';
import { resolveBinaries, type FfmpegBinaries } from '../../ffmpeg/binaries.js';
import { validatePackage, type CheckResult, type ValidationReport } from '../../validate/index.js';
import { printable } from './list.js';
import type { GlobalOptions } from '../program.js';
import type { CliIO } from '../io.js';

export interface ValidateCommandOptions {
  source?: string;
}

const MARK: Record<CheckResult['status'], string> = { pass: '✔', fail: '✖', skip: '–' };

export function formatReport(report: ValidationReport): string {
  const width = Math.max(...report.checks.map((check) => check.id.length));
  const lines: string[] = [];
  let manifest: string | undefined;
  for (const check of report.checks) {
    if (check.manifest !== manifest) lines.push(`${printable(check.manifest ?? '')}`);
    manifest = check.manifest;
    lines.push(`  ${MARK[check.status]} ${check.id.padEnd(width)}  ${printable(check.message)}`);
  }
  const count = (status: CheckResult['status']) => report.checks.filter((check) => check.status === status).length;
  lines.push(`${report.ok ? 'valid' : 'INVALID'}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}

/** `vidpipe validate <dir | master.m3u8 | manifest.mpd>`: exit 0 when every check passes, 1 when any fails. */
export async function runValidate(target: string, options: ValidateCommandOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  let binaries: Promise<FfmpegBinaries> | undefined;
  // ffmpeg/ffprobe are needed only for MPEG-TS segments and --source; fMP4 packages are read directly.
  const tools = () => (binaries ??= resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env));
  const report = await validatePackage(target, { source: options.source, tools });
  io.stdout(global.json ? JSON.stringify({ ok: report.ok, target: report.target, checks: report.checks }) : formatReport(report));
  return report.ok ? EXIT_OK : EXIT_FAILURE;
}
