/**
 * Checking an encrypted package vidpipe made, in end-to-end tests: `vidpipe validate --key`
 * (signalling against the init segments, aux info in every fragment, and each encrypted track
 * decrypted by the independent decryptor of src/validate/decrypt.ts and decoded by ffmpeg), and
 * looking for the key in files.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from './media.js';

export interface HexKey {
  kid: string;
  key: string;
}

/** The spellings of a key that must never appear anywhere: hex (both cases), base64, base64url, unpadded. */
export function keySpellings(key: Buffer): string[] {
  const base64 = key.toString('base64');
  return [key.toString('hex'), key.toString('hex').toUpperCase(), base64, key.toString('base64url'), base64.replace(/=+$/, '')];
}

/** Which spellings of the keys (and their raw bytes) `bytes` holds, as "<where> holds …" lines. */
export function keyLeaks(where: string, bytes: Buffer | string, keys: Buffer[]): string[] {
  const buffer = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const text = buffer.toString('latin1');
  return keys.flatMap((key) => [
    ...(buffer.includes(key) ? [`${where} holds the key bytes`] : []),
    ...keySpellings(key).filter((spelling) => text.includes(spelling)).map((spelling) => `${where} holds ${spelling}`),
  ]);
}

/** Every file below `folder` (none when it does not exist; itself when it is a file). */
export async function filesUnder(folder: string): Promise<string[]> {
  if ((await stat(folder).catch(() => undefined))?.isFile()) return [folder];
  const entries = await readdir(folder, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** The key leaks of every file below `folder`. */
export async function keyLeaksUnder(folder: string, keys: Buffer[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of await filesUnder(folder)) found.push(...keyLeaks(file, await readFile(file), keys));
  return found;
}

/**
 * `vidpipe validate <dir> --key …` passes, its decrypted-samples-decode check included (once for
 * HLS, once for the MPD unless `hlsOnly`), and returns the checks.
 */
export async function assertValidatesDecrypted(dir: string, keys: HexKey[], options: { hlsOnly?: boolean } = {}): Promise<{ id: string; status: string; message: string }[]> {
  const run = await runCli(['validate', dir, '--json', ...keys.flatMap(({ kid, key }) => ['--key', `${kid}:${key}`])]);
  let report: { ok: boolean; checks: { id: string; status: string; message: string }[] };
  try {
    report = JSON.parse(run.stdout);
  } catch {
    assert.fail(`validate printed no JSON (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
  const failed = report.checks.filter((check) => check.status === 'fail');
  assert.deepEqual(failed, [], `validate ${dir} fails`);
  assert.equal(run.code, 0, run.stderr);
  const decoded = report.checks.filter((check) => check.id === 'decrypted-samples-decode');
  assert.deepEqual(decoded.map((check) => check.status), options.hlsOnly ? ['pass'] : ['pass', 'pass'], JSON.stringify(decoded));
  return report.checks;
}
