/**
 * Per-upload settings: object metadata (`x-amz-meta-vidpipe-ladder: 720p,360p` …) and a sidecar
 * object `<key>.vidpipe.json` beside the upload, the sidecar winning. Both go through the option
 * table of src/settings/job-settings.ts, as typed values (JSON arrays and numbers as they are,
 * metadata text as the command line would give it): a bad value fails that upload with the
 * flag's own message, and only the entries marked `sidecar` may be set. An upload must never make
 * the watcher read its local files, so a ladder given as a path (`profile.json`) is refused.
 */
import { VidpipeError } from '../errors.js';
import { parseUploadOverrides, type JobSettings, type UploadOverrides } from '../settings/job-settings.js';

export const SIDECAR_SUFFIX = '.vidpipe.json';
const METADATA_PREFIX = 'vidpipe-';

export function isSidecarKey(key: string): boolean {
  return key.endsWith(SIDECAR_SUFFIX);
}

export function sidecarKeyFor(key: string): string {
  return key + SIDECAR_SUFFIX;
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
  return parseUploadOverrides(record, where);
}

export function overridesFromSidecar(text: string, where: string): UploadOverrides {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new VidpipeError('USAGE', `${where}: not valid JSON: ${(error as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new VidpipeError('USAGE', `${where}: expected a JSON object such as {"ladder": "720p,360p", "preset": "fast"}`);
  }
  return parseUploadOverrides(data as Record<string, unknown>, where);
}

/** The watcher's own settings with an upload's overrides on top (metadata first, then the sidecar). */
export function applyOverrides(base: JobSettings, ...overrides: UploadOverrides[]): { settings: JobSettings; name?: string; tags?: Record<string, string> } {
  const settings = overrides.reduce<JobSettings>((current, next) => ({ ...current, ...next.settings }), base);
  const name = overrides.reduce<string | undefined>((current, next) => next.name ?? current, undefined);
  const tags = overrides.reduce<Record<string, string> | undefined>((current, next) => (next.tags ? { ...current, ...next.tags } : current), undefined);
  return { settings, ...(name === undefined ? {} : { name }), ...(tags === undefined ? {} : { tags }) };
}
