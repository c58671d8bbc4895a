/**
 * The typed model of a protected job's keys (ProtectionKeys): what every key source produces
 * (keys.ts loads it) and what the encryptor and the manifest writers consume. It holds key
 * material: it lives in memory only, never in settings, records or messages; what may be stored
 * of it is a ProtectionRecord (keys.ts).
 */
import type { EncryptionScheme, JobSettings } from '../settings/job-settings.js';
import type { DrmSystemName } from './drm-systems.js';

export type TrackType = 'video' | 'audio';
export const TRACK_TYPES: readonly TrackType[] = ['video', 'audio'];

/** One content key. */
export interface TrackKey {
  /** 16 bytes. Always set for 'cbcs' and 'cenc' (the loader refuses a source without one); `aes-128` may have none. */
  kid?: Buffer;
  /** 16 bytes (AES-128). */
  key: Buffer;
  /**
   * 16 bytes the key source requires as the IV (CPIX `@explicitIV`): the constant IV of 'cbcs',
   * the IV attribute of an AES-128 EXT-X-KEY. Undefined: the encryptor chooses.
   */
  explicitIv?: Buffer;
}

/** One DRM system's signalling for one key, as a CPIX document gives it (decoded from base64). */
export interface DrmSignalling {
  /** Lower-case UUID form. */
  systemId: string;
  /** Known systems by name (drm-systems.ts); undefined for another system, carried through as given. */
  system?: DrmSystemName;
  /** The key it is for. */
  kid: Buffer;
  /** CPIX `@name`: a DASH ContentProtection `@value` for this system. */
  name?: string;
  /** A complete `pssh` box for the init segments (and the MPD's `cenc:pssh`, base64). */
  pssh?: Buffer;
  /** An XML fragment to put inside this system's DASH `ContentProtection` element. */
  contentProtectionData?: string;
  /** DASH ContentProtection `@robustness`. */
  robustness?: string;
  /** Complete HLS lines: `media` for media playlists (EXT-X-KEY), `multivariant` for the multivariant playlist (EXT-X-SESSION-KEY). */
  hls?: { media?: string; multivariant?: string };
  /** The EXT-X-KEY URI (FairPlay's `skd://…`), from CPIX 2.1's `URIExtXKey`. */
  uriExtXKey?: string;
  /** HLS `ALLOWED-CPC` value for this system. */
  hlsAllowedCpc?: string;
}

/** Everything the encryptor and the manifest writers need, from one key source. */
export interface ProtectionKeys {
  scheme: EncryptionScheme;
  /** The key of each track type; one key for all tracks is the same object under both. */
  keys: Partial<Record<TrackType, TrackKey>>;
  /** Per DRM system and key, what goes into the init segments and the manifests. */
  systems: DrmSignalling[];
  /** `--key-uri`: the URI HLS playlists give for the key (AES-128, or KEYFORMAT "identity"). */
  keyUri?: string;
  /** Which source gave them (messages, the record). */
  source: KeySourceName;
}

export type KeySourceName = 'key' | 'key-file' | 'cpix';

/** What a key source reads: the keys per track type and the DRM signalling. */
export interface LoadedKeys {
  keys: Partial<Record<TrackType, TrackKey>>;
  systems: DrmSignalling[];
}

export interface KeySourceOptions {
  signal?: AbortSignal;
}

/** One way of getting keys: whether the settings name it, and reading it. */
export interface KeySource {
  name: KeySourceName;
  given(settings: JobSettings): boolean;
  load(settings: JobSettings, options: KeySourceOptions): Promise<LoadedKeys>;
}

