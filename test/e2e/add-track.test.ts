/**
 * `vidpipe add-track` (#26): a track added to a published package, locally and on S3 (s3rver),
 * makes a new release in which every file of the previous one but the three it rewrites
 * (master.m3u8, manifest.mpd, vidpipe.json) is the same bytes (SHA-256), with the new language
 * in both manifests (strict parsers), as long as the video to within one audio frame, decodable;
 * the job is the video's latest in the database. A bad file stops it with exit 2, and a run
 * killed in the middle of its publish (held by VIDPIPE_TEST_PUBLISH_HOLD, then SIGKILL) leaves
 * the previous release serving, whole.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import { hashTree } from '../../src/core/ids.js';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import { ffprobeJson, makeClip, runCli, tempDir } from '../helpers/media.js';
import { joinCmafTrack, readMpd, readPlaylist, resolveUri, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { downloadPrefix, S3_ENV } from '../helpers/s3-package.js';
import { validate } from '../helpers/validate-package.js';

const exec = promisify(execFile);
const ffmpeg = (args: string[]) => exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
/** One AAC frame at 48 kHz: how far an audio track may end from the video. */
const AUDIO_FRAME_SECONDS = 1024 / 48000;
const FAST = ['--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2'];
/** The files a new release writes anew; every other file of the previous release is reused as it is. */
const REWRITTEN = new Set(['master.m3u8', 'manifest.mpd', 'vidpipe.json']);

/** Every file of the old release that the new one must hold byte for byte. */
function assertReused(before: Map<string, string>, after: Map<string, string>): void {
  let compared = 0;
  for (const [key, hash] of before) {
    if (REWRITTEN.has(key)) continue;
    assert.equal(after.get(key), hash, `${key} is the same bytes in the new release`);
    compared++;
  }
  assert.ok(compared >= 8, `${compared} files compared`);
}

/** The duration ffprobe reads from a CMAF track joined from its playlist. */
async function trackSeconds(playlist: string, output: string): Promise<{ seconds: number; stream: any }> {
  const joined = await joinCmafTrack(playlist, output);
  const { streams, format } = await ffprobeJson(['-show_entries', 'stream=codec_name,channels,sample_rate:format=duration', joined]);
  return { seconds: Number(format.duration), stream: streams[0] };
}

/** The French dub is listed in HLS (not default) and DASH (Role dub), and lasts as long as the video. */
async function assertDubAdded(master: string, mpdPath: string, scratch: string): Promise<void> {
  const playlist = await readPlaylist(master);
  const audio = playlist.variants[0].audio.map((a: any) => [a.language, a.name, a.isDefault]);
  assert.deepEqual(audio, [['en', 'English', true], ['fr', 'Français', false]]);
  const { mpd } = await readMpd(mpdPath);
  const sets = mpd.Period[0].AdaptationSet.filter((s: any) => s.contentType === 'audio');
  assert.deepEqual(sets.map((s: any) => [s.lang, s.Role[0].value]), [['en', 'main'], ['fr', 'dub']]);

  const video = await trackSeconds(resolveUri(master, playlist.variants[0].uri), join(scratch, 'video.mp4'));
  const dub = playlist.variants[0].audio.find((a: any) => a.language === 'fr');
  const added = await trackSeconds(resolveUri(master, dub.uri), join(scratch, 'dub.mp4'));
  assert.deepEqual([added.stream.codec_name, added.stream.channels, added.stream.sample_rate], ['aac', 2, '48000']);
  assert.ok(Math.abs(added.seconds - video.seconds) <= AUDIO_FRAME_SECONDS + 0.001, `dub ${added.seconds} s vs video ${video.seconds} s`);
  // It decodes whole.
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-v', 'error', '-i', join(scratch, 'dub.mp4'), '-f', 'null', '-']);
  assert.equal(stderr.trim(), '');
}

/** The release an entry manifest points at. */
async function releaseOf(master: string): Promise<string> {
  const playlist = await readPlaylist(master);
  return (playlist.variants[0].uri as string).split('/')[0]!;
}

