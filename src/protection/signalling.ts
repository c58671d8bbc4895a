/**
 * What a protected track's init segment and manifests say about its encryption, from the job's
 * ProtectionKeys (content-protection.md §2–4): the pssh boxes of the init, the EXT-X-KEY and
 * EXT-X-SESSION-KEY attribute lists, the DASH ContentProtection elements. Key IDs and the DRM
 * systems' data only: never a key.
 */
import { VidpipeError } from '../errors.js';
import type { DashContentProtection, TrackProtection } from '../manifest/model.js';
import { uuidOf } from '../settings/key-values.js';
import { commonPssh } from './cenc-boxes.js';
import { drmSystem, drmSystemById } from './drm-systems.js';
import { keyForTrack, type TrackKey, type DrmSignalling, type ProtectionKeys, type TrackType } from './keys.js';

const MP4_PROTECTION_SCHEME = 'urn:mpeg:dash:mp4protection:2011';
/** HLS METHOD of each sample scheme (RFC 8216 §4.3.2.4; SAMPLE-AES-CTR: draft-pantos-hls-rfc8216bis). */
const SAMPLE_METHODS = { cbcs: 'SAMPLE-AES', cenc: 'SAMPLE-AES-CTR' } as const;

/** RFC 8216 §4.2 quoted-string: a value with a double quote or a line break cannot be written. */
function quoted(value: string, what: string): string {
  if (/["\r\n]/.test(value)) throw new VidpipeError('USAGE', `${what} contains a double quote or a line break, which an HLS playlist cannot carry`);
  return `"${value}"`;
}

/** A complete `#EXT-X-KEY:` / `#EXT-X-SESSION-KEY:` line of a key provider, as an attribute list. */
function attributesOfLine(line: string): string {
  return line.trim().replace(/^#EXT-X-(SESSION-)?KEY:/, '');
}

/** The key provider's signalling for this key. */
function systemsFor(keys: ProtectionKeys, key: TrackKey): DrmSignalling[] {
  return keys.systems.filter((system) => key.kid && system.kid.equals(key.kid));
}

function requireKid(key: TrackKey, keys: ProtectionKeys, type: TrackType): Buffer {
  if (!key.kid) throw new VidpipeError('USAGE', `--encrypt ${keys.scheme} needs a key ID for the ${type} key`);
  return key.kid;
}

/**
 * The pssh boxes of a track's init segment: each DRM system's as the key source gave it, and the
 * W3C common one listing the KID (what browsers' Clear Key reads) unless the source gave one.
 */
export function initPsshBoxes(keys: ProtectionKeys, type: TrackType): Buffer[] {
  const key = keyForTrack(keys, type);
  const kid = requireKid(key, keys, type);
  const systems = systemsFor(keys, key);
  const given = systems.flatMap((system) => (system.pssh ? [system.pssh] : []));
  const hasCommon = systems.some((system) => system.system === 'common' && system.pssh);
  return hasCommon ? given : [...given, commonPssh([kid])];
}

/** EXT-X-KEY attribute lists for one key under a sample scheme: one per KEYFORMAT. */
function sampleKeyTags(keys: ProtectionKeys, key: TrackKey, kid: Buffer, method: string, playlist: 'media' | 'multivariant'): string[] {
  const tags: string[] = [];
  // KEYFORMAT "identity": the player fetches the 16 key bytes from --key-uri (Shaka Player; RFC 8216 §5.1).
  if (keys.keyUri) tags.push(`METHOD=${method},URI=${quoted(keys.keyUri, '--key-uri')},KEYFORMAT="identity",KEYFORMATVERSIONS="1"`);
  const systems = systemsFor(keys, key);
  for (const system of systems) {
    const line = system.hls?.[playlist];
    if (line) {
      tags.push(attributesOfLine(line));
      continue;
    }
    const known = system.system ? drmSystem(system.system) : drmSystemById(system.systemId);
    if (!known?.hlsKeyFormat) continue;
    const uri = system.uriExtXKey ?? (known.name === 'clearkey' ? `data:text/plain;base64,${kid.toString('base64')}` : system.pssh ? `data:text/plain;base64,${system.pssh.toString('base64')}` : undefined);
    if (!uri) continue;
    const keyId = known.name === 'widevine' ? `,KEYID=0x${kid.toString('hex').toUpperCase()}` : '';
    tags.push(`METHOD=${method},URI=${quoted(uri, `the ${known.label} key URI`)}${keyId},KEYFORMAT=${quoted(known.hlsKeyFormat, 'KEYFORMAT')},KEYFORMATVERSIONS="1"`);
  }
  // Raw keys or a key file name no DRM system: Clear Key (hls.js reads the KID from the data: URI).
  if (tags.length === 0) {
    tags.push(`METHOD=${method},URI="data:text/plain;base64,${kid.toString('base64')}",KEYFORMAT="${drmSystem('clearkey').hlsKeyFormat}",KEYFORMATVERSIONS="1"`);
  }
  return [...new Set(tags)];
}

/** The ContentProtection elements of an AdaptationSet of this key (DASH-IF IOP 7.4). */
function dashElements(keys: ProtectionKeys, key: TrackKey, kid: Buffer, pssh: Buffer[]): DashContentProtection[] {
  const elements: DashContentProtection[] = [{ schemeIdUri: MP4_PROTECTION_SCHEME, value: keys.scheme, defaultKid: uuidOf(kid) }];
  const systems = systemsFor(keys, key);
  for (const system of systems) {
    elements.push({
      schemeIdUri: `urn:uuid:${system.systemId}`,
      ...(system.name ? { value: system.name } : system.system === 'clearkey' ? { value: 'ClearKey1.0' } : {}),
      ...(system.robustness ? { robustness: system.robustness } : {}),
      ...(system.contentProtectionData ? { childrenXml: system.contentProtectionData } : system.pssh ? { pssh: system.pssh.toString('base64') } : {}),
    });
  }
  const common = drmSystem('common');
  if (!systems.some((system) => system.systemId === common.systemId)) {
    // The init's common pssh, repeated in the MPD: dash.js builds Clear Key requests from it.
    const box = pssh.find((candidate) => candidate.subarray(12, 28).toString('hex') === common.systemId.replace(/-/g, ''));
    if (box) elements.push({ schemeIdUri: `urn:uuid:${common.systemId}`, pssh: box.toString('base64') });
  }
  if (systems.length === 0) elements.push({ schemeIdUri: `urn:uuid:${drmSystem('clearkey').systemId}`, value: 'ClearKey1.0' });
  return elements;
}

/** What the manifests say of a track of this type under 'cbcs' or 'cenc' (pssh: its init's boxes). */
export function sampleSchemeSignalling(keys: ProtectionKeys, type: TrackType, pssh: Buffer[]): TrackProtection {
  if (keys.scheme === 'aes-128') throw new VidpipeError('INTERNAL', 'sample scheme signalling asked for aes-128');
  const key = keyForTrack(keys, type);
  const kid = requireKid(key, keys, type);
  const method = SAMPLE_METHODS[keys.scheme];
  return {
    hlsKeys: sampleKeyTags(keys, key, kid, method, 'media'),
    hlsSessionKeys: sampleKeyTags(keys, key, kid, method, 'multivariant'),
    dash: dashElements(keys, key, kid, pssh),
  };
}

/**
 * HLS AES-128 (RFC 8216 §4.3.2.4): the key fetched from --key-uri; an IV attribute only when
 * the key source fixes one, else each segment's media sequence number is its IV. DASH has no
 * signalling for it (no ContentProtection: no MPD is written).
 */
export function aes128Signalling(keys: ProtectionKeys, type: TrackType): TrackProtection {
  const key = keyForTrack(keys, type);
  if (!keys.keyUri) throw new VidpipeError('USAGE', '--encrypt aes-128 needs --key-uri: the URI the playlists give players to fetch the key');
  const iv = key.explicitIv ? `,IV=0x${key.explicitIv.toString('hex').toUpperCase()}` : '';
  const tag = `METHOD=AES-128,URI=${quoted(keys.keyUri, '--key-uri')}${iv}`;
  return { hlsKeys: [tag], hlsSessionKeys: [tag], dash: [] };
}
