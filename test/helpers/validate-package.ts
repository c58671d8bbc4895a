/** A real vidpipe package to validate, and broken copies of it for the validate tests. */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClip, runCli } from './media.js';
import { resolveBinaries } from '../../src/ffmpeg/binaries.js';
import { validatePackage, type ValidationReport } from '../../src/validate/index.js';

export interface VidpipePackage {
  source: string;
  root: string;
}

/**
 * 6 s at 320x180 in 2 s segments: three segments per track, so peak and average bit rates can
 * differ by more than 2× when one segment is inflated.
 */
export async function makeVidpipePackage(dir: string): Promise<VidpipePackage> {
  const source = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 6, width: 320, height: 180 });
  const run = await runCli([
    'transcode', source, '--out', join(dir, 'out'), '--name', 'pkg', '--db', join(dir, 'meta.db'), '--quiet', '--no-thumbnails',
    '--ladder', '180p,144p', '--preset', 'superfast', '--segment-duration', '2', '--concurrency', '2',
  ]);
  assert.equal(run.code, 0, run.stderr);
  return { source, root: join(dir, 'out', 'pkg') };
}

export const tools = () => resolveBinaries({});

export function validate(target: string, source?: string): Promise<ValidationReport> {
  return validatePackage(target, { source, tools });
}

/** Copies the package to `copyDir`, applies `breakIt` there and returns the copy's root. */
export async function brokenCopy(pkg: VidpipePackage, copyDir: string, breakIt: (root: string) => Promise<void>): Promise<string> {
  const root = join(copyDir, 'pkg');
  await cp(pkg.root, root, { recursive: true });
  await breakIt(root);
  return root;
}

/** Rewrites a text file in place; fails the test when the edit does not apply. */
export async function edit(path: string, change: (text: string) => string): Promise<void> {
  const before = await readFile(path, 'utf8');
  const after = change(before);
  assert.notEqual(after, before, `edit of ${path} changed nothing`);
  await writeFile(path, after);
}

export function statusOf(report: ValidationReport, id: string): string | undefined {
  return report.checks.find((check) => check.id === id)?.status;
}

export function failed(report: ValidationReport): string[] {
  return report.checks.filter((check) => check.status === 'fail').map((check) => check.id);
}
