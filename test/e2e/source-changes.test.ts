/**
 * A source that changes while a job processes it is never published, in part or as an older
 * version: a local MPEG-TS still being written (appended while the job runs, or after a pause
 * longer than the job), a file replaced by a shorter or longer version (rename over), a job of
 * the old version still running when a job of the new one has published, an s3:// object
 * overwritten or deleted mid-job, and an upload overwritten while `vidpipe watch` processes it.
 * The changes happen at fixed points of the job (its task events in-process; an ffmpeg wrapper
 * that acts when the first chunk encode starts, for spawned runs), so every run is the same race.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, renameSync, truncateSync } from 'node:fs';
import { chmod, copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JobEvent } from '../../src/core/events.js';
import type { TranscodeResult } from '../../src/core/result.js';
import { runJob, type JobRequest } from '../../src/job/run-job.js';
import { parseTranscodeOptions } from '../../src/settings/job-settings.js';
import { createS3Client, readTextObject } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir, VIDPIPE_BIN } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { keysUnder, putFile, S3_ENV } from '../helpers/s3-package.js';

const exec = promisify(execFile);
const FAST = ['--ladder', '144p', '--preset', 'ultrafast', '--no-thumbnails', '--concurrency', '1', '--segment-duration', '2'];
const settings = parseTranscodeOptions({ ladder: '144p', preset: 'ultrafast', thumbnails: false, concurrency: '1', segmentDuration: '2' }).settings;
const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
const durationOf = async (path: string) =>
  Number((await exec('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path])).stdout.trim());

describe('a source that changes while it is processed', { timeout: 600_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  /** An MPEG-TS of 6 s, as a recorder writes it. */
  let recording: Buffer;
  let short: string;
  let long: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-source-changes-'));
    recording = await readFile(await makeClip(join(dir, 'recording.ts'), { durationSeconds: 6, width: 160, height: 90 }));
    short = await makeClip(join(dir, 'short.mp4'), { durationSeconds: 1, width: 160, height: 90 });
    long = await makeClip(join(dir, 'long.mp4'), { durationSeconds: 3, width: 160, height: 90 });
  });
  after(() => cleanup());

  /** One job in this process; `onEvent` acts at fixed points of it (synchronously, before the task runs). */
  const job = (input: string, name: string, onEvent: (event: JobEvent) => void, extra: Partial<JobRequest> = {}): Promise<TranscodeResult> =>
    runJob({ input, out: join(dir, 'out'), name, settings, binaries, dbPath: join(dir, 'vidpipe.db'), workRoot: join(dir, 'work'), onEvent, ...extra });
  const startOf = (id: string, act: () => void) => (event: JobEvent) => {
    if (event.type === 'task-start' && 'id' in event && event.id === id) act();
  };
  /** The first `fraction` of the recording, cut at an MPEG-TS packet boundary. */
  const part = (fraction: number) => recording.subarray(0, Math.floor((recording.length * fraction) / 188) * 188);
  const published = (name: string) => existsSync(join(dir, 'out', name, 'master.m3u8'));

  it('a recording that pauses for longer than the job: waits for the file to settle, sees it grow, publishes nothing (exit 1 class)', async () => {
    const source = join(dir, 'paused.ts');
    await writeFile(source, part(1 / 3));
    // The writer's next piece comes once the job is about to publish, well within the quiet time.
    const result = await job(source, 'paused', startOf('publish', () => void setTimeout(() => appendFileSync(source, recording.subarray(part(1 / 3).length)), 100)), { sourceQuietMs: 60_000 });
    assert.equal(result.status, 'failed');
    assert.equal(result.error?.code, 'SOURCE_CHANGED');
    assert.match(result.error!.message, /paused\.ts changed while it was being processed \(its size went from [\d.]+ MB to [\d.]+ MB\); nothing was published/);
    assert.match(result.error!.hint!, /still being written, run vidpipe again once it is complete/);
    assert.equal(published('paused'), false, 'no package of the first third');
    // Complete now: the same command publishes all of it.
    const again = await job(source, 'paused', () => undefined, { sourceQuietMs: 0 });
    assert.equal(again.status, 'succeeded', JSON.stringify(again.error));
    assert.ok(Math.abs(again.durationSeconds! - 6) < 0.2, `${again.durationSeconds} s`);
  });

  it('--source-quiet through the CLI: a recorder that writes its next piece after the job is done encoding is caught while the job waits', async () => {
    const source = join(dir, 'quiet.ts');
    await writeFile(source, part(1 / 3));
    // The next piece lands 4 s in, after this tiny job would have published without a quiet time.
    const writer = setTimeout(() => appendFileSync(source, recording.subarray(part(1 / 3).length)), 4000);
    const started = Date.now();
    const run = await runCli(['transcode', source, '--out', join(dir, 'out'), '--name', 'quiet', '--db', join(dir, 'cli.db'), '--work-dir', join(dir, 'work'), '--json', '--quiet', '--source-quiet', '20', ...FAST]);
    clearTimeout(writer);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(JSON.parse(run.stdout).error.code, 'SOURCE_CHANGED');
    assert.ok(Date.now() - started < 15_000, 'the change ends the wait: it does not run out the 20 s');
    assert.equal(published('quiet'), false, 'no package of the first third');
  });

  it('a recording appended to while it is encoded, and one truncated: nothing published', async () => {
    for (const [name, change] of [
      ['appended', (source: string) => appendFileSync(source, recording.subarray(part(1 / 2).length))],
      ['truncated', (source: string) => truncateSync(source, part(1 / 4).length)],
    ] as const) {
      const source = join(dir, `${name}.ts`);
      await writeFile(source, part(1 / 2));
      const result = await job(source, name, startOf('encode-video-0', () => change(source)));
      assert.equal(result.error?.code, 'SOURCE_CHANGED', `${name}: ${JSON.stringify(result.error)}`);
      assert.match(result.error!.message, /its size went from/);
      assert.equal(published(name), false, name);
    }
  });

  it('a file replaced (renamed over) by a shorter or a longer version mid-job: nothing published; the next run publishes the new version', async () => {
    for (const [name, first, next] of [
      ['shrinks', long, short],
      ['grows', short, long],
    ] as const) {
      const source = join(dir, `${name}.mp4`);
      await copyFile(first, source);
      const staged = join(dir, `${name}.next.mp4`);
      await copyFile(next, staged);
      const result = await job(source, name, startOf('encode-video-0', () => renameSync(staged, source)));
      assert.equal(result.error?.code, 'SOURCE_CHANGED', `${name}: ${JSON.stringify(result.error)}`);
      assert.match(result.error!.message, /it was replaced by another file\); nothing was published/);
      assert.equal(published(name), false, name);
      const again = await job(source, name, () => undefined, { sourceQuietMs: 0 });
      assert.equal(again.status, 'succeeded', JSON.stringify(again.error));
      assert.ok(Math.abs(again.durationSeconds! - (await durationOf(next))) < 0.1, `${name}: the new version`);
    }
  });

  it('the job of the old version still running when a job of the new version has published: the old one stands down', async () => {
    const source = join(dir, 'race.mp4');
    const out = join(dir, 'out-race');
    await copyFile(long, source);
    const staged = join(dir, 'race.next.mp4');
    await copyFile(short, staged);
    let newer: TranscodeResult | undefined;
    // When the old job is about to publish, the file is replaced and a second vidpipe publishes
    // the new version from start to end first.
    const result = await job(source, 'race', startOf('publish', () => {
      renameSync(staged, source);
      // Throws (and fails the test) unless it exits 0.
      const stdout = execFileSync(process.execPath, [VIDPIPE_BIN, 'transcode', source, '--out', out, '--db', join(dir, 'other.db'), ...FAST, '--json', '--quiet'], { env: { ...process.env, CI: '' } });
      newer = JSON.parse(stdout.toString()) as TranscodeResult;
    }), { out });
    assert.equal(newer?.status, 'succeeded');
    assert.equal(result.error?.code, 'SOURCE_CHANGED', JSON.stringify(result.error));
    // One package, of the new version; the old one published nothing, anywhere.
    assert.deepEqual(await readdir(out), ['race']);
    const record = JSON.parse(await readFile(join(out, 'race', 'vidpipe-record.json'), 'utf8'));
    assert.equal(record.video.sha256, await sha256(short));
    assert.ok(Math.abs(newer!.durationSeconds! - (await durationOf(short))) < 0.1);
  });

  describe('s3:// sources (s3rver)', () => {
    let s3: S3TestServer;
    let client: S3Client;
    before(async () => {
      s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
      client = createS3Client(s3.clientOptions());
    });
    after(async () => {
      client.destroy();
      await s3.stop();
    });

    /** An ffmpeg that runs `command` (once) when the job's first chunk encode starts, then the real ffmpeg. */
    const ffmpegThat = async (name: string, command: string): Promise<string> => {
      const real = (await exec('sh', ['-c', 'command -v ffmpeg'])).stdout.trim();
      const wrapper = join(dir, `ffmpeg-${name}.sh`);
      await writeFile(wrapper, [
        '#!/bin/sh',
        `case " $* " in *" -filter_complex "*) if mkdir '${wrapper}.done' 2>/dev/null; then ${command}; fi;; esac`,
        `exec '${real}' "$@"`,
        '',
      ].join('\n'));
      await chmod(wrapper, 0o755);
      return wrapper;
    };
    const put = (key: string, file: string) => `curl -sSf -X PUT --data-binary @'${file}' '${s3.endpoint}/inbox/${key}' >/dev/null`;

    it('transcode of an object overwritten or deleted mid-job: exit 1, nothing published', async () => {
      for (const [name, command, change] of [
        ['overwritten', (key: string) => put(key, short), /another version was uploaded: ETag \w+ → \w+/],
        ['deleted', (key: string) => `curl -sSf -X DELETE '${s3.endpoint}/inbox/${key}' >/dev/null`, /\(it was deleted\)/],
      ] as const) {
        const key = `direct/${name}.mp4`;
        await putFile(client, 'inbox', key, long);
        const wrapper = await ffmpegThat(name, command(key));
        const run = await runCli(['transcode', `s3://inbox/${key}`, '--out', 's3://vod/direct/', '--s3-endpoint', s3.endpoint, '--db', join(dir, 's3.db'), '--ffmpeg', wrapper, ...FAST, '--json', '--quiet'], { env: S3_ENV });
        assert.equal(run.code, 1, run.stderr);
        const result = JSON.parse(run.stdout);
        assert.equal(result.error.code, 'SOURCE_CHANGED');
        assert.match(result.error.message, new RegExp(`^s3://inbox/${key} changed while it was being processed`));
        assert.match(result.error.message, change);
        assert.deepEqual(await keysUnder(client, 'vod', `direct/${name}`), [], `${name}: nothing published`);
      }
    });

    it('watch: an upload overwritten while it is processed publishes the new version, and only that', async () => {
      await putFile(client, 'inbox', 'up/talk.mp4', long);
      const wrapper = await ffmpegThat('watch', put('up/talk.mp4', short));
      const run = await runCli(
        ['watch', 's3://inbox/up/', '--once', '--interval', '0.5', '--out', 's3://vod/watched/', '--s3-endpoint', s3.endpoint, '--db', join(dir, 'watch.db'), '--ffmpeg', wrapper, ...FAST, '--json', '--progress', 'none'],
        { env: S3_ENV },
      );
      assert.equal(run.code, 0, run.stderr);
      const lines = run.stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
      assert.deepEqual(lines.map((line) => [line.key, line.watchStatus]), [['up/talk.mp4', 'superseded'], ['up/talk.mp4', 'done']]);
      assert.equal(lines[0].error.code, 'SOURCE_CHANGED');
      assert.notEqual(lines[0].etag, lines[1].etag);
      assert.match(run.stderr, /up\/talk\.mp4 changed while it was being processed .*; the new version is processed once it has settled/);
      // The package under the key's name holds the new version; nothing of the old one anywhere.
      const keys = await keysUnder(client, 'vod', 'watched/');
      assert.ok(keys.length > 0 && keys.every((key) => key.startsWith('talk/')), keys.join(' '));
      const record = JSON.parse((await readTextObject(client, 'vod', 'watched/talk/vidpipe-record.json'))!);
      assert.equal(record.video.sha256, await sha256(short));
      assert.ok(Math.abs(lines[1].durationSeconds - (await durationOf(short))) < 0.1, 'the short version');
    });
  });
});
