/**
 * Per-upload settings: object metadata (`x-amz-meta-vidpipe-ladder: 720p,360p` …) and a sidecar
 * object `<key>.vidpipe.json` beside the upload, the sidecar winning. Both go through the option
 * table of src/settings/job-settings.ts, as typed values (JSON arrays and numbers as they are,
 * metadata text as the command line would give it): a bad value fails that upload with the
 * flag's own message, and only the entries marked `sidecar` may be set. An upload must never make
 * the watcher read its local files, so a ladder given as a path (`profile.json`) is refused.
 *
 * What an upload may ask for is bounded (UPLOAD_LIMITS): whatever it writes ends up in the
 * database (`videos.tags`, the job's options) and in every `--json` line, and a stranger's 5 MB
 * tag must fail that upload with a reason, not grow the database of a watcher serving everyone.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { VidpipeError } from '../errors.js';
import { assertProtectionSettings, parseUploadOverrides, withoutKeySource, type JobSettings, type UploadOverrides } from '../settings/job-settings.js';
import { readTextObject } from '../storage/s3.js';

export const SIDECAR_SUFFIX = '.vidpipe.json';
const METADATA_PREFIX = 'vidpipe-';

export function isSidecarKey(key: string): boolean {
  return key.endsWith(SIDECAR_SUFFIX);
}

export function sidecarKeyFor(key: string): string {
  return key + SIDECAR_SUFFIX;
}

/** The most an upload's sidecar and metadata may hold (docs/s3.md, "Per-upload settings"). */
export const UPLOAD_LIMITS = {
  /** Bytes of a sidecar object: a larger one is refused before it is read whole, let alone parsed. */
  sidecarBytes: 64 * 1024,
  /** Characters of any one text, key or value (a tag, the package name, a ladder). */
  textLength: 1024,
  /** Tags one sidecar, or one object's metadata, may set. */
  tags: 64,
  /** Levels of nesting of a sidecar's JSON: `{"ladder": [{"size": 360}]}` is three. */
  depth: 4,
} as const;

/** Refuses an upload's settings that exceed UPLOAD_LIMITS, naming where (the sidecar's URI, "metadata of …") and the limit. */
function checkUploadBounds(data: unknown, where: string): void {
  const refuse = (what: string) => new VidpipeError('USAGE', `${where}: ${what}; the upload is not processed`, { hint: 'see "Per-upload settings" in docs/s3.md for what a sidecar or metadata may hold' });
  // Iterative, so no depth of nesting can exhaust the stack before it is refused.
  const pending: { value: unknown; path: string; depth: number }[] = [{ value: data, path: '', depth: 1 }];
  while (pending.length > 0) {
    const { value, path, depth } = pending.pop()!;
    if (typeof value === 'string' && value.length > UPLOAD_LIMITS.textLength) {
      throw refuse(`"${path}" is ${value.length} characters long, more than the ${UPLOAD_LIMITS.textLength} allowed`);
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth > UPLOAD_LIMITS.depth) throw refuse(`"${path}" is nested more than ${UPLOAD_LIMITS.depth} levels deep`);
    for (const [key, child] of Object.entries(value)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (key.length > UPLOAD_LIMITS.textLength) throw refuse(`a key of "${path}" is ${key.length} characters long, more than the ${UPLOAD_LIMITS.textLength} allowed`);
      pending.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
}

function checkTagCount(overrides: UploadOverrides, where: string): UploadOverrides {
  const count = Object.keys(overrides.tags ?? {}).length;
  if (count > UPLOAD_LIMITS.tags) {
    throw new VidpipeError('USAGE', `${where}: sets ${count} tags, more than the ${UPLOAD_LIMITS.tags} allowed; the upload is not processed`, {
      hint: 'see "Per-upload settings" in docs/s3.md for what a sidecar or metadata may hold',
    });
  }
  return overrides;
}

/**
 * The sidecar of an upload, read no further than UPLOAD_LIMITS.sidecarBytes; undefined when there
 * is none. A larger one fails the upload (USAGE, for good) with the sidecar and the limit named.
 */
export async function readSidecar(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<string | undefined> {
  return readTextObject(client, bucket, key, { signal, limit: { maxBytes: UPLOAD_LIMITS.sidecarBytes, what: 'a sidecar' } });
}

/** `x-amz-meta-vidpipe-*` values as the SDK returns them (names lower-cased, prefix stripped): kebab-case flag names, `tag-<key>`. */
export function overridesFromMetadata(metadata: Record<string, string>, where: string): UploadOverrides {
  const record: Record<string, unknown> = {};
  for (const [full, value] of Object.entries(metadata)) {
    const name = full.toLowerCase();
    if (!name.startsWith(METADATA_PREFIX)) continue;
    const field = name.slice(METADATA_PREFIX.length);
    if (field.startsWith('tag-')) record.tags = { ...(record.tags as Record<string, string> | undefined), [field.slice(4)]: value };
    else record[field] = value;
  }
  checkUploadBounds(record, where);
  return checkTagCount(parseUploadOverrides(record, where), where);
}

export function overridesFromSidecar(text: string, where: string): UploadOverrides {
  const bytes = Buffer.byteLength(text);
  if (bytes > UPLOAD_LIMITS.sidecarBytes) {
    throw new VidpipeError('USAGE', `${where}: a sidecar is at most ${UPLOAD_LIMITS.sidecarBytes} bytes; this one is ${bytes} bytes; the upload is not processed`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new VidpipeError('USAGE', `${where}: not valid JSON: ${(error as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new VidpipeError('USAGE', `${where}: expected a JSON object such as {"ladder": "720p,360p", "preset": "fast"}`);
  }
  checkUploadBounds(data, where);
  return checkTagCount(parseUploadOverrides(data as Record<string, unknown>, where), where);
}

/** The watcher's own settings with an upload's overrides on top (metadata first, then the sidecar). */
export function applyOverrides(base: JobSettings, ...overrides: UploadOverrides[]): { settings: JobSettings; name?: string; tags?: Record<string, string> } {
  const merged = overrides.reduce<JobSettings>((current, next) => ({ ...current, ...next.settings }), base);
  // An upload may ask for --encrypt (or TS segments): the keys still come from the watcher's own
  // key source, which a clear upload's job does not carry.
  const settings = merged.encrypt ? merged : withoutKeySource(merged);
  assertProtectionSettings(settings);
  const name = overrides.reduce<string | undefined>((current, next) => next.name ?? current, undefined);
  const tags = overrides.reduce<Record<string, string> | undefined>((current, next) => (next.tags ? { ...current, ...next.tags } : current), undefined);
  return { settings, ...(name === undefined ? {} : { name }), ...(tags === undefined ? {} : { tags }) };
}
