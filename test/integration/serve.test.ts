import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/media.js';

/** A raw request: fetch() would normalise "..", the very thing under test. */
function rawGet(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

let server: RunningServer;
let cleanup: () => Promise<void>;
const segment = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
const RELEASE = 'jmww3vmtofe1b7873';

before(async () => {
  const tmp = await tempDir('vidpipe-serve-');
  cleanup = tmp.cleanup;
  const root = join(tmp.dir, 'pkg');
  const rel = join(root, RELEASE);
  await mkdir(join(rel, 'video', 'h264-180p'), { recursive: true });
  await mkdir(join(rel, 'audio', 'aac-128k'), { recursive: true });
  await mkdir(join(rel, 'storyboard'), { recursive: true });
  await writeFile(join(tmp.dir, 'secret.txt'), 'TOP SECRET');
  await writeFile(join(root, 'master.m3u8'), `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n${RELEASE}/video/h264-180p/index.m3u8\n`);
  await writeFile(join(root, 'manifest.mpd'), `<?xml version="1.0"?><MPD><BaseURL>${RELEASE}/</BaseURL></MPD>`);
  await writeFile(join(rel, 'video', 'h264-180p', 'index.m3u8'), '#EXTM3U\n');
  await writeFile(join(rel, 'video', 'h264-180p', 'init.mp4'), 'init');
  await writeFile(join(rel, 'video', 'h264-180p', 'seg_00001.m4s'), segment);
  await writeFile(join(rel, 'audio', 'aac-128k', 'init.mp4'), 'init');
  await writeFile(join(rel, 'poster.jpg'), 'jpg');
  await writeFile(join(rel, 'storyboard', 'storyboard.vtt'), 'WEBVTT\n');
  await symlink(join(tmp.dir, 'secret.txt'), join(rel, 'escape.txt'));
  server = await startServer({ dir: root, port: 0, host: '127.0.0.1' });
});

after(async () => {
  await server?.close();
  await cleanup?.();
});

test('content types follow the package conventions', async () => {
  const expected: Record<string, string> = {
    '/master.m3u8': 'application/vnd.apple.mpegurl',
    '/manifest.mpd': 'application/dash+xml',
    [`/${RELEASE}/video/h264-180p/seg_00001.m4s`]: 'video/iso.segment',
    [`/${RELEASE}/video/h264-180p/init.mp4`]: 'video/mp4',
    [`/${RELEASE}/audio/aac-128k/init.mp4`]: 'audio/mp4',
    [`/${RELEASE}/storyboard/storyboard.vtt`]: 'text/vtt',
    [`/${RELEASE}/poster.jpg`]: 'image/jpeg',
  };
  for (const [path, type] of Object.entries(expected)) {
    const res = await fetch(new URL(path, server.url));
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get('content-type'), type, path);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    await res.arrayBuffer();
  }
  assert.equal((await fetch(new URL('/nope.m4s', server.url))).status, 404);
});

test('range requests: single, open-ended, suffix, several, unsatisfiable, HEAD', async () => {
  const path = `/${RELEASE}/video/h264-180p/seg_00001.m4s`;
  const single = await rawGet(server.url, path, { Range: 'bytes=10-19' });
  assert.equal(single.status, 206);
  assert.equal(single.headers['content-range'], 'bytes 10-19/1000');
  assert.deepEqual(single.body, segment.subarray(10, 20));
  const open = await rawGet(server.url, path, { Range: 'bytes=990-' });
  assert.deepEqual(open.body, segment.subarray(990));
  const suffix = await rawGet(server.url, path, { Range: 'bytes=-5' });
  assert.equal(suffix.headers['content-range'], 'bytes 995-999/1000');
  assert.deepEqual(suffix.body, segment.subarray(995));

  const multi = await rawGet(server.url, path, { Range: 'bytes=0-3,100-103' });
  assert.equal(multi.status, 206);
  const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(String(multi.headers['content-type']))?.[1];
  assert.ok(boundary, String(multi.headers['content-type']));
  assert.equal(Number(multi.headers['content-length']), multi.body.length);
  const text = multi.body.toString('latin1');
  assert.match(text, /Content-Range: bytes 0-3\/1000\r\n\r\n/);
  assert.match(text, /Content-Range: bytes 100-103\/1000\r\n\r\n/);
  const partBody = (range: string) => text.split(`Content-Range: bytes ${range}/1000\r\n\r\n`)[1]!.slice(0, 4);
  assert.equal(partBody('0-3'), segment.subarray(0, 4).toString('latin1'));
  assert.equal(partBody('100-103'), segment.subarray(100, 104).toString('latin1'));
  assert.ok(text.endsWith(`--${boundary}--\r\n`));

  const beyond = await rawGet(server.url, path, { Range: 'bytes=5000-6000' });
  assert.equal(beyond.status, 416);
  assert.equal(beyond.headers['content-range'], 'bytes */1000');
  const head = await rawGet(server.url, path, {}, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '1000');
  assert.equal(head.body.length, 0);
});

