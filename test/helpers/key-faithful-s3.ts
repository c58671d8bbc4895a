/**
 * A read-only S3 endpoint over objects held in memory, for keys s3rver cannot hold or list:
 * s3rver stores keys as file paths (so `/lead/a.mp4` and `a//b.mp4` cannot exist) and ignores
 * `encoding-type=url`, sending keys as raw XML text, where a CR reaches the client as an LF. This
 * server keeps every key exactly and answers ListObjectsV2 (paged), HeadObject and GetObject,
 * path-style, without checking signatures. `encoding: 'url'` honours `encoding-type=url` the way
 * AWS does (form encoding: '+' for a space); `encoding: 'ignore'` behaves like s3rver.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';

export interface KeyFaithfulS3 {
  endpoint: string;
  /** The query of every ListObjectsV2 request, in order. */
  listings: URLSearchParams[];
  /** The decoded key of every HEAD and GET, in order. */
  reads: Array<{ method: string; key: string }>;
  close(): Promise<void>;
}

export interface KeyFaithfulS3Options {
  bucket: string;
  objects: Map<string, Buffer>;
  encoding: 'url' | 'ignore';
  /** Keys whose HEAD and GET answer 500 (a server failing on one object). */
  brokenKeys?: Set<string>;
}

const LAST_MODIFIED = new Date('2024-01-01T00:00:00Z');

export async function startKeyFaithfulS3(options: KeyFaithfulS3Options): Promise<KeyFaithfulS3> {
  const { bucket, objects } = options;
  const listings: URLSearchParams[] = [];
  const reads: Array<{ method: string; key: string }> = [];
  const etagOf = (body: Buffer): string => `"${createHash('md5').update(body).digest('hex')}"`;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://fake');
    // The raw path: `/inbox//lead/a.mp4` must keep its empty segment.
    const rawPath = (request.url ?? '/').split('?')[0]!;
    if (rawPath === `/${bucket}` || rawPath === `/${bucket}/`) {
      if (request.method !== 'GET' || url.searchParams.get('list-type') !== '2') return fail(response, 501, 'NotImplemented', 'only ListObjectsV2');
      listings.push(url.searchParams);
      return list(response, url.searchParams);
    }
    if (!rawPath.startsWith(`/${bucket}/`)) return fail(response, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    const key = decodeURIComponent(rawPath.slice(bucket.length + 2));
    reads.push({ method: request.method ?? '', key });
    if (options.brokenKeys?.has(key)) return fail(response, 500, 'InternalError', 'We encountered an internal error. Please try again.');
    const body = objects.get(key);
    if (body === undefined) {
      if (request.method === 'HEAD') return void response.writeHead(404).end();
      return fail(response, 404, 'NoSuchKey', 'The specified key does not exist.');
    }
    response.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': body.length,
      ETag: etagOf(body),
      'Last-Modified': LAST_MODIFIED.toUTCString(),
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });

  function list(response: http.ServerResponse, query: URLSearchParams): void {
    const prefix = query.get('prefix') ?? '';
    const maxKeys = Number(query.get('max-keys') ?? 1000);
    const start = Number(query.get('continuation-token') ?? 0);
    const encode = options.encoding === 'url' && query.get('encoding-type') === 'url';
    const text = (value: string): string => xmlEscape(encode ? encodeURIComponent(value).replace(/%2F/g, '/').replace(/%20/g, '+') : value);
    const keys = [...objects.keys()].filter((key) => key.startsWith(prefix)).sort();
    const page = keys.slice(start, start + maxKeys);
    const truncated = start + maxKeys < keys.length;
    const contents = page
      .map((key) => {
        const body = objects.get(key)!;
        return `<Contents><Key>${text(key)}</Key><LastModified>${LAST_MODIFIED.toISOString()}</LastModified><ETag>${xmlEscape(etagOf(body))}</ETag><Size>${body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      })
      .join('');
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Name>${bucket}</Name><Prefix>${text(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
      (encode ? '<EncodingType>url</EncodingType>' : '') +
      `<IsTruncated>${truncated}</IsTruncated>` +
      (truncated ? `<NextContinuationToken>${start + maxKeys}</NextContinuationToken>` : '') +
      `${contents}</ListBucketResult>`;
    response.writeHead(200, { 'Content-Type': 'application/xml' }).end(xml);
  }

  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    listings,
    reads,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function fail(response: http.ServerResponse, status: number, code: string, message: string): void {
  response
    .writeHead(status, { 'Content-Type': 'application/xml' })
    .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`);
}

/** XML escaping as s3rver does it: markup characters only; control characters go out raw. */
function xmlEscape(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Names S3 allows and XML or a careless decoder mangles: CR (XML turns it into LF), LF, tab, other
 * C0 characters (which XML 1.0 cannot carry), a key ending in a space, '+' and '%' (which a form
 * decoder must not touch unless the server encoded them), and non-Latin letters.
 */
export const ODD_KEY_NAMES = [
  'carriage\rreturn.mp4',
  'line\nfeed.mp4',
  'tab\tbed.mp4',
  'bell\u0007escape\u001b[2J.mp4',
  'plus+percent%41 space.mp4',
  'ünïcödé 日本語.mp4',
  'ends-with-space.mp4 ',
] as const;
