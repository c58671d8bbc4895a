import { EXIT_FAILURE, EXIT_OK, VidpipeError } from '../../errors.js';
import { resolveBinaries, type FfmpegBinaries } from '../../ffmpeg/binaries.js';
import {
  packagesOfOutputFolder,
  validateOutputFolder,
  validatePackage,
  type CheckResult,
  type FolderValidationReport,
  type ValidationReport,
} from '../../validate/index.js';
import { printable } from '../io.js';
import type { GlobalOptions, ValidateOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';

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

/** Each package's report under its name and folder, then one line for the whole output folder. */
export function formatFolderReport(folder: FolderValidationReport): string {
  const parts = folder.packages.map((result) => {
    const head = `${printable(result.name)}: ${printable(result.target)}\n`;
    if ('error' in result) return `${head}  ✖ cannot check it: ${printable(result.error.message)}${result.error.hint ? `\n    hint: ${printable(result.error.hint)}` : ''}\n`;
    return head + formatReport(result);
  });
  const bad = folder.packages.filter((result) => !result.ok).map((result) => printable(result.name));
  const count = folder.packages.length;
  const summary = `${count} package${count === 1 ? '' : 's'} in ${printable(folder.target)}: ${count - bad.length} valid${bad.length ? `, ${bad.length} INVALID (${bad.join(', ')})` : ''}`;
  return `${parts.join('\n')}\n${summary}\n`;
}

/** The worst outcome decides: a failed check (1) over a package that could not be read (its code, 2 for a bad one). */
export function folderExitCode(folder: FolderValidationReport): number {
  const codes = folder.packages.map((result) => (result.ok ? EXIT_OK : 'error' in result ? result.error.exitCode : EXIT_FAILURE));
  if (codes.includes(EXIT_FAILURE)) return EXIT_FAILURE;
  return codes.find((code) => code !== EXIT_OK) ?? EXIT_OK;
}

/**
 * `vidpipe validate <dir | master.m3u8 | manifest.mpd | URL>`: exit 0 when every check passes,
 * 1 when any fails. An output folder (one package folder per input) has every package checked.
 */
export async function runValidate(target: string, options: ValidateOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  let binaries: Promise<FfmpegBinaries> | undefined;
  // ffmpeg/ffprobe are needed only for MPEG-TS segments and --source; fMP4 packages are read directly.
  const tools = () => (binaries ??= resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env));
  const packages = await packagesOfOutputFolder(target);
  if (packages.length > 0) {
    if (options.source) throw new VidpipeError('USAGE', `--source belongs to one package, and ${target} holds ${packages.length}`, { hint: `name the package: vidpipe validate ${packages[0]!.path} --source FILE` });
    const folder = await validateOutputFolder(target, packages, { tools, keys: options.keys });
    io.stdout(global.json ? JSON.stringify(folder) : formatFolderReport(folder));
    return folderExitCode(folder);
  }
  const report = await validatePackage(target, { source: options.source, tools, keys: options.keys });
  io.stdout(global.json ? JSON.stringify({ ok: report.ok, target: report.target, checks: report.checks }) : formatReport(report));
  return report.ok ? EXIT_OK : EXIT_FAILURE;
}
