/**
 * http(s):// inputs: downloaded to a local file before anything reads them (ffmpeg seeks in its
 * input many times over; a URL would be fetched again by every chunk). Every wait is bounded: no
 * response or no bytes for `idleTimeoutMs` ends the download; a body shorter than its
 * Content-Length is refused rather than processed as a cut-off file.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { VidpipeError } from '../errors.js';
import { assertFreeSpace } from '../core/preflight.js';

export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 60_000;

export interface HttpDownloadOptions {
  signal?: AbortSignal;
  /** Longest wait for the response, and then for each next piece of the body. */
  idleTimeoutMs?: number;
  /** Bytes received so far and the total, when the server states it. */
  onProgress?: (receivedBytes: number, totalBytes: number | undefined) => void;
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

/** A network failure in words (ECONNREFUSED, ENOTFOUND, ECONNRESET …). */
function networkError(url: string, error: unknown, timedOut: boolean, idleTimeoutMs: number): VidpipeError {
  if (timedOut) {
    return new VidpipeError('STORAGE_FAILED', `downloading ${displayUrl(url)}: the server sent nothing for ${Math.round(idleTimeoutMs / 1000)} s; gave up`, {
      hint: '--stall-timeout sets how long a download may make no progress',
    });
  }
  const { code, message } = error as { code?: string; message?: string };
  const reason = [code, message && !message.includes(code ?? '\0') ? message : undefined].filter(Boolean).join(': ') || String(error);
  return new VidpipeError('STORAGE_FAILED', `downloading ${displayUrl(url)} failed: ${reason}`, { cause: error });
}

const MAX_REDIRECTS = 5;

/** One GET, following redirects; resolves with the final response (its body not yet read). */
function get(url: string, signal: AbortSignal, redirects = 0): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith('https:') ? httpsGet : httpGet)(url, { signal, headers: { 'accept-encoding': 'identity', 'user-agent': 'vidpipe' } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        if (redirects >= MAX_REDIRECTS) {
          reject(new VidpipeError('INPUT_INVALID', `${displayUrl(url)}: more than ${MAX_REDIRECTS} redirects`));
          return;
        }
        get(new URL(location, url).toString(), signal, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    request.on('error', reject);
  });
}

/**
 * Downloads `url` to `destPath` (through a temporary name, renamed when complete). Redirects are
 * followed; the body is asked for without content coding so its length can be checked.
 */
export async function downloadHttp(url: string, destPath: string, options: HttpDownloadOptions = {}): Promise<{ bytes: number }> {
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_HTTP_IDLE_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('idle timeout'));
    }, idleTimeoutMs);
  };
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const failure = (error: unknown) => {
    if (error instanceof VidpipeError) return error;
    return options.signal?.aborted ? interrupted(url) : networkError(url, error, timedOut, idleTimeoutMs);
  };
  const partial = `${destPath}.partial-${randomBytes(4).toString('hex')}`;
  try {
    arm();
    const response = await get(url, controller.signal).catch((error: unknown) => {
      throw failure(error);
    });
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      response.resume();
      throw statusError(url, status, response.statusMessage ?? '');
    }
    const lengthHeader = response.headers['content-length'];
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) && !response.headers['content-encoding'] ? Number(lengthHeader) : undefined;
    if (total !== undefined) await assertFreeSpace([{ path: dirname(destPath), bytes: total, what: 'the downloaded input' }]);
    let received = 0;
    response.on('data', (chunk: Buffer) => {
      received += chunk.length;
      arm();
      options.onProgress?.(received, total);
    });
    try {
      await pipeline(response, createWriteStream(partial));
    } catch (error) {
      throw failure(error);
    }
    const { size } = await stat(partial);
    if (total !== undefined && size !== total) {
      throw new VidpipeError('STORAGE_FAILED', `downloading ${displayUrl(url)}: the connection ended after ${size} of ${total} bytes`);
    }
    await rename(partial, destPath);
    return { bytes: size };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await rm(partial, { force: true });
  }
}

function interrupted(url: string): VidpipeError {
  return new VidpipeError('INTERRUPTED', `downloading ${displayUrl(url)}: interrupted`);
}
