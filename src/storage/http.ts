/**
 * http(s):// inputs: downloaded to a local file before anything reads them (ffmpeg seeks in its
 * input many times over; a URL would be fetched again by every chunk). Every wait is bounded: no
 * response or no bytes for `idleTimeoutMs` ends the attempt, and the download is retried (see
 * downloadHttp); a body shorter than its Content-Length is never taken as the whole file.
 */
import { dirname } from 'node:path';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { VidpipeError } from '../errors.js';
import { assertFreeSpace } from '../files/free-space.js';
import { DEFAULT_READ_ATTEMPTS, describeNetworkError, downloadWithRetries } from './download-retry.js';

export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 60_000;

export interface HttpDownloadOptions {
  signal?: AbortSignal;
  /** Longest wait for the response, and then for each next piece of the body. */
  idleTimeoutMs?: number;
  /** Bytes received so far and the total, when the server states it. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
  /** Requests in all, retries included (default 5). */
  attempts?: number;
  /** A line per retry: what failed, what happens next. */
  onRetry?: (line: string) => void;
}

export function isHttpUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** The URL without its query and credentials, for messages (a signed URL's token is a secret). */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return url.replace(/[?#].*$/, '');
  }
}

/** What a failed response means for the user: a wrong URL is bad input (exit 2), a failing server is not (exit 1). */
function statusError(url: string, status: number, statusText: string): VidpipeError {
  const what = `${displayUrl(url)} (HTTP ${status}${statusText ? ` ${statusText}` : ''})`;
  if (status === 404 || status === 410) return new VidpipeError('INPUT_NOT_FOUND', `${what}: no such file on the server`);
  if (status === 401 || status === 403) return new VidpipeError('INPUT_NOT_FOUND', `${what}: the server refuses access`, { hint: 'check that the URL is public, or its signature still valid' });
  if (status >= 400 && status < 500) return new VidpipeError('INPUT_INVALID', `${what}: the server refused the request`);
  return new VidpipeError('STORAGE_FAILED', `${what}: the server failed; try again later`);
}

/** A network failure in words (ECONNREFUSED, ENOTFOUND …). */
function networkError(url: string, error: unknown): VidpipeError {
  return new VidpipeError('STORAGE_FAILED', `downloading ${displayUrl(url)} failed: ${describeNetworkError(error)}`, { cause: error });
}

const MAX_REDIRECTS = 5;

/** One GET, following redirects; resolves with the final response (its body not yet read). */
function get(url: string, signal: AbortSignal, redirects = 0, extraHeaders: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsGet : httpGet)(url, { signal, headers: { 'accept-encoding': 'identity', 'user-agent': 'vidpipe', ...extraHeaders } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        // Not drained: a body that stalls would hold the socket with no timer on it.
        response.destroy();
        if (redirects >= MAX_REDIRECTS) {
          reject(new VidpipeError('INPUT_INVALID', `${displayUrl(url)}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        get(new URL(location, url).toString(), signal, redirects + 1, extraHeaders).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    request.on('error', reject);
  });
}

/** A failed status, classified by downloadHttp: a 5xx or 429 is retried, the rest is the user's. */
class HttpStatusFailure extends Error {
  constructor(readonly status: number, readonly statusText: string) {
    super(`HTTP ${status}${statusText ? ` ${statusText}` : ''}`);
  }
}

const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Downloads `url` to `destPath` (through a temporary name, renamed when complete). Redirects are
 * followed; the body is asked for without content coding so its length can be checked. A 5xx,
 * a dropped connection, a stalled or cut-off body is retried (download-retry.ts), resuming with
 * `Range` + `If-Range` on the ETag (or Last-Modified) where the server gave one.
 */
export async function downloadHttp(url: string, destPath: string, options: HttpDownloadOptions = {}): Promise<{ bytes: number }> {
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
  const what = `downloading ${displayUrl(url)}`;
  try {
    const { bytes } = await downloadWithRetries(destPath, {
      what,
      attempts: options.attempts ?? DEFAULT_READ_ATTEMPTS,
      idleMs: idleTimeoutMs,
      // A server that sends nothing for two idle periods in a row, retries included, is given up on.
      noProgressMs: 2 * idleTimeoutMs,
      signal: options.signal,
      hint: `the server kept failing or dropping the download; try again later (--stall-timeout sets how long a download may make no progress)`,
      onRetry: options.onRetry,
      onProgress: options.onProgress,
      beforeBody: async (total) => {
        if (total !== undefined) await assertFreeSpace([{ path: dirname(destPath), bytes: total, what: 'the downloaded input' }]);
      },
      request: async (resume, signal) => {
        const headers: Record<string, string> = resume ? { range: `bytes=${resume.offset}-`, 'if-range': resume.version } : {};
        const response = await get(url, signal, 0, headers);
        const status = response.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          // Not drained: an error body that stalls would hold the socket with no timer on it.
          response.destroy();
          throw new HttpStatusFailure(status, response.statusMessage ?? '');
        }
        const lengthHeader = response.headers['content-length'];
        const length = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) && !response.headers['content-encoding'] ? Number(lengthHeader) : undefined;
        const range = status === 206 ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers['content-range'] ?? '') : null;
        // A 206 that does not say which part it is: undefined, so its bytes are never placed at 0.
        const start = range ? Number(range[1]) : status === 206 ? undefined : 0;
        const total = range ? (range[2] === '*' ? undefined : Number(range[2])) : length;
        // Only a strong ETag or a Last-Modified can make a range safe (RFC 9110 If-Range).
        const etag = response.headers.etag;
        const version = etag && !etag.startsWith('W/') ? etag : response.headers['last-modified'];
        return { body: response, start, total, version };
      },
      describeFailure: (error) => {
        if (error instanceof HttpStatusFailure) return { account: error.message, retryable: error.status >= 500 || error.status === 429 };
        if (error instanceof VidpipeError) return { account: error.message, retryable: false };
        const { code } = error as { code?: string };
        return { account: describeNetworkError(error), retryable: RETRYABLE_NETWORK_CODES.has(code ?? '') || /socket hang up/.test(String((error as Error).message)) };
      },
    });
    return { bytes };
  } catch (error) {
    if (error instanceof HttpStatusFailure) throw statusError(url, error.status, error.statusText);
    if (error instanceof VidpipeError) throw error;
    throw options.signal?.aborted ? interrupted(url) : networkError(url, error);
  }
}

function interrupted(url: string): VidpipeError {
  return new VidpipeError('INTERRUPTED', `downloading ${displayUrl(url)}: interrupted`);
}
