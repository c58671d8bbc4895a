/**
 * Parsing of the places vidpipe reads from and publishes to (`/srv/vod/talk`, `s3://bucket/vod/talk/`)
 * and the naming rules that keep object keys and folder names inside the place the user chose.
 */
import { VidpipeError } from '../errors.js';

/** One object named by an `s3://bucket/key` URI (an input file, not a package folder). */
export interface S3ObjectRef {
  bucket: string;
  key: string;
}

const S3_SCHEME = /^s3:\/\//i;

/**
 * Parses `s3://bucket/path/to/file.mp4` as one object; the key is kept exactly (no trailing '/'):
 * only whitespace before the scheme is dropped, since a key may end with a space, tab or line break.
 */
export function parseObjectUri(text: string): S3ObjectRef {
  requireNonEmpty(text, 'S3 URI');
  const trimmed = text.trimStart();
  if (!S3_SCHEME.test(trimmed)) {
    throw new VidpipeError('USAGE', `"${text}" is not an s3:// URI`);
  }
  const { bucket, rest } = splitS3Uri(trimmed);
  if (rest === '' || rest.endsWith('/')) {
    throw new VidpipeError('USAGE', `"${text}" names a folder, not an object`, {
      hint: 'give the full key of the file, e.g. s3://bucket/videos/talk.mp4',
    });
  }
  return { bucket, key: rest };
}

/**
 * Parses what `vidpipe watch` watches, `s3://bucket/prefix`, keeping the prefix literally (see
 * `literalPrefix`); publishing locations go through `parseLocation`, which normalises instead.
 */
export function parseWatchedUri(text: string): { bucket: string; prefix: string } {
  const { bucket, rest } = splitS3Uri(requireNonEmpty(text, 'S3 URI'));
  return { bucket, prefix: literalPrefix(rest) };
}

/**
 * A prefix that keys are matched against, taken as written: S3 keys are literal strings that may
 * start with '/', hold '//' or any character, so `/lead/` must match `/lead/a.mp4` and not
 * `lead/a.mp4`. Only a missing trailing '/' is added, so that `uploads` means the folder and does
 * not also match `uploads-old/`.
 */
export function literalPrefix(raw: string): string {
  return raw === '' || raw.endsWith('/') ? raw : `${raw}/`;
}

/**
 * Decodes a key that S3 sent URL-encoded: listings asked for with `encoding-type=url` and event
 * notifications encode keys as HTML forms do ('+' for a space, `%2B` for a '+'), which is the only
 * way control characters (CR, which XML turns into LF, and other C0 characters XML cannot carry)
 * arrive intact.
 */
export function decodeFormEncodedKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, ' '));
  } catch {
    throw new VidpipeError('STORAGE_FAILED', `the server sent a key that is not valid URL encoding: ${JSON.stringify(encoded)}`);
  }
}

/** True when the text names an S3 object or prefix rather than a local path. */
export function isS3Uri(text: string): boolean {
  return S3_SCHEME.test(text.trim());
}

/** Renders an S3 location back to its URI form, e.g. for messages and `Storage.root`. */
export function formatS3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/**
 * Appends a package-relative key to a prefix. Keys come from walking the package folder, but a
 * crafted manifest or file name must still never write outside the prefix the user chose, so
 * anything that could climb out (`..`, absolute paths, backslashes that some servers and
 * Windows treat as separators) is refused rather than cleaned up.
 */
export function joinKey(prefix: string, relative: string): string {
  assertSafeRelativeKey(relative);
  return normalisePrefix(prefix) + relative;
}

/** Throws USAGE unless `relative` is a plain '/'-separated path that stays below its root. */
export function assertSafeRelativeKey(relative: string): void {
  const refuse = (why: string): never => {
    throw new VidpipeError('USAGE', `refusing key "${relative}": ${why}`);
  };
  if (relative === '') refuse('it is empty');
  if (relative.includes('\\')) refuse('it contains a backslash');
  if (relative.startsWith('/') || /^[a-z]:/i.test(relative)) refuse('it is an absolute path');
  if (/[\u0000-\u001f\u007f]/.test(relative)) refuse('it contains control characters');
  for (const segment of relative.split('/')) {
    if (segment === '..') refuse('it climbs out of the package with ".."');
    if (segment === '.' || segment === '') refuse('it has an empty or "." segment');
  }
}