test('CORS preflight allows Range from any origin', async () => {
  const res = await rawGet(server.url, '/master.m3u8', { Origin: 'http://example.test', 'Access-Control-Request-Headers': 'range' }, 'OPTIONS');
  assert.equal(res.status, 204);
  assert.equal(res.headers['access-control-allow-origin'], '*');
  assert.match(String(res.headers['access-control-allow-headers']), /Range/i);
});

test('no path leaves the package folder', async () => {
  const attempts = ['/../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt', '/%2e%2e%2fsecret.txt', `/${RELEASE}/..%2f..%2fsecret.txt`,
    '/..\\secret.txt', '/%5c..%5csecret.txt', '/secret.txt%00.m4s', `/${RELEASE}/escape.txt`, '//etc/passwd', '/%2fetc%2fpasswd'];
  for (const path of attempts) {
    const res = await rawGet(server.url, path);
    assert.ok([400, 403, 404].includes(res.status), `${path} → ${res.status}`);
    assert.ok(!res.body.toString().includes('TOP SECRET'), `${path} leaked the file`);
    assert.ok(!res.body.toString().includes('root:'), `${path} leaked /etc/passwd`);
  }
  assert.equal((await rawGet(server.url, '/..%2fsecret.txt')).status, 403);
  assert.equal((await rawGet(server.url, `/${RELEASE}/escape.txt`)).status, 403, 'a symlink out of the folder is refused');
});

test('the player page points into the release folder and its scripts come from npm packages', async () => {
  const page = await (await fetch(server.url)).text();
  const config = JSON.parse(/<script type="application\/json" id="vp-config">(.*?)<\/script>/.exec(page)![1]!);
  assert.deepEqual(config, { engine: 'hls', hls: '/master.m3u8', dash: '/manifest.mpd', storyboard: `/${RELEASE}/storyboard/storyboard.vtt` });
  assert.match(page, new RegExp(`poster="/${RELEASE}/poster.jpg"`));
  assert.match(page, /<script src="\/_vidpipe\/hls\.min\.js">/);
  assert.doesNotMatch(page, /https?:\/\/(?!127\.)/, 'no CDN');
  const dashPage = await (await fetch(new URL('/?engine=dash', server.url))).text();
  assert.match(dashPage, /<script src="\/_vidpipe\/dash\.all\.min\.js">/);
  for (const [asset, marker] of [['hls.min.js', 'Hls'], ['dash.all.min.js', 'dashjs'], ['player.js', 'vidpipePlayer']] as const) {
    const res = await fetch(new URL(`/_vidpipe/${asset}`, server.url));
    assert.equal(res.status, 200, asset);
    assert.match(String(res.headers.get('content-type')), /javascript/);
    const body = await res.text();
    assert.ok(body.length > 1000 && body.includes(marker), asset);
  }
  assert.equal((await fetch(new URL('/_vidpipe/../../package.json', server.url))).status, 404);
  assert.equal((await fetch(new URL('/_vidpipe/report.html', server.url))).status, 404, 'no vidpipe.json, no report');
});
