/**
 * `vidpipe transcode --encrypt` end to end: the package's segments are encrypted right after
 * packaging, and every manifest signals it.
 * - cbcs: one CMAF segment set; init segments with encv/enca + tenc naming the KID, every
 *   fragment with senc; EXT-X-KEY after EXT-X-MAP in media and I-frame playlists,
 *   EXT-X-SESSION-KEY in the multivariant playlist, DASH ContentProtection with the KID; each
 *   track decrypts (ffmpeg's mov demuxer) to every frame of the source.
 * - aes-128 with MPEG-TS too: whole segments, METHOD=AES-128 with --key-uri, no MPD and no
 *   I-frame playlists; ffmpeg's HLS demuxer plays both multivariant playlists with the key.
 * In both, neither the key's hex nor its base64 appears in any file of the package; with cbcs, nor in
 * the SQLite file (and its WAL), the work folder, --json or `vidpipe show --json`, which do give
 * the scheme and the KID.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodedFrameCount, makeClip, runCli } from '../helpers/media.js';
import { readMpd, readPlaylist, resolveUri, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';

const KID = '0123456789abcdef0123456789abcdef';
const KEY = '3c1f0e2d4b5a69788796a5b4c3d2e1f0';
// The last: a Buffer through JSON.stringify ({"type":"Buffer","data":[60,31,…]}).
const KEY_FORMS = [KEY, KEY.toUpperCase(), Buffer.from(KEY, 'hex').toString('base64'), Buffer.from(KEY, 'hex').toString('base64url'), [...Buffer.from(KEY, 'hex')].join(',')];

/** Frames ffmpeg decodes from bytes piped in (mov demuxer, with a decryption key) or from a playlist. */
function decodedFrames(args: string[], input?: Buffer): Promise<{ frames: number; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...args, '-map', '0:v:0?', '-map', '0:a:0?', '-f', 'framemd5', '-'], { timeout: 120_000 });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    child.on('close', (code) => resolve({ frames: out.split('\n').filter((line) => /^0,/.test(line)).length, stderr, code }));
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}

async function allFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

function assertNoKeyInBytes(bytes: Buffer, where: string): void {
  assert.ok(!bytes.includes(Buffer.from(KEY, 'hex')), `${where} holds the key bytes`);
  const text = bytes.toString('latin1');
  for (const form of KEY_FORMS) assert.ok(!text.includes(form), `${where} holds the key as ${form}`);
}

async function assertNoKeyIn(folder: string, skip: (file: string) => boolean = () => false): Promise<void> {
  for (const file of await allFiles(folder)) if (!skip(file)) assertNoKeyInBytes(await readFile(file), file);
}

/** The track of a media playlist (init + segments) as one buffer. */
async function joinedTrack(playlistPath: string): Promise<Buffer> {
  const playlist = await readPlaylist(playlistPath);
  const uris = [playlist.segments[0].map.uri as string, ...playlist.segments.map((segment: any) => segment.uri as string)];
  return Buffer.concat(await Promise.all(uris.map((uri) => readFile(resolveUri(playlistPath, uri)))));
}

