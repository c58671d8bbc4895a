import { randomBytes } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { contentTypeFor } from '../storage/content-types.js';
import { isReleaseName } from '../storage/release.js';
import { VidpipeError } from '../errors.js';
import { parseRange, type ByteRange } from './ranges.js';
import { renderPlayerPage, PLAYER_ASSETS } from './page.js';
import { isPlayerEngine } from './player-assets.js';
import { renderReportDocument } from '../report/html.js';
import { describePackage, type PackageLayout } from './package-layout.js';
import { renderIndexPage, type IndexEntry } from './index-page.js';
import { isPackageFolder, packageFoldersIn } from '../validate/package-folders.js';
import { reportFromPackage } from '../report/model.js';
import type { ClearKey } from '../settings/command-options.js';
import { localFile, type ServedFile } from './package-source.js';

/** Everything the page loads from vidpipe itself lives under this prefix, apart from the package's files. */
export const ASSET_PREFIX = '/_vidpipe/';

/** What the server runs with (`vidpipe serve`'s own options are ServeOptions in src/settings/). */
export interface ServerConfig {
  /** A package folder (where master.m3u8 / manifest.mpd are), or an output folder holding package folders. */
  dir: string;
  port: number;
  host: string;
  /**
   * ClearKey content keys for the player page (`--clear-key`). Held in memory only: put into the
   * page's player configuration and answered at /_vidpipe/clear-key/<kid> (16 raw bytes, what an
   * HLS key URI returns), never written anywhere.
   */
  clearKeys?: ClearKey[];
}

/** Where the page's players fetch a key given with --clear-key, as an HLS key URI would answer it. */
export const CLEAR_KEY_PATH = `${ASSET_PREFIX}clear-key/`;

export interface RunningServer {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

const COMMON_HEADERS = {
  // Players on other origins (a local dev page, an online tester) may read the package too.
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Range, Accept-Ranges',
  // A preview of a package that may be re-transcoded any minute: never serve a stale copy.
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
};

export function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * The file a URL path names inside `root`, or undefined when it would leave it: `..`
 * segments, encoded slashes or NULs, absolute paths, and symlinks pointing outside.
 */
export async function resolveInside(root: string, urlPath: string): Promise<string | undefined> {
  const segments = safeSegments(urlPath);
  if (!segments) return undefined;
  const candidate = path.join(root, ...segments);
  const relative = path.relative(root, candidate);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  try {
    const [realRoot, realFile] = await Promise.all([realpath(root), realpath(candidate)]);
    return realFile === realRoot || realFile.startsWith(realRoot + path.sep) ? realFile : undefined;
  } catch {
    return candidate; // does not exist: the caller answers 404
  }
}

/**
 * The '/'-separated segments of a URL path, decoded; undefined when one would climb out or is not
 * a plain name: `..` and `.` segments, encoded backslashes, NULs, or undecodable escapes.
 */
export function safeSegments(urlPath: string): string[] | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  return segments;
}

