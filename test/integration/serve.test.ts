import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import type { TranscodeResult } from '../../src/core/result.js';

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

test('hostile range sets: never more bytes than the file, no byte twice, every part right', async () => {
  const path = `/${RELEASE}/video/h264-180p/seg_00001.m4s`;
  const cases: { range: string; status: number; parts?: [number, number][] }[] = [
    { range: `bytes=${Array(50).fill('0-').join(',')}`, status: 206, parts: [[0, 999]] },
    { range: 'bytes=0-,-500,100-', status: 206, parts: [[0, 999]] },
    { range: 'bytes=-100,900-949,0-9', status: 206, parts: [[900, 999], [0, 9]] },
    { range: 'bytes=600-699,0-9,650-800', status: 206, parts: [[600, 800], [0, 9]] },
    { range: `bytes=${Array.from({ length: 40 }, (_, i) => `${i * 20}-${i * 20}`).join(',')}`, status: 200 },
    { range: 'bytes=0-0,-1', status: 206, parts: [[0, 0], [999, 999]] },
    { range: `bytes=${Array(60).fill('0-0').join(',')}`, status: 200 },
  ];
  for (const { range, status, parts } of cases) {
    const res = await rawGet(server.url, path, { Range: range });
    assert.equal(res.status, status, range);
    assert.equal(Number(res.headers['content-length']), res.body.length, range);
    assert.ok(res.body.length <= segment.length + 200, `${range}: ${res.body.length} bytes for a ${segment.length}-byte file`);
    if (status === 200) {
      assert.deepEqual(res.body, segment, range);
    } else if (parts!.length === 1) {
      const [[start, end]] = parts as [[number, number]];
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/1000`, range);
      assert.deepEqual(res.body, segment.subarray(start, end + 1), range);
    } else {
      const text = res.body.toString('latin1');
      const served = [...text.matchAll(/Content-Range: bytes (\d+)-(\d+)\/1000\r\n\r\n/g)].map((m) => [Number(m[1]), Number(m[2])]);
      assert.deepEqual(served, parts, range);
      for (const [start, end] of parts!) {
        const body = text.split(`Content-Range: bytes ${start}-${end}/1000\r\n\r\n`)[1]!.slice(0, end - start + 1);
        assert.equal(body, segment.subarray(start, end + 1).toString('latin1'), range);
      }
    }
  }
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
  assert.deepEqual(config, { engine: 'hls', manifest: 'hls', hls: '/master.m3u8', dash: '/manifest.mpd', storyboard: `/${RELEASE}/storyboard/storyboard.vtt` });
  assert.match(page, new RegExp(`poster="/${RELEASE}/poster.jpg"`));
  assert.match(page, /<script src="\/_vidpipe\/hls\.min\.js">/);
  assert.doesNotMatch(page, /https?:\/\/(?!127\.)/, 'no CDN');
  const dashPage = await (await fetch(new URL('/?engine=dash', server.url))).text();
  assert.match(dashPage, /<script src="\/_vidpipe\/dash\.all\.min\.js">/);
  for (const [engine, manifest] of [['shaka', '/manifest.mpd'], ['shaka-hls', '/master.m3u8']] as const) {
    const shakaPage = await (await fetch(new URL(`/?engine=${engine}`, server.url))).text();
    assert.match(shakaPage, /<script src="\/_vidpipe\/shaka-player\.compiled\.js">/);
    const shakaConfig = JSON.parse(/<script type="application\/json" id="vp-config">(.*?)<\/script>/.exec(shakaPage)![1]!);
    assert.equal(shakaConfig[shakaConfig.manifest], manifest);
  }
  const unknown = await (await fetch(new URL('/?engine=nonsense', server.url))).text();
  assert.match(unknown, /<script src="\/_vidpipe\/hls\.min\.js">/, 'an unknown engine falls back to the default');
  for (const [asset, marker] of [['hls.min.js', 'Hls'], ['dash.all.min.js', 'dashjs'], ['shaka-player.compiled.js', 'shaka'], ['player.js', 'vidpipePlayer']] as const) {
    const res = await fetch(new URL(`/_vidpipe/${asset}`, server.url));
    assert.equal(res.status, 200, asset);
    assert.match(String(res.headers.get('content-type')), /javascript/);
    const body = await res.text();
    assert.ok(body.length > 1000 && body.includes(marker), asset);
  }
  assert.equal((await fetch(new URL('/_vidpipe/../../package.json', server.url))).status, 404);
  assert.equal((await fetch(new URL('/_vidpipe/report.html', server.url))).status, 404, 'no vidpipe.json, no report');
});

describe('an output folder (one package folder per input): index at /, each package at /<name>/', () => {
  let folder: RunningServer;
  let out: string;
  let done: () => Promise<void>;
  let release: string;

  before(async () => {
    const tmp = await tempDir('vidpipe-serve-out-');
    done = tmp.cleanup;
    out = join(tmp.dir, 'out');
    await writeFile(join(tmp.dir, 'secret.txt'), 'TOP SECRET');
    const clip = await makeClip(join(tmp.dir, 'clip.mp4'), { durationSeconds: 3 });
    const made = await runCli(['transcode', clip, '--out', out, '--name', 'talk', '--db', join(tmp.dir, 'db.sqlite'), '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--quiet', '--json']);
    assert.equal(made.code, 0, made.stderr);
    release = (JSON.parse(made.stdout) as TranscodeResult).jobId;
    // A package vidpipe did not make: entry manifests only, no vidpipe.json.
    await mkdir(join(out, 'other'), { recursive: true });
    await writeFile(join(out, 'other', 'manifest.mpd'), '<?xml version="1.0"?><MPD></MPD>');
    await mkdir(join(out, 'not-a-package'), { recursive: true });
    folder = await startServer({ dir: out, port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await folder?.close();
    await done?.();
  });

  it('lists each package with its name, duration, renditions and poster, linking to its player page', async () => {
    const page = await (await fetch(folder.url)).text();
    const rows = [...page.matchAll(/<tr data-package="([^"]+)">(.*?)<\/tr>/g)].map((m) => [m[1], m[2]] as const);
    assert.deepEqual(rows.map(([name]) => name), ['other', 'talk']);
    const talk = rows.find(([name]) => name === 'talk')![1];
    assert.match(talk, /<a href="\/talk\/">talk<\/a>/);
    assert.match(talk, /<td class="num">0:03<\/td>/);
    assert.match(talk, /h264-144p, aac-128k/);
    const poster = /<img src="([^"]+)"/.exec(talk)![1]!;
    assert.equal(poster, `/talk/${release}/poster-small.jpg`);
    const image = await fetch(new URL(poster, folder.url));
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/jpeg');
    assert.match(rows.find(([name]) => name === 'other')![1], /<td class="num">–<\/td>/);
  });

  it('serves each package where the index links to, with its report and the content types of its files', async () => {
    const redirect = await rawGet(folder.url, '/talk');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/talk/');
    const page = await (await fetch(new URL('/talk/', folder.url))).text();
    const config = JSON.parse(/<script type="application\/json" id="vp-config">(.*?)<\/script>/.exec(page)![1]!);
    assert.deepEqual(config, { engine: 'hls', manifest: 'hls', hls: '/talk/master.m3u8', dash: '/talk/manifest.mpd', storyboard: `/talk/${release}/storyboard/storyboard.vtt` });
    assert.match(page, /<a href="\/">all packages<\/a>/);
    assert.match(page, /<script src="\/_vidpipe\/hls\.min\.js">/);
    assert.equal((await fetch(new URL('/talk/_vidpipe/report.html', folder.url))).status, 200);
    assert.equal((await fetch(new URL('/other/_vidpipe/report.html', folder.url))).status, 404, 'no vidpipe.json, no report');
    const master = await fetch(new URL('/talk/master.m3u8', folder.url));
    assert.equal(master.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    const audioInit = /#EXT-X-MEDIA:TYPE=AUDIO,.*URI="([^"]+)"/.exec(await master.text())![1]!.replace('index.m3u8', 'init.mp4');
    const init = await fetch(new URL(`/talk/${audioInit}`, folder.url));
    assert.equal(init.status, 200);
    assert.equal(init.headers.get('content-type'), 'audio/mp4');
    assert.equal((await fetch(new URL('/not-a-package/', folder.url))).status, 404);
  });

  it('no path leaves the output folder', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/talk/..%2f..%2fsecret.txt', '/%2e%2e%2fsecret.txt/', '/talk%2f..%2f..%2fsecret.txt']) {
      const res = await rawGet(folder.url, path);
      assert.ok([400, 403, 404].includes(res.status), `${path} → ${res.status}`);
      assert.ok(!res.body.toString().includes('TOP SECRET'), `${path} leaked the file`);
    }
  });

  it('lists a package made while serving on the next load, and says how to make one in an empty folder', async () => {
    await mkdir(join(out, 'late'), { recursive: true });
    await writeFile(join(out, 'late', 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nv.m3u8\n');
    assert.match(await (await fetch(folder.url)).text(), /data-package="late"/);
    const empty = join(out, '..', 'empty');
    await mkdir(empty);
    const server = await startServer({ dir: empty, port: 0, host: '127.0.0.1' });
    try {
      assert.match(await (await fetch(server.url)).text(), /No packages here yet/);
    } finally {
      await server.close();
    }
  });
});
