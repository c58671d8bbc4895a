/**
 * The keys a protected job encrypts with, in one typed model (ProtectionKeys), from whichever
 * key source the settings name: raw values (`--key-id`/`--key`), a key file (key-file.ts) or a
 * CPIX document (cpix.ts). One small interface per source, a list of them, one loader: the
 * encryptor and the manifest writers read ProtectionKeys and never ask where the keys came from.
 *
 * ProtectionKeys holds key material: it lives in memory only. What may be stored or shown of it
 * is `protectionRecord` (the scheme, the KIDs and the DRM systems' IDs).
 */
import { VidpipeError } from '../errors.js';
import type { EncryptionScheme, JobSettings } from '../settings/job-settings.js';
import { uuidOf } from '../settings/key-values.js';
import { cpixKeySource } from './cpix.js';
import { keyFileSource } from './key-file.js';
import { TRACK_TYPES, type TrackKey, type KeySource, type KeySourceOptions, type ProtectionKeys, type TrackType } from './model.js';

export * from './model.js';

/** `--key-id` and `--key` (VIDPIPE_KEY): one key for every track. */
const rawKeySource: KeySource = {
  name: 'key',
  given: (settings) => settings.key !== undefined,
  load: async (settings) => {
    const key: TrackKey = { key: Buffer.from(settings.key!, 'hex'), ...(settings.keyId ? { kid: Buffer.from(settings.keyId, 'hex') } : {}) };
    return { keys: { video: key, audio: key }, systems: [] };
  },
};

/**
 * In this order: a worker's own VIDPIPE_KEY is in every job's settings it runs (withOwnSecrets),
 * so a job that names a key file or a CPIX document must take its keys from there, not from it.
 */
const KEY_SOURCES: readonly KeySource[] = [keyFileSource, cpixKeySource, rawKeySource];

/**
 * The keys of a job that asks for `--encrypt`, read from its key source on this machine
 * (a worker reads its own: VIDPIPE_KEY, the key file, the CPIX URL); undefined for a clear job.
 */
export async function loadProtectionKeys(settings: JobSettings, options: KeySourceOptions = {}): Promise<ProtectionKeys | undefined> {
  const scheme = settings.encrypt;
  if (!scheme) return undefined;
  const source = KEY_SOURCES.find((candidate) => candidate.given(settings));
  if (!source) {
    throw new VidpipeError('USAGE', `--encrypt ${scheme} needs a key: --key-id and --key (or VIDPIPE_KEY), --key-file, or --cpix`, {
      hint: settings.keyId ? 'a worker reads --key from its own VIDPIPE_KEY environment variable: set it on every worker' : 'see "Key sources" in docs/content-protection.md',
    });
  }
  const loaded = await source.load(settings, options);
  const keys = [...new Set(Object.values(loaded.keys))];
  if (keys.length === 0) throw new VidpipeError('USAGE', `the ${source.name} gives no content key`);
  if (scheme !== 'aes-128') {
    for (const type of TRACK_TYPES) {
      if (loaded.keys[type] && !loaded.keys[type].kid) throw new VidpipeError('USAGE', `--encrypt ${scheme} needs a key ID for the ${type} key (the KID written into the init segments and manifests)`);
    }
  }
  return { scheme, keys: loaded.keys, systems: loaded.systems, ...(settings.keyUri ? { keyUri: settings.keyUri } : {}), source: source.name };
}

/** The key of a track type; a source that gives none for it (a CPIX document with video keys only) is refused here. */
export function keyForTrack(keys: ProtectionKeys, type: TrackType): TrackKey {
  const key = keys.keys[type];
  if (!key) throw new VidpipeError('USAGE', `the ${keys.source} gives no key for ${type} tracks`, { hint: 'give a key for every track type the job makes (docs/content-protection.md, "Key sources")' });
  return key;
}

/** What may be stored and shown of a job's protection: the scheme, the key IDs (UUID form) and the DRM systems. Never a key. */
export interface ProtectionRecord {
  scheme: EncryptionScheme;
  kids: Partial<Record<TrackType, string>>;
  systems: string[];
}

export function protectionRecord(keys: ProtectionKeys): ProtectionRecord {
  const kids: Partial<Record<TrackType, string>> = {};
  for (const type of TRACK_TYPES) {
    const kid = keys.keys[type]?.kid;
    if (kid) kids[type] = uuidOf(kid);
  }
  return { scheme: keys.scheme, kids, systems: [...new Set(keys.systems.map((system) => system.systemId))] };
}
