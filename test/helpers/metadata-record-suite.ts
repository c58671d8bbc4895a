import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { MetadataStore, MetadataStoreOptions } from '../../src/db/metadata-store.js';
import type { RenditionRecord } from '../../src/db/records.js';
import { isVidpipeError } from '../../src/errors.js';
import { sampleCompletion, sampleStart, steppingClock } from './db-fixtures.js';

/**
 * An engine the record suite runs against: `open` gives a store on a fresh, empty database
 * (each call of one test reaching the same database). The SQLite run is in
 * test/integration/db.test.ts; another engine's test file calls describeMetadataRecords with its own.
 */
export interface EngineUnderTest {
  name: string;
  open(options?: MetadataStoreOptions): Promise<MetadataStore>;
}

function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(isVidpipeError(error), `expected a VidpipeError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/** The record-level behaviour every metadata engine must have: what the pipeline writes and the CLI reads back. */
export function describeMetadataRecords(engine: EngineUnderTest): void {
  describe(`metadata records (${engine.name})`, () => {
    describe('job lifecycle', async () => {
      let db: MetadataStore;
      beforeEach(async () => (db = await engine.open({ now: steppingClock(), worker: 'host:1' })));
      afterEach(() => db.close());

      test('startJob records the video, the running job and pending tasks', async () => {
        await db.startJob(sampleStart('j1'));
        const { job, tasks } = await db.getJob('j1');
        assert.equal(job.status, 'running');
        assert.equal(job.attempt, 1);
        assert.equal(job.worker, 'host:1');
        assert.deepEqual(job.options, { ladder: 'default', segmentSeconds: 4 });
        assert.deepEqual(
          tasks.map((task) => [task.id, task.status, task.dependsOn]),
          [
            ['probe', 'pending', []],
            ['encode-720p', 'pending', ['probe']],
            ['manifests', 'pending', ['encode-720p']],
          ],
        );
        const { video } = await db.getVideo('v0123456789ab');
        assert.equal(video.status, 'processing');
        assert.deepEqual(video.tags, { title: 'Sample clip' });
        assert.deepEqual(video.probe, { format: 'mov,mp4', streams: [{ codec: 'h264' }] });
        assert.equal(video.sizeBytes, 1_234_567);
      });

      test('updateTask patches only the given fields and stamps times from the status', async () => {
        await db.startJob(sampleStart('j1'));
        await db.updateTask('j1', 'encode-720p', { status: 'running', attempts: 1, worker: 'w2' });
        await db.updateTask('j1', 'encode-720p', { progress: 1.0004 });
        assert.equal((await db.getJob('j1')).tasks[1].progress, 1, 'overshoot is clamped');
        await db.updateTask('j1', 'encode-720p', { progress: 0.5 });
        let task = (await db.getJob('j1')).tasks[1];
        assert.equal(task.status, 'running');
        assert.equal(task.progress, 0.5);
        assert.equal(task.attempts, 1);
        assert.equal(task.worker, 'w2');
        assert.ok(task.startedAt);
        assert.equal(task.finishedAt, null);

        await db.updateTask('j1', 'encode-720p', { status: 'failed', error: 'ffmpeg exited with 1' });
        await db.updateTask('j1', 'encode-720p', { status: 'running', attempts: 2, error: null });
        await db.updateTask('j1', 'encode-720p', { status: 'succeeded', output: { frames: 300 }, finishedAt: new Date('2030-01-01T00:00:00Z') });
        task = (await db.getJob('j1')).tasks[1];
        assert.equal(task.status, 'succeeded');
        assert.equal(task.attempts, 2);
        assert.equal(task.error, null);
        assert.equal(task.progress, 1);
        assert.deepEqual(task.output, { frames: 300 });
        assert.equal(task.finishedAt, '2030-01-01T00:00:00.000Z');
      });

      test('addTasks appends pending tasks to a started job', async () => {
        await db.startJob({ ...sampleStart('j1'), tasks: [] });
        await db.addTasks('j1', [{ id: 'encode-chunk-0', kind: 'encode', label: 'Encode chunk 0', dependsOn: [] }]);
        assert.deepEqual(
          (await db.getJob('j1')).tasks.map((task) => [task.id, task.status]),
          [['encode-chunk-0', 'pending']],
        );
        await assert.rejects(db.addTasks('nope', []), rejectsWith('NOT_FOUND'));
      });

      test('updateTask of an unknown task is NOT_FOUND', async () => {
        await db.startJob(sampleStart('j1'));
        await assert.rejects(db.updateTask('j1', 'nope', { progress: 0.1 }), rejectsWith('NOT_FOUND', /no task nope/));
      });

      test('completeJob publishes the job, the video, its renditions and files', async () => {
        await db.startJob(sampleStart('j1'));
        for (const id of ['probe', 'encode-720p', 'manifests']) await db.updateTask('j1', id, { status: 'succeeded' });
        await db.startJob(sampleStart('j2'));
        assert.deepEqual(await db.runningJobIds(), ['j1', 'j2']);
        await db.completeJob('j1', sampleCompletion());
        assert.deepEqual(await db.runningJobIds(), ['j2'], 'a worker sweeps only the jobs still running');

        const { job, renditions, files } = await db.getJob('j1');
        assert.equal(job.status, 'succeeded');
        assert.ok(job.finishedAt);
        assert.deepEqual(job.outputs, { hls: 'master.m3u8', dash: 'manifest.mpd', poster: 'poster.jpg' });
        assert.deepEqual(job.timings, { probe: 0.25, encode: 12.5, manifests: 0.1 });
        assert.deepEqual(
          renditions.map((r) => [r.name, r.codecs, r.width, r.channels, r.averageBitrate, r.videoId]),
          [
            ['h264-720p', 'avc1.64001f', 1280, null, 2_400_124, 'v0123456789ab'],
            ['aac-128k', 'mp4a.40.2', null, 2, 128_400, 'v0123456789ab'],
          ],
        );
        assert.deepEqual(files.map((f) => f.key), ['manifest.mpd', 'master.m3u8']);

        const details = await db.getVideo('v0123456789ab');
        assert.equal(details.video.status, 'ready');
        assert.equal(details.video.durationSeconds, 10.01);
        assert.deepEqual(details.video.tags, { title: 'Sample clip' }, 'tags kept when not given');
        assert.deepEqual(details.video.properties, { loudnessLufs: -14.2 });
        assert.equal(details.readyJob?.id, 'j1');
        assert.equal(details.renditions.length, 2);
      });

      test('completeJob is all or nothing', async () => {
        await db.startJob(sampleStart('j1'));
        const completion = sampleCompletion();
        // The second rendition violates NOT NULL after the job, the video and the first rendition were written.
        completion.renditions[1] = { ...completion.renditions[1], codecs: null } as unknown as RenditionRecord;
        await assert.rejects(db.completeJob('j1', completion), rejectsWith('DB_FAILED', /NOT NULL|not-null/i));

        const { job, renditions, files } = await db.getJob('j1');
        assert.equal(job.status, 'running');
        assert.deepEqual(job.outputs, {});
        assert.equal(job.finishedAt, null);
        assert.equal(renditions.length, 0);
        assert.equal(files.length, 0);
        const { video } = await db.getVideo('v0123456789ab');
        assert.equal(video.status, 'processing');
        assert.deepEqual(video.properties, {});
      });

      test('completeJob of a job of another video is refused', async () => {
        await db.startJob(sampleStart('j1'));
        await assert.rejects(db.completeJob('j1', sampleCompletion('v-other')), rejectsWith('INTERNAL', /belongs to video/));
        await assert.rejects(db.completeJob('nope', sampleCompletion()), rejectsWith('NOT_FOUND'));
      });
    });

    describe('failJob', async () => {
      let db: MetadataStore;
      beforeEach(async () => (db = await engine.open({ now: steppingClock() })));
      afterEach(() => db.close());

      test('fails the job, cancels unfinished tasks and the video of a first job', async () => {
        await db.startJob(sampleStart('j1'));
        await db.updateTask('j1', 'probe', { status: 'succeeded' });
        await db.updateTask('j1', 'encode-720p', { status: 'running' });
        await db.failJob('j1', { status: 'failed', code: 'FFMPEG_FAILED', message: 'ffmpeg exited with 1' });

        const { job, tasks } = await db.getJob('j1');
        assert.equal(job.status, 'failed');
        assert.equal(job.errorCode, 'FFMPEG_FAILED');
        assert.equal(job.errorMessage, 'ffmpeg exited with 1');
        assert.ok(job.finishedAt);
        const [probe, encode, manifests] = tasks;
        assert.equal(probe.status, 'succeeded');
        assert.equal(encode.status, 'cancelled');
        assert.ok(encode.finishedAt, 'a running task gets its end time');
        assert.equal(manifests.status, 'cancelled');
        assert.equal(manifests.finishedAt, null, 'a task that never started has no end time');
        assert.equal((await db.getVideo('v0123456789ab')).video.status, 'failed');
      });

      test('an interrupted re-run leaves a published video ready with its renditions', async () => {
        await db.startJob(sampleStart('j1'));
        await db.completeJob('j1', sampleCompletion());
        await db.startJob(sampleStart('j2'));
        assert.equal((await db.getVideo('v0123456789ab')).video.status, 'processing');
        await db.failJob('j2', { status: 'interrupted', code: 'INTERRUPTED', message: 'interrupted' });

        const details = await db.getVideo('v0123456789ab');
        assert.equal(details.video.status, 'ready');
        assert.equal(details.latestJob?.id, 'j2');
        assert.equal(details.latestJob?.status, 'interrupted');
        assert.equal(details.latestJob?.attempt, 2);
        assert.equal(details.readyJob?.id, 'j1');
        assert.equal(details.renditions.length, 2);
        assert.ok(details.tasks.every((task) => task.jobId === 'j2' && task.status === 'cancelled'));
      });

      test('a job that already finished is left alone; an unknown job is NOT_FOUND', async () => {
        await db.startJob(sampleStart('j1'));
        await db.completeJob('j1', sampleCompletion());
        await db.failJob('j1', { status: 'interrupted', code: 'INTERRUPTED', message: 'late Ctrl-C' });
        assert.equal((await db.getJob('j1')).job.status, 'succeeded');
        assert.equal((await db.getVideo('v0123456789ab')).video.status, 'ready');
        await assert.rejects(db.failJob('nope', { status: 'failed', code: 'X', message: 'x' }), rejectsWith('NOT_FOUND'));
      });
    });

    describe('reads', async () => {
      let db: MetadataStore;
      beforeEach(async () => {
        db = await engine.open({ now: steppingClock() });
        for (const id of ['vabc111', 'vabc222', 'vdef', 'vdef0', 'v%x']) await db.startJob(sampleStart(`job-${id}`, id, `${id}.mp4`));
      });
      afterEach(() => db.close());

      test('getVideo accepts an exact id or a unique prefix', async () => {
        assert.equal((await db.getVideo('vabc1')).video.id, 'vabc111');
        assert.equal((await db.getVideo('vdef')).video.id, 'vdef', 'an exact id wins over a longer id it prefixes');
        assert.equal((await db.getVideo('vdef0')).video.id, 'vdef0');
      });

      test('getVideo reports unknown and ambiguous ids as NOT_FOUND', async () => {
        await assert.rejects(db.getVideo('vzzz'), rejectsWith('NOT_FOUND', /no video with id or id prefix "vzzz"/));
        await assert.rejects(db.getVideo('VABC1'), rejectsWith('NOT_FOUND'), 'ids are case-sensitive');
        assert.equal((await db.getVideo('v%')).video.id, 'v%x', '% is not a wildcard');
        await assert.rejects(db.getVideo('vabc'), rejectsWith('NOT_FOUND', /ambiguous: it matches vabc111, vabc222/));
        await assert.rejects(db.getVideo(''), rejectsWith('USAGE'));
      });

      test('getJob of an unknown id is NOT_FOUND', async () => {
        await assert.rejects(db.getJob('nope'), rejectsWith('NOT_FOUND', /no job with id nope/));
      });

      test('listVideos: newest first, filtered by status, limited, with latest job and rendition count', async () => {
        await db.completeJob('job-vabc111', sampleCompletion('vabc111'));
        await db.failJob('job-vdef', { status: 'failed', code: 'FFMPEG_FAILED', message: 'boom' });

        const all = await db.listVideos();
        assert.deepEqual(
          all.map((v) => v.id),
          ['vdef', 'vabc111', 'v%x', 'vdef0', 'vabc222'],
        );
        const ready = await db.listVideos({ status: 'ready' });
        assert.deepEqual(ready, [
          {
            id: 'vabc111',
            name: 'vabc111.mp4',
            source: '/media/vabc111.mp4',
            kind: 'video',
            status: 'ready',
            durationSeconds: 10.01,
            renditionCount: 2,
            createdAt: ready[0].createdAt,
            updatedAt: ready[0].updatedAt,
            latestJobId: 'job-vabc111',
            latestJobStatus: 'succeeded',
            tags: { title: 'Sample clip' },
          },
        ]);
        assert.equal((await db.listVideos({ limit: 2 })).length, 2);
        assert.equal(all[0].latestJobStatus, 'failed');
        assert.equal(all[0].renditionCount, 0);
      });
    });

    describe('quality measured later', () => {
      test('saveRenditionQuality merges quality into the named renditions, keeping their other properties', async () => {
        const db = await engine.open({ now: steppingClock() });
        try {
          await db.startJob(sampleStart('j1'));
          const completion = sampleCompletion();
          completion.renditions[0] = { ...completion.renditions[0], properties: { encoder: 'libx264' } };
          await db.completeJob('j1', completion);
          const quality = { psnr: 41.5, ssim: 0.987 };
          assert.deepEqual(await db.saveRenditionQuality('j1', { 'h264-720p': quality, 'no-such': quality }), ['h264-720p']);
          const [video, audio] = (await db.getJob('j1')).renditions;
          assert.deepEqual(video.properties, { encoder: 'libx264', quality });
          assert.deepEqual(audio.properties, {});
        } finally {
          await db.close();
        }
      });
    });

    describe('watched uploads: claims with leases', () => {
      const upload = { bucket: 'inbox', key: 'uploads/a.mp4', etag: 'e1', size: 10 };
      const clock = { now: Date.parse('2026-01-01T00:00:00Z') };
      const lease = (owner: string) => ({ owner, leaseMs: 10_000, maxAttempts: 2, now: new Date(clock.now) });
      let a: MetadataStore;
      let b: MetadataStore;
      // Two watchers: two stores (connections) on one database.
      beforeEach(async () => {
        clock.now = Date.parse('2026-01-01T00:00:00Z');
        a = await engine.open();
        b = await engine.open();
      });
      afterEach(async () => {
        await a.close();
        await b.close();
      });

      test('exactly one of two watchers claims an upload; done stays done; a new ETag is new work', async () => {
        assert.deepEqual(await a.claimUpload(upload, lease('a')), { claimed: true, attempt: 1 });
        assert.deepEqual(await b.claimUpload(upload, lease('b')), { claimed: false, reason: 'busy' });
        assert.equal(await b.renewUpload(upload, lease('b')), false, 'only the holder renews');
        assert.equal(await a.renewUpload(upload, lease('a')), true);
        await a.finishUpload(upload, { status: 'done', jobId: 'j1', outputs: { hls: 's3://vod/a/master.m3u8' }, now: new Date(clock.now) });
        assert.deepEqual(await b.claimUpload(upload, lease('b')), { claimed: false, reason: 'finished' });
        const done = await b.getUpload('inbox', upload.key);
        assert.equal(done?.status, 'done');
        assert.deepEqual(done?.outputs, { hls: 's3://vod/a/master.m3u8' });
        assert.equal(done?.leaseOwner, null);
        clock.now += 3_600_000;
        assert.deepEqual(await b.claimUpload({ ...upload, etag: 'e2' }, lease('b')), { claimed: true, attempt: 1 });
        assert.equal((await a.getUpload('inbox', upload.key))?.jobId, null);
        assert.equal(await a.getUpload('inbox', 'never-seen'), undefined);
      });

      test('an expired lease is claimed again, then given up with the reason when attempts run out', async () => {
        assert.equal((await a.claimUpload(upload, lease('a'))).claimed, true);
        clock.now += 9_000;
        assert.deepEqual(await b.claimUpload(upload, lease('b')), { claimed: false, reason: 'busy' });
        clock.now += 2_000; // a was killed: its lease ran out
        assert.deepEqual(await b.claimUpload(upload, lease('b')), { claimed: true, attempt: 2 });
        clock.now += 11_000;
        const gaveUp = await a.claimUpload(upload, lease('a'));
        assert.equal(gaveUp.claimed === false && gaveUp.reason, 'gave-up');
        const row = await a.getUpload('inbox', upload.key);
        assert.equal(row?.status, 'failed');
        assert.match(row?.error ?? '', /gave up after 2 attempt\(s\): .*lease expired/);
      });

      test('a clean release costs no attempt, a counted one does; only the holder releases', async () => {
        await a.claimUpload(upload, lease('a'));
        await b.releaseUpload(upload, { owner: 'b', countAttempt: false, now: new Date(clock.now) });
        assert.equal((await a.getUpload('inbox', upload.key))?.status, 'claimed', "another watcher's release changes nothing");
        await a.releaseUpload(upload, { owner: 'a', countAttempt: false, now: new Date(clock.now) });
        assert.deepEqual(await b.claimUpload(upload, lease('b')), { claimed: true, attempt: 1 });
        await b.releaseUpload(upload, { owner: 'b', countAttempt: true, error: 'publishing failed', jobId: 'j7', now: new Date(clock.now) });
        assert.deepEqual(await a.claimUpload(upload, lease('a')), { claimed: true, attempt: 2 });
        const row = await a.getUpload('inbox', upload.key);
        assert.equal(row?.error, 'publishing failed');
        assert.equal(row?.jobId, 'j7');
      });

      test('of many claims racing for one upload, exactly one wins', async () => {
        const claims = await Promise.all(Array.from({ length: 8 }, (_, index) => (index % 2 ? a : b).claimUpload(upload, lease(`w${index}`))));
        assert.equal(claims.filter((claim) => claim.claimed).length, 1, JSON.stringify(claims));
      });
    });
  });
}