describe('--encrypt cbcs (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let sourceFrames: number;

  before(async () => {
    fixture = await transcodeFixture(
      async (folder) => makeClip(join(folder, 'clip.mp4'), { durationSeconds: 4, width: 320, height: 180, rate: '30' }),
      (folder) => ['--no-thumbnails', '--ladder', '144p,90p', '--preset', 'ultrafast', '--segment-duration', '2', '--work-dir', join(folder, 'work'), '--encrypt', 'cbcs', '--key-id', KID, '--key', KEY],
    );
    sourceFrames = await decodedFrameCount(join(fixture.dir, 'clip.mp4'));
  });
  after(async () => fixture.cleanup());

  it('signals the encryption in every playlist and in the MPD, with the KID', async () => {
    const { run, result } = fixture;
    assert.equal(run.code, 0, run.stderr);
    const masterText = await readFile(result.outputs.hls, 'utf8');
    assert.match(masterText, /^#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,/m);
    const master = await readPlaylist(result.outputs.hls);
    const playlists = [...master.variants.map((variant: any) => variant.uri), ...master.variants.flatMap((variant: any) => variant.audio.map((audio: any) => audio.uri))];
    assert.ok(playlists.some((uri: string) => uri.includes('iframes')), 'I-frame playlists are kept');
    for (const uri of new Set(playlists)) {
      const text = await readFile(resolveUri(result.outputs.hls, uri), 'utf8');
      const lines = text.split('\n');
      const map = lines.findIndex((line) => line.startsWith('#EXT-X-MAP:'));
      assert.ok(map > 0 && lines[map + 1]!.startsWith('#EXT-X-KEY:METHOD=SAMPLE-AES,'), `${uri}: EXT-X-KEY right after EXT-X-MAP`);
    }
    const { mpd } = await readMpd(result.outputs.dash);
    assert.equal(mpd['xmlns:cenc'], 'urn:mpeg:cenc:2013');
    for (const set of mpd.Period[0].AdaptationSet) {
      const protection = [set.ContentProtection].flat().filter(Boolean);
      if (set.contentType === 'text' || set.contentType === 'image') assert.equal(protection.length, 0);
      else assert.equal(protection.find((element: any) => element.schemeIdUri === 'urn:mpeg:dash:mp4protection:2011')?.['cenc:default_KID'], '01234567-89ab-cdef-0123-456789abcdef');
    }
  });

  it('encrypts every track: encv/enca with the KID in tenc, senc in each fragment, and each decrypts to every frame', async () => {
    const { result } = fixture;
    const master = await readPlaylist(result.outputs.hls);
    const video = resolveUri(result.outputs.hls, master.variants.find((variant: any) => !variant.isIFrameOnly).uri);
    const audio = resolveUri(result.outputs.hls, master.variants[0].audio[0].uri);
    for (const [playlist, entry, frames] of [[video, 'encv', sourceFrames], [audio, 'enca', undefined]] as const) {
      const track = await joinedTrack(playlist);
      assert.ok(track.includes(Buffer.from(entry)) && track.includes(Buffer.from('tenc')) && track.includes(Buffer.from(KID, 'hex')));
      const playlistData = await readPlaylist(playlist);
      for (const segment of playlistData.segments) {
        const bytes = await readFile(resolveUri(playlist, segment.uri));
        assert.equal(bytes.toString('latin1').split('moof').length, bytes.toString('latin1').split('senc').length, `${segment.uri}: a senc per moof`);
      }
      const decrypted = await decodedFrames(['-decryption_key', KEY, '-i', 'pipe:0'], track);
      assert.equal(decrypted.code, 0, decrypted.stderr);
      if (frames !== undefined) assert.equal(decrypted.frames, frames);
      else assert.ok(decrypted.frames > 100);
    }
  });

  it('leaves no key in the package', async () => {
    await assertNoKeyIn(join(fixture.dir, 'out'));
  });

  it('records the scheme and the KID, never the key: SQLite (with its WAL), the work folder, --json and show --json', async () => {
    const { run, result, dir } = fixture;
    assert.equal(run.code, 0, run.stderr);
    const files = await readdir(dir);
    assert.ok(files.includes('meta.db'), `the database is in ${dir}: ${files.join(', ')}`);
    // Every file the job left: the package, the database and its -wal/-shm, the work folder. Not the source.
    await assertNoKeyIn(dir, (file) => file === join(dir, 'clip.mp4'));
    assertNoKeyInBytes(Buffer.from(run.stdout), 'stdout of --json');
    assertNoKeyInBytes(Buffer.from(run.stderr), 'stderr of --json');
    const expected = { scheme: 'cbcs', kids: { video: '01234567-89ab-cdef-0123-456789abcdef', audio: '01234567-89ab-cdef-0123-456789abcdef' }, systems: [] };
    assert.deepEqual(result.protection, expected);

    const show = await runCli(['show', result.id, '--db', join(dir, 'meta.db'), '--json']);
    assert.equal(show.code, 0, show.stderr);
    assertNoKeyInBytes(Buffer.from(show.stdout + show.stderr), 'show --json');
    assert.deepEqual(JSON.parse(show.stdout).video.properties.protection, expected);
    const text = await runCli(['show', result.id, '--db', join(dir, 'meta.db')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /protection.*"scheme":"cbcs".*01234567-89ab-cdef-0123-456789abcdef/);
    assertNoKeyInBytes(Buffer.from(text.stdout + text.stderr), 'show');
  });
});

describe('--encrypt aes-128 with MPEG-TS (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let sourceFrames: number;

  before(async () => {
    fixture = await transcodeFixture(
      async (folder) => makeClip(join(folder, 'clip.mp4'), { durationSeconds: 4, width: 320, height: 180, rate: '30' }),
      (folder) => ['--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--hls-segments', 'both', '--encrypt', 'aes-128', '--key', KEY, '--key-uri', join(folder, 'key.bin')],
    );
    await writeFile(join(fixture.dir, 'key.bin'), Buffer.from(KEY, 'hex'));
    sourceFrames = await decodedFrameCount(join(fixture.dir, 'clip.mp4'));
  });
  after(async () => fixture.cleanup());

  it('signals METHOD=AES-128 with the key URI, and writes neither an MPD nor I-frame playlists', async () => {
    const { run, result } = fixture;
    assert.equal(run.code, 0, run.stderr);
    assert.equal(result.outputs.dash, undefined);
    await assert.rejects(access(join(result.outputs.root, 'manifest.mpd')));
    for (const name of ['master.m3u8', 'master-ts.m3u8']) {
      const path = join(fixture.result.outputs.root, name);
      const text = await readFile(path, 'utf8');
      assert.doesNotMatch(text, /I-FRAME/);
      assert.match(text, new RegExp(`^#EXT-X-SESSION-KEY:METHOD=AES-128,URI="${join(fixture.dir, 'key.bin')}"$`, 'm'));
    }
  });

  it('plays both multivariant playlists through ffmpeg’s HLS demuxer with the key: every frame', async () => {
    for (const name of ['master.m3u8', 'master-ts.m3u8']) {
      const played = await decodedFrames(['-allowed_extensions', 'ALL', '-i', join(fixture.result.outputs.root, name)]);
      assert.equal(played.code, 0, played.stderr);
      assert.equal(played.frames, sourceFrames, name);
    }
  });

  it('leaves no key in the package', async () => {
    await assertNoKeyIn(join(fixture.dir, 'out'));
  });
});