describe('vidpipe add-track on a local package', { timeout: 300_000 }, () => {
  let fixture: TranscodeFixture;
  let root: string;
  let db: string;
  let firstRelease: string;
  let firstHashes: Map<string, string>;
  const addTrack = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCli(['add-track', root, '--db', db, '--work-dir', join(fixture.dir, 'work'), '--json', ...args], { env });

  before(async () => {
    fixture = await transcodeFixture(async (dir) => {
      await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=44100:duration=3', '-ac', '1', join(dir, 'dub.mp3')]);
      await writeFile(join(dir, 'sdh.srt'), '1\n00:00:00,500 --> 00:00:02,000\n[door slams]\n');
      return makeClip(join(dir, 'film.mp4'), { durationSeconds: 4, extraArgs: ['-metadata:s:a:0', 'language=eng'] });
    }, FAST);
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
    root = join(fixture.dir, 'out', 'film');
    db = join(fixture.dir, 'meta.db');
    firstRelease = fixture.result.jobId;
    firstHashes = await hashTree(join(root, firstRelease));
  });
  after(async () => fixture.cleanup());

  it('refuses a missing audio file with exit 2, naming it, and publishes nothing', async () => {
    const run = await addTrack(['--audio-track', `${join(fixture.dir, 'missing.wav')}:fr:dub`]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--audio-track: .*missing\.wav/);
    assert.equal(await releaseOf(join(root, 'master.m3u8')), firstRelease);
    assert.equal(JSON.parse(await readFile(join(root, 'vidpipe-record.json'), 'utf8')).live, firstRelease);
  });

  it('leaves the previous release serving, whole, when killed in the middle of its publish', async () => {
    const hold = join(fixture.dir, 'hold');
    await writeFile(hold, '');
    const held = addTrack(['--audio-track', `${join(fixture.dir, 'dub.mp3')}:fr:dub`], { VIDPIPE_TEST_PUBLISH_HOLD: `live:${hold}` });
    let ended: { stderr: string } | undefined;
    void held.then((run) => (ended = run));
    const until = Date.now() + 60_000;
    while (!existsSync(`${hold}.reached`)) {
      if (ended) assert.fail(`add-track ended before its hold: ${ended.stderr}`);
      assert.ok(Date.now() < until, 'the hold was not reached within 60 s');
      await sleep(50);
    }
    // Sent in full and about to go live: killed without a chance to clean up.
    process.kill(Number((await readFile(`${hold}.reached`, 'utf8')).trim()), 'SIGKILL');
    const run = await held;
    assert.equal(run.signal, 'SIGKILL');
    for (const entry of ['master.m3u8', 'manifest.mpd']) {
      const text = await readFile(join(root, entry), 'utf8');
      assert.ok(text.includes(`${firstRelease}/`), `${entry} still points at ${firstRelease}`);
    }
    assert.equal(JSON.parse(await readFile(join(root, 'vidpipe-record.json'), 'utf8')).live, firstRelease);
    assert.deepEqual(await hashTree(join(root, firstRelease)), firstHashes, 'the previous release is whole and unchanged');
    const report = await validate(root);
    assert.deepEqual(report.checks.filter((check) => check.status === 'fail'), []);
  });

  let result: any;
  it('publishes a new release with the dub and SDH subtitles, every earlier file the same bytes', async () => {
    const run = await addTrack(['--audio-track', `${join(fixture.dir, 'dub.mp3')}:fr:dub`, '--subtitles', `${join(fixture.dir, 'sdh.srt')}:en:sdh`]);
    assert.equal(run.code, 0, run.stderr);
    result = JSON.parse(run.stdout);
    assert.equal(result.previousRelease, firstRelease);
    assert.deepEqual(result.added.map((t: any) => [t.kind, t.id, t.language, t.role]), [['audio', 'aac-128k-fr-dub', 'fr', 'dub'], ['subtitle', 'sub-en', 'en', 'sdh']]);
    assert.equal(await releaseOf(join(root, 'master.m3u8')), result.jobId);
    assertReused(firstHashes, await hashTree(join(root, result.jobId)));

    await assertDubAdded(join(root, 'master.m3u8'), join(root, 'manifest.mpd'), fixture.dir);
    const playlist = await readPlaylist(join(root, 'master.m3u8'));
    assert.deepEqual(playlist.variants[0].subtitles.map((s: any) => [s.language, s.name, s.characteristics]), [
      ['en', 'English (SDH)', 'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound'],
    ]);
    const report = await validate(root);
    assert.deepEqual(report.checks.filter((check) => check.status === 'fail'), []);
  });

  it('is recorded as a job of the video: vidpipe show lists it with the new rendition', async () => {
    const run = await runCli(['show', fixture.result.id, '--db', db, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const details = JSON.parse(run.stdout);
    assert.equal(details.latestJob.id, result.jobId);
    assert.equal(details.latestJob.status, 'succeeded');
    assert.equal(details.readyJob.id, result.jobId);
    assert.deepEqual(details.renditions.map((r: any) => r.name), ['h264-144p', 'aac-128k', 'aac-128k-fr-dub']);
    assert.ok(details.tasks.some((t: any) => t.id === 'encode-audio-aac-128k-fr-dub' && t.status === 'succeeded'), JSON.stringify(details.tasks));
  });

  it('removes a track the same way, by its id, leaving the others as they were', async () => {
    const before = await hashTree(join(root, result.jobId));
    const run = await runCli(['add-track', fixture.result.id, '--db', db, '--work-dir', join(fixture.dir, 'work'), '--json', '--remove-track', 'sub-en']);
    assert.equal(run.code, 0, run.stderr);
    const removed = JSON.parse(run.stdout);
    const playlist = await readPlaylist(join(root, 'master.m3u8'));
    assert.equal(playlist.variants[0].subtitles.length, 0);
    const after = await hashTree(join(root, removed.jobId));
    assert.ok(![...after.keys()].some((key) => key.startsWith('subtitles/')), 'no subtitle files left');
    assertReused(new Map([...before].filter(([key]) => !key.startsWith('subtitles/'))), after);
  });
});

describe('vidpipe add-track on an S3 package (s3rver)', { timeout: 300_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  const cli = (args: string[]) => runCli([...args, '--s3-endpoint', s3.endpoint, '--db', join(dir, 'meta.db'), '--work-dir', join(dir, 'work'), '--json', '--progress', 'none'], { env: S3_ENV });

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-add-track-s3-'));
    s3 = await startS3Server({ buckets: ['vod'] });
    client = createS3Client(s3.clientOptions());
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  it('publishes a new release on S3 that reuses every object of the previous one', async () => {
    const film = await makeClip(join(dir, 'film.mp4'), { durationSeconds: 4, extraArgs: ['-metadata:s:a:0', 'language=eng'] });
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=44100:duration=5', '-ac', '1', join(dir, 'dub.m4a')]);
    const transcode = await cli(['transcode', film, '--out', 's3://vod/site/', ...FAST]);
    assert.equal(transcode.code, 0, transcode.stderr);
    const first = JSON.parse(transcode.stdout);
    await downloadPrefix(client, 'vod', 'site/film/', join(dir, 'before'));
    const before = await hashTree(join(dir, 'before', first.jobId));

    const run = await cli(['add-track', 's3://vod/site/film', '--audio-track', `${join(dir, 'dub.m4a')}:fr:dub`]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.outputs.hls, 's3://vod/site/film/master.m3u8');
    assert.match((await readTextObject(client, 'vod', 'site/film/master.m3u8'))!, new RegExp(`${result.jobId}/audio/aac-128k-fr-dub/index\\.m3u8`));

    await downloadPrefix(client, 'vod', 'site/film/', join(dir, 'after'));
    assertReused(before, await hashTree(join(dir, 'after', result.jobId)));
    // The dub was longer than the video: cut at its end.
    await assertDubAdded(join(dir, 'after', 'master.m3u8'), join(dir, 'after', 'manifest.mpd'), dir);
  });
});

describe('vidpipe add-track on an encrypted package', { timeout: 300_000 }, () => {
  it('refuses it with exit 2, saying why, and leaves the package as it was', async () => {
    const fixture = await transcodeFixture(
      async (dir) => {
        await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:duration=2', join(dir, 'dub.m4a')]);
        return makeClip(join(dir, 'film.mp4'), { durationSeconds: 2 });
      },
      [...FAST, '--encrypt', 'cbcs', '--key-id', '0123456789abcdef0123456789abcdef', '--key', '00112233445566778899aabbccddeeff'],
    );
    try {
      assert.equal(fixture.run.code, 0, fixture.run.stderr);
      const root = join(fixture.dir, 'out', 'film');
      const before = await hashTree(root);
      const run = await runCli(['add-track', root, '--audio-track', `${join(fixture.dir, 'dub.m4a')}:fr:dub`, '--db', join(fixture.dir, 'meta.db'), '--work-dir', join(fixture.dir, 'work')]);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /is encrypted \(cbcs\): add-track does not encrypt a new track/);
      assert.deepEqual(await hashTree(root), before, 'nothing written');
    } finally {
      await fixture.cleanup();
    }
  });
});
