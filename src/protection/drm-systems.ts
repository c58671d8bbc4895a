/**
 * The DRM systems vidpipe knows by their SystemID (dashif.org/identifiers/content_protection):
 * the UUID of a `pssh` box, of a CPIX `DRMSystem@systemId`, and of a DASH
 * `ContentProtection@schemeIdUri="urn:uuid:…"`. Other system IDs in a CPIX document are carried
 * through as given, unnamed.
 */
export type DrmSystemName = 'widevine' | 'playready' | 'fairplay' | 'clearkey' | 'common';

export interface DrmSystem {
  name: DrmSystemName;
  /** Lower-case UUID form. */
  systemId: string;
  /** What messages and docs call it. */
  label: string;
  /** HLS KEYFORMAT of its EXT-X-KEY tags, where it has one. */
  hlsKeyFormat?: string;
}

export const DRM_SYSTEMS: readonly DrmSystem[] = [
  { name: 'widevine', systemId: 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed', label: 'Widevine', hlsKeyFormat: 'urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed' },
  { name: 'playready', systemId: '9a04f079-9840-4286-ab92-e65be0885f95', label: 'PlayReady', hlsKeyFormat: 'com.microsoft.playready' },
  { name: 'fairplay', systemId: '94ce86fb-07ff-4f43-adb8-93d2fa968ca2', label: 'FairPlay', hlsKeyFormat: 'com.apple.streamingkeydelivery' },
  // DASH-IF's Clear Key system ID: a DASH ContentProtection element for org.w3.clearkey (no pssh of its own).
  { name: 'clearkey', systemId: 'e2719d58-a985-b3c9-781a-b030af78d30e', label: 'Clear Key (DASH-IF)', hlsKeyFormat: 'org.w3.clearkey' },
  // W3C "Common" pssh format (EME cenc init data): a version 1 pssh listing the KIDs, what browsers' Clear Key reads.
  { name: 'common', systemId: '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b', label: 'W3C Common PSSH (Clear Key)' },
];

/** The known system with this ID (any case), or undefined. */
export function drmSystemById(systemId: string): DrmSystem | undefined {
  const id = systemId.toLowerCase();
  return DRM_SYSTEMS.find((system) => system.systemId === id);
}

export function drmSystem(name: DrmSystemName): DrmSystem {
  return DRM_SYSTEMS.find((system) => system.name === name)!;
}
