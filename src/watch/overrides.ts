/**
 * Per-upload settings: object metadata (`x-amz-meta-vidpipe-ladder: 720p,360p` …) and a sidecar
 * object `<key>.vidpipe.json` beside the upload, the sidecar winning. Both are turned into the
 * same strings the command line gives and validated by the same code (toTranscodeSettings), so a
 * bad value fails that upload with the flag's own message. An upload must never make the watcher
 * read its local files, so a ladder given as a path (`profile.json`) is refused.
 */
import { VidpipeError } from '../errors.js';
import type { TranscodeSettings } from '../core/plan.js';
import { toTranscodeSettings, type RawTranscodeOptions } from '../cli/options.js';

export const SIDECAR_SUFFIX = '.vidpipe.json';
const METADATA_PREFIX = 'vidpipe-';

export interface Overrides {
  ladder?: string;
  codecs?: string;
  preset?: string;
  segmentDuration?: string;
  chunkDuration?: string;
  audioBitrate?: string;
  audioOnly?: boolean;
  thumbnails?: boolean;
  name?: string;
  tags?: Record<string, string>;
}

type Field = keyof Overrides;

/** Sidecar/metadata spelling → field; metadata names are the kebab-case flag names. */
const FIELDS: Record<string, Field> = {
  ladder: 'ladder',
  codecs: 'codecs',
  preset: 'preset',
  segmentDuration: 'segmentDuration',
  'segment-duration': 'segmentDuration',
  chunkDuration: 'chunkDuration',
  'chunk-duration': 'chunkDuration',
  audioBitrate: 'audioBitrate',
  'audio-bitrate': 'audioBitrate',
  audioOnly: 'audioOnly',
  'audio-only': 'audioOnly',
  thumbnails: 'thumbnails',
  name: 'name',
  tags: 'tags',
};

export function isSidecarKey(key: string): boolean {
  return key.endsWith(SIDECAR_SUFFIX);
}

export function sidecarKeyFor(key: string): string {
  return key + SIDECAR_SUFFIX;
}

/** `x-amz-meta-vidpipe-*` values as the SDK returns them (names lower-cased, prefix stripped). */
export function overridesFromMetadata(metadata: Record<string, string>, where: string): Overrides {
  const entries = Object.entries(metadata)
    .filter(([name]) => name.toLowerCase().startsWith(METADATA_PREFIX))
    .map(([name, value]) => [name.toLowerCase().slice(METADATA_PREFIX.length), value] as const);
  const raw: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    if (name.startsWith('tag-')) {
      raw.tags = { ...(raw.tags as Record<string, string> | undefined), [name.slice(4)]: value };
    } else {
      raw[name] = value === 'true' ? true : value === 'false' ? false : value;
    }
  }
  return parseOverrides(raw, where);
}

export function overridesFromSidecar(text: string, where: string): Overrides {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new VidpipeError('USAGE', `${where}: not valid JSON: ${(error as Error).message}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new VidpipeError('USAGE', `${where}: expected a JSON object such as {"ladder": "720p,360p", "preset": "fast"}`);
  }
  return parseOverrides(data as Record<string, unknown>, where);
}

function parseOverrides(raw: Record<string, unknown>, where: string): Overrides {
  const out: Overrides = {};
  for (const [name, value] of Object.entries(raw)) {
    const field = FIELDS[name];
    if (field === undefined) {
      throw new VidpipeError('USAGE', `${where}: unknown setting "${name}"`, {
        hint: `known settings: ${[...new Set(Object.values(FIELDS))].join(', ')}`,
      });
    }
    const problem = (expected: string) => new VidpipeError('USAGE', `${where}: "${name}" must be ${expected}`);
    switch (field) {
      case 'audioOnly':
      case 'thumbnails':
        if (typeof value !== 'boolean') throw problem('true or false');
        out[field] = value;
        break;
      case 'tags':
        if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
          throw problem('an object of strings');
        }
        out.tags = value as Record<string, string>;
        break;
      case 'ladder':
        out.ladder = ladderText(value, problem);
        break;
      case 'codecs':
        out.codecs = Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.join(',') : scalarText(value, problem);
        break;
      default:
        out[field] = scalarText(value, problem);
    }
  }
  return out;
}

function scalarText(value: unknown, problem: (expected: string) => VidpipeError): string {
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw problem('a string or a number');
}

/** "720p,360p", ["720p", "360p"], [{"size": 720, "kbps": 3000}] or {"rungs": […]} → "720p,360p:730". */
function ladderText(value: unknown, problem: (expected: string) => VidpipeError): string {
  const list = Array.isArray(value) ? value : (value as { rungs?: unknown } | null)?.rungs;
  if (Array.isArray(list)) {
    return list
      .map((rung) => {
        if (typeof rung === 'string') return rung;
        const { size, kbps } = (rung ?? {}) as { size?: unknown; kbps?: unknown };
        if (typeof size !== 'number') throw problem('rungs like "720p" or {"size": 720, "kbps": 3000}');
        return typeof kbps === 'number' ? `${size}p:${kbps}` : `${size}p`;
      })
      .join(',');
  }
  const text = scalarText(value, problem);
  if (/\.json$/i.test(text) || text.includes('/')) throw problem('rungs, not a file path');
  return text;
}

/** The watcher's own flags with an upload's overrides on top, validated like the command line. */
export function applyOverrides(
  base: RawTranscodeOptions,
  overrides: Overrides,
  where: string,
): { settings: TranscodeSettings; thumbnails: boolean; name?: string; tags?: Record<string, string> } {
  const raw: RawTranscodeOptions = {
    ...base,
    ...(overrides.ladder === undefined ? {} : { ladder: overrides.ladder }),
    ...(overrides.codecs === undefined ? {} : { codecs: overrides.codecs }),
    ...(overrides.preset === undefined ? {} : { preset: overrides.preset }),
    ...(overrides.segmentDuration === undefined ? {} : { segmentDuration: overrides.segmentDuration }),
    ...(overrides.chunkDuration === undefined ? {} : { chunkDuration: overrides.chunkDuration }),
    ...(overrides.audioBitrate === undefined ? {} : { audioBitrate: overrides.audioBitrate }),
    ...(overrides.audioOnly === undefined ? {} : { audioOnly: overrides.audioOnly }),
    ...(overrides.thumbnails === undefined ? {} : { thumbnails: overrides.thumbnails }),
  };
  try {
    return {
      settings: toTranscodeSettings(raw),
      thumbnails: raw.thumbnails !== false,
      name: overrides.name,
      tags: overrides.tags,
    };
  } catch (error) {
    if (error instanceof VidpipeError) throw new VidpipeError(error.code, `${where}: ${error.message}`, { hint: error.hint, cause: error });
    throw error;
  }
}