const MAX_NAME_CHARS = 100;
// Most filesystems cap a name at 255 bytes; 100 characters of 4-byte UTF-8 would exceed it.
const MAX_NAME_BYTES = 200;
const FALLBACK_NAME = 'media';
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * Derives a package folder name from an input file name: "My Talk (final).MOV" → "My-Talk-final".
 * Letters and digits of any script are kept, everything else that a shell, URL or filesystem
 * could trip over becomes '-'. Never empty, never hidden, never starts like a CLI flag.
 */
export function sanitiseName(fileName: string): string {
  const base = withoutExtension(lastPathSegment(fileName)).normalize('NFC');
  const replaced = base
    .replace(/[^\p{L}\p{M}\p{N}_.-]+/gu, '-')
    .replace(/-{2,}/g, '-');
  const trimmed = trimNameEdges(truncateName(trimNameEdges(replaced)));
  if (trimmed === '') return FALLBACK_NAME;
  return WINDOWS_RESERVED.test(trimmed) ? `${trimmed}_` : trimmed;
}

/** The last segment of a URL's path, decoded, without its query ("input" when there is none). */
export function urlBaseName(uri: string): string {
  try {
    const segment = new URL(uri).pathname.split('/').filter(Boolean).pop();
    return segment ? decodeURIComponent(segment) : 'input';
  } catch {
    // Not a URL after all: read it as a path.
    return uri.split('/').filter(Boolean).pop() || 'input';
  }
}

export function requireNonEmpty(text: string, what: string): string {
  const trimmed = text.trim();
  if (trimmed === '') throw new VidpipeError('USAGE', `empty ${what}`);
  return trimmed;
}

/** `s3://bucket/rest` → its bucket (checked) and the rest, as written. */
export function splitS3Uri(uri: string): { bucket: string; rest: string } {
  const afterScheme = uri.replace(S3_SCHEME, '');
  const slash = afterScheme.indexOf('/');
  const bucket = slash === -1 ? afterScheme : afterScheme.slice(0, slash);
  const rest = slash === -1 ? '' : afterScheme.slice(slash + 1);
  assertValidBucketName(bucket, uri);
  return { bucket, rest };
}

/**
 * The S3 naming rules for new buckets (which MinIO and most S3-compatible servers enforce too).
 * Checking here turns a confusing signature or DNS error later into a clear usage error now.
 */
export function assertValidBucketName(bucket: string, uri = bucket): void {
  const problem = bucketNameProblem(bucket);
  if (problem !== undefined) {
    throw new VidpipeError('USAGE', `invalid bucket name "${bucket}" in "${uri}": ${problem}`, {
      hint: 'bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens',
    });
  }
}

function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return 'it must be 3 to 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(bucket)) return 'only lowercase letters, digits, "." and "-" are allowed';
  if (!/^[a-z0-9].*[a-z0-9]$/.test(bucket)) return 'it must start and end with a letter or digit';
  if (bucket.includes('..')) return 'it must not contain ".."';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bucket)) return 'it must not look like an IP address';
  if (bucket.startsWith('xn--')) return 'it must not start with "xn--"';
  if (bucket.endsWith('-s3alias') || bucket.endsWith('--ol-s3')) return 'that suffix is reserved';
  return undefined;
}

/**
 * A prefix is either empty (bucket root) or ends with '/', so that `prefix + key` never glues
 * "vod/talk" and "master.m3u8" into "vod/talkmaster.m3u8". Doubled slashes are almost always a
 * typo and would create folders with empty names, so they are collapsed.
 */
export function normalisePrefix(raw: string): string {
  const segments = raw.split('/').filter((segment) => segment !== '');
  if (segments.length === 0) return '';
  const joined = segments.join('/');
  assertSafeRelativeKey(joined);
  return `${joined}/`;
}

function lastPathSegment(fileName: string): string {
  const segments = fileName.split(/[\\/]/).filter((segment) => segment !== '');
  return segments.at(-1) ?? '';
}

/** "talk.final.mp4" → "talk.final"; a leading dot (".mp4") is a hidden name, not an extension. */
function withoutExtension(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

/** Leading '-' would read as a CLI flag, leading '.' hides the folder; trailing ones look broken. */
function trimNameEdges(name: string): string {
  return name.replace(/^[-.]+/, '').replace(/[-.]+$/, '');
}

/** Cuts by code points (never splitting a surrogate pair) and then by UTF-8 bytes. */
function truncateName(name: string): string {
  const codePoints = Array.from(name).slice(0, MAX_NAME_CHARS);
  while (Buffer.byteLength(codePoints.join(''), 'utf8') > MAX_NAME_BYTES) codePoints.pop();
  return codePoints.join('');
}