/** Answers with a file (404 when there is none), honouring Range and HEAD. */
export async function sendFile(req: IncomingMessage, res: ServerResponse, file: ServedFile | undefined, contentType: string): Promise<void> {
  if (!file) return send(res, 404, 'not found\n');
  const size = file.size;
  const base = { ...COMMON_HEADERS, 'Accept-Ranges': 'bytes', ...(file.modified ? { 'Last-Modified': file.modified.toUTCString() } : {}) };
  const range = parseRange(req.headers.range, size);
  if (range.kind === 'unsatisfiable') {
    res.writeHead(416, { ...base, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
    return void res.end();
  }
  if (range.kind === 'whole') {
    res.writeHead(200, { ...base, 'Content-Type': contentType, 'Content-Length': size });
    if (req.method === 'HEAD') return void res.end();
    return pipeRanges(res, file, size === 0 ? [] : [{ start: 0, end: size - 1 }]);
  }
  if (range.ranges.length === 1) {
    const [only] = range.ranges as [ByteRange];
    res.writeHead(206, { ...base, 'Content-Type': contentType, 'Content-Range': `bytes ${only.start}-${only.end}/${size}`, 'Content-Length': only.end - only.start + 1 });
    if (req.method === 'HEAD') return void res.end();
    return pipeRanges(res, file, [only]);
  }
  // Several ranges: one multipart/byteranges body (RFC 9110 §14.6).
  const boundary = `vidpipe-${randomBytes(12).toString('hex')}`;
  const heads = range.ranges.map((r) => `--${boundary}\r\nContent-Type: ${contentType}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`);
  const tail = `--${boundary}--\r\n`;
  const length = range.ranges.reduce((sum, r, i) => sum + Buffer.byteLength(heads[i]!) + (r.end - r.start + 1) + 2, 0) + Buffer.byteLength(tail);
  res.writeHead(206, { ...base, 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': length });
  if (req.method === 'HEAD') return void res.end();
  return pipeRanges(res, file, range.ranges, { heads, tail });
}

/** Streams the ranges one after another (with multipart framing when given), ending the response. */
function pipeRanges(res: ServerResponse, file: ServedFile, list: ByteRange[], framing?: { heads: string[]; tail: string }): Promise<void> {
  return new Promise((resolve) => {
    const next = (i: number) => {
      if (i >= list.length) {
        if (framing) res.write(framing.tail);
        res.end();
        return resolve();
      }
      if (framing) res.write(framing.heads[i]!);
      const stream = file.read(list[i]!);
      stream.on('error', () => {
        res.destroy();
        resolve();
      });
      stream.on('end', () => {
        if (framing) res.write('\r\n');
        next(i + 1);
      });
      stream.pipe(res, { end: false });
    };
    next(0);
  });
}

/** A package on the server: its folder, the URL path it sits at ('/' or '/talk/'), and the rest of the request path. */
interface ServedPackage {
  dir: string;
  base: string;
  rest: string;
}

/**
 * Where a request path falls. A package folder is served at '/'; an output folder (one
 * package folder per input, as `transcode --out` makes it) has an index at '/' and each
 * package at '/<name>/'. Decided per request, so packages transcoded while serving show up.
 */
async function routeOf(root: string, pathname: string): Promise<ServedPackage | 'index' | { redirect: string } | undefined> {
  if (await isPackageFolder(root)) return { dir: root, base: '/', rest: pathname.slice(1) };
  if (pathname === '/' || pathname === '/index.html') return 'index';
  const [, first = '', ...rest] = pathname.split('/');
  let name: string;
  try {
    name = decodeURIComponent(first);
  } catch {
    return undefined;
  }
  if (name === '' || name === '.' || name === '..' || /[\\/\0]/.test(name) || !(await isPackageFolder(path.join(root, name)))) return undefined;
  if (pathname === `/${first}`) return { redirect: `/${first}/` };
  return { dir: path.join(root, name), base: `/${first}/`, rest: rest.join('/') };
}

async function indexEntries(root: string): Promise<IndexEntry[]> {
  return Promise.all(
    (await packageFoldersIn(root)).map(async ({ name, path: dir }) => {
      const href = `/${encodeURIComponent(name)}/`;
      return { name, href, layout: await describePackage(dir, href) };
    }),
  );
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
/** What a server answers below its own paths (CORS preflight, methods, keys and player assets are common). */
export type Routes = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export function createServeHandler(root: string, clearKeys: ClearKey[] = []): RequestHandler {
  return createHandler(folderRoutes(root, clearKeys), clearKeys);
}

/** The answers every server gives the same way, then `routes` for the rest. */
export function createHandler(routes: Routes, clearKeys: ClearKey[] = []): RequestHandler {
  return async (req, res) => {
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, { ...COMMON_HEADERS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers': 'Range', 'Access-Control-Max-Age': '600' });
      return void res.end();
    }
    if (method !== 'GET' && method !== 'HEAD') return send(res, 405, 'method not allowed\n', undefined, { Allow: 'GET, HEAD, OPTIONS' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith(CLEAR_KEY_PATH)) {
      const wanted = url.pathname.slice(CLEAR_KEY_PATH.length).toLowerCase();
      const found = clearKeys.find((k) => k.kid === wanted);
      if (!found) return send(res, 404, 'no such key was given with --clear-key\n');
      const bytes = Buffer.from(found.key, 'hex');
      res.writeHead(200, { ...COMMON_HEADERS, 'Cache-Control': 'no-store', 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
      return void res.end(req.method === 'HEAD' ? undefined : bytes);
    }
    const asset = url.pathname.startsWith(ASSET_PREFIX) ? PLAYER_ASSETS[url.pathname.slice(ASSET_PREFIX.length)] : undefined;
    if (asset) {
      if ('text' in asset) return send(res, 200, asset.text, 'text/javascript; charset=utf-8');
      const file = asset.file();
      if (!file) return send(res, 500, `${url.pathname} is missing from this vidpipe install (dist/player/); reinstall it, or run npm run build in a checkout\n`);
      return sendFile(req, res, await localFile(file), 'text/javascript; charset=utf-8');
    }
    return routes(req, res, url);
  };
}

/** The package folder or output folder of `vidpipe serve <dir>`. */
function folderRoutes(root: string, clearKeys: ClearKey[]): Routes {
  return async (req, res, url) => {
    const route = await routeOf(root, url.pathname);
    if (route === 'index') return send(res, 200, renderIndexPage(path.basename(root), await indexEntries(root)), 'text/html; charset=utf-8');
    if (route && 'redirect' in route) return send(res, 301, `see ${route.redirect}\n`, undefined, { Location: route.redirect });
    if (route && (route.rest === '' || route.rest === 'index.html')) {
      const layout = await describePackage(route.dir, route.base);
      const requested = url.searchParams.get('engine');
      const engine = isPlayerEngine(requested) ? requested : undefined;
      return send(res, 200, renderPlayerPage(layout, engine, route.base === '/' ? undefined : '/', clearKeys), 'text/html; charset=utf-8');
    }
    if (route && route.rest === REPORT_PATH) return sendReport(res, await describePackage(route.dir, route.base));
    if (url.pathname.startsWith(ASSET_PREFIX)) return send(res, 404, 'not found\n');
    const file = await resolveInside(root, url.pathname);
    if (!file) return send(res, 403, 'forbidden\n');
    const relative = path.relative(route?.dir ?? root, file).split(path.sep).join('/');
    return sendFile(req, res, await localFile(file), contentTypeFor(packageKey(relative)));
  };
}

/** The package's report page, beside its player page. */
export const REPORT_PATH = `${ASSET_PREFIX.slice(1)}report.html`;

export function sendReport(res: ServerResponse, layout: PackageLayout): void {
  if (!layout.summary) return send(res, 404, 'this package has no vidpipe.json (it was not made by vidpipe, or by an older one)\n');
  return send(res, 200, renderReportDocument(reportFromPackage(layout.summary)), 'text/html; charset=utf-8');
}

/** Content types are defined on keys relative to the package, not to the release folder it sits in. */
export function packageKey(relative: string): string {
  const [first, ...rest] = relative.split('/');
  return rest.length > 0 && isReleaseName(first!) ? rest.join('/') : relative;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServerConfig): Promise<RunningServer> {
  const root = path.resolve(options.dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new VidpipeError('INPUT_NOT_FOUND', `${options.dir} is not a folder`, { hint: 'give a package folder (vidpipe serve out/talk) or the output folder holding them (vidpipe serve out)' });
  }
  return listen(createServeHandler(root, options.clearKeys), options);
}

/** Listens with `handler` on the port and address asked for; resolves once it does. */
export async function listen(handler: RequestHandler, options: { port: number; host: string }): Promise<RunningServer> {
  const server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new VidpipeError('USAGE', `port ${options.port} on ${options.host} is already in use`, { hint: 'choose another with --port (0 picks a free one)' })
          : new VidpipeError('USAGE', `cannot listen on ${options.host}:${options.port}: ${error.message}`),
      );
    });
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
