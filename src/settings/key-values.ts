/**
 * How a 16-byte key or key ID is written: hex (32 digits), base64 or base64url (the EME and JWK
 * spelling), and for a key ID also the UUID form of DASH's `cenc:default_KID` and CPIX's `@kid`.
 * The option table (`--key`, `--key-id`) and the key sources (src/protection/) read values
 * through these functions. They return undefined instead of throwing: the caller's message must
 * not echo a key.
 */

/** AES-128 keys and CENC key IDs are both 16 bytes. */
export const KEY_BYTES = 16;

const HEX = /^(?:0x)?([0-9a-f]{32})$/i;
const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Strict base64 (or base64url, padding optional): undefined for anything Buffer.from would
 * quietly skip or truncate (stray characters, a wrong length).
 */
export function decodeBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || (!BASE64.test(compact) && !BASE64URL.test(compact))) return undefined;
  const unpadded = compact.replace(/=+$/, '');
  if (unpadded.length % 4 === 1 || (compact.includes('=') && compact.length % 4 !== 0)) return undefined;
  const bytes = Buffer.from(unpadded.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  // Re-encoding gives back the text exactly unless bits were dropped (non-canonical trailing bits).
  return bytes.toString('base64').replace(/=+$/, '') === unpadded.replace(/-/g, '+').replace(/_/g, '/') ? bytes : undefined;
}

/** 16 bytes from 32 hex digits (`0x` allowed) or base64/base64url; undefined otherwise. */
export function decodeKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  const hex = HEX.exec(trimmed);
  if (hex) return Buffer.from(hex[1]!, 'hex');
  const bytes = decodeBase64(trimmed);
  return bytes?.length === KEY_BYTES ? bytes : undefined;
}

/** A key ID: as a key, or in UUID form (`01234567-89ab-cdef-0123-456789abcdef`). */
export function decodeKeyId(text: string): Buffer | undefined {
  const uuid = UUID.exec(text.trim());
  if (uuid) return Buffer.from(uuid.slice(1).join(''), 'hex');
  return decodeKey(text);
}

/** A key ID in the UUID form manifests and CPIX use (lower case). */
export function uuidOf(kid: Buffer): string {
  const hex = kid.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
