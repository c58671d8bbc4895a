import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { isVidpipeError } from '../../src/errors.js';
import { openConnection, openDatabase } from '../../src/db/database.js';
import { MIGRATIONS, migrate, schemaVersion } from '../../src/db/migrations.js';
import type { RenditionRecord } from '../../src/db/records.js';
import type { VidpipeDb } from '../../src/db/vidpipe-db.js';
import { sampleCompletion, sampleStart, steppingClock, tempDbFile } from '../helpers/db-fixtures.js';
import type { WriterTask } from '../helpers/db-writer-worker.js';

function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(isVidpipeError(error), `expected a VidpipeError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

function count(db: VidpipeDb, table: string): number {
  return db.sqlite.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
}

let file: string;
let cleanup: () => void;
beforeEach(() => ({ file, cleanup } = tempDbFile()));
afterEach(() => cleanup());

/** A migrated database, reopened as a bare connection (no pragmas, no migration on open). */
function withMigratedRaw(body: (raw: Database.Database) => void): void {
  openConnection(file).close();
  const raw = new Database(file);
  try {
    body(raw);
  } finally {
    raw.close();
  }
}

describe('openDatabase and migrations', () => {
  test('creates the folder, sets the pragmas and migrates to the latest version', () => {
    const db = openConnection(file);
    try {
      assert.ok(existsSync(file));
      assert.equal(schemaVersion(db), MIGRATIONS.length);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
      assert.equal(db.pragma('busy_timeout', { simple: true }), 5000);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      assert.deepEqual(tables, ['jobs', 'ladder_rungs', 'ladders', 'outputs', 'renditions', 'tasks', 'videos', 'watch_objects']);
    } finally {
      db.close();
    }
  });

  test('reopening does not re-run migrations and keeps the data', () => {
    const first = openDatabase(file);
    first.startJob(sampleStart('j1'));
    first.close();
    // Step 1 uses plain CREATE TABLE: running it again would throw "table already exists".
    const again = openDatabase(file);
    try {
      assert.equal(schemaVersion(again.sqlite), MIGRATIONS.length);
      assert.equal(count(again, 'jobs'), 1);
    } finally {
      again.close();
    }
  });

  test('applies only the pending steps of a longer migration list', () => {
    withMigratedRaw((raw) => {
      const extra = [...MIGRATIONS, { description: 'extra', sql: 'CREATE TABLE extra (id INTEGER PRIMARY KEY) STRICT;' }];
      assert.equal(migrate(raw, extra), MIGRATIONS.length + 1);
      assert.equal(migrate(raw, extra), MIGRATIONS.length + 1);
    });
  });

  test('a failing step rolls back entirely and leaves the version as it was', () => {
    withMigratedRaw((raw) => {
      const broken = [
        ...MIGRATIONS,
        { description: 'broken', sql: 'CREATE TABLE half (id INTEGER); INSERT INTO no_such_table VALUES (1);' },
      ];
      assert.throws(() => migrate(raw, broken), rejectsWith('DB_FAILED', new RegExp(`migration ${MIGRATIONS.length + 1} \\(broken\\)`)));
      assert.equal(schemaVersion(raw), MIGRATIONS.length);
      const half = raw.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half'").pluck().get();
      assert.equal(half, 0);
    });
  });

  test('refuses a database written by a newer vidpipe', () => {
    withMigratedRaw((raw) => raw.pragma(`user_version = ${MIGRATIONS.length + 1}`));
    assert.throws(() => openConnection(file), rejectsWith('DB_FAILED', /newer than this vidpipe/));
  });
});

describe('job lifecycle', () => {
  let db: VidpipeDb;
  beforeEach(() => (db = openDatabase(file, { now: steppingClock(), worker: 'host:1' })));
  afterEach(() => db.close());

  test('startJob records the video, the running job and pending tasks', () => {
    db.startJob(sampleStart('j1'));
    const { job, tasks } = db.getJob('j1');
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
    const { video } = db.getVideo('v0123456789ab');
    assert.equal(video.status, 'processing');
    assert.deepEqual(video.tags, { title: 'Sample clip' });
    assert.deepEqual(video.probe, { format: 'mov,mp4', streams: [{ codec: 'h264' }] });
    assert.equal(video.sizeBytes, 1_234_567);
  });

  test('updateTask patches only the given fields and stamps times from the status', () => {
    db.startJob(sampleStart('j1'));
    db.updateTask('j1', 'encode-720p', { status: 'running', attempts: 1, worker: 'w2' });
    db.updateTask('j1', 'encode-720p', { progress: 1.0004 });
    assert.equal(db.getJob('j1').tasks[1].progress, 1, 'overshoot is clamped');
    db.updateTask('j1', 'encode-720p', { progress: 0.5 });
    let task = db.getJob('j1').tasks[1];
    assert.equal(task.status, 'running');
    assert.equal(task.progress, 0.5);
    assert.equal(task.attempts, 1);
    assert.equal(task.worker, 'w2');
    assert.ok(task.startedAt);
    assert.equal(task.finishedAt, null);

    db.updateTask('j1', 'encode-720p', { status: 'failed', error: 'ffmpeg exited with 1' });
    db.updateTask('j1', 'encode-720p', { status: 'running', attempts: 2, error: null });
    db.updateTask('j1', 'encode-720p', { status: 'succeeded', output: { frames: 300 }, finishedAt: new Date('2030-01-01T00:00:00Z') });
    task = db.getJob('j1').tasks[1];
    assert.equal(task.status, 'succeeded');
    assert.equal(task.attempts, 2);
    assert.equal(task.error, null);
    assert.equal(task.progress, 1);
    assert.deepEqual(task.output, { frames: 300 });
    assert.equal(task.finishedAt, '2030-01-01T00:00:00.000Z');
  });

  test('addTasks appends pending tasks to a started job', () => {
    db.startJob({ ...sampleStart('j1'), tasks: [] });
    db.addTasks('j1', [{ id: 'encode-chunk-0', kind: 'encode', label: 'Encode chunk 0', dependsOn: [] }]);
    assert.deepEqual(
      db.getJob('j1').tasks.map((task) => [task.id, task.status]),
      [['encode-chunk-0', 'pending']],
    );
    assert.throws(() => db.addTasks('nope', []), rejectsWith('NOT_FOUND'));
  });

  test('updateTask of an unknown task is NOT_FOUND', () => {
    db.startJob(sampleStart('j1'));
    assert.throws(() => db.updateTask('j1', 'nope', { progress: 0.1 }), rejectsWith('NOT_FOUND', /no task nope/));
  });

  test('completeJob publishes the job, the video, its renditions and files', () => {
    db.startJob(sampleStart('j1'));
    for (const id of ['probe', 'encode-720p', 'manifests']) db.updateTask('j1', id, { status: 'succeeded' });
    db.completeJob('j1', sampleCompletion());

    const { job, renditions, files } = db.getJob('j1');
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

    const details = db.getVideo('v0123456789ab');
    assert.equal(details.video.status, 'ready');
    assert.equal(details.video.durationSeconds, 10.01);
    assert.deepEqual(details.video.tags, { title: 'Sample clip' }, 'tags kept when not given');
    assert.deepEqual(details.video.properties, { loudnessLufs: -14.2 });
    assert.equal(details.readyJob?.id, 'j1');
    assert.equal(details.renditions.length, 2);
  });

  test('completeJob is all or nothing', () => {
    db.startJob(sampleStart('j1'));
    const completion = sampleCompletion();
    // The second rendition violates NOT NULL after the job, the video and the first rendition were written.
    completion.renditions[1] = { ...completion.renditions[1], codecs: null } as unknown as RenditionRecord;
    assert.throws(() => db.completeJob('j1', completion), rejectsWith('DB_FAILED', /NOT NULL/));

    const { job, renditions, files } = db.getJob('j1');
    assert.equal(job.status, 'running');
    assert.deepEqual(job.outputs, {});
    assert.equal(job.finishedAt, null);
    assert.equal(renditions.length, 0);
    assert.equal(files.length, 0);
    const { video } = db.getVideo('v0123456789ab');
    assert.equal(video.status, 'processing');
    assert.deepEqual(video.properties, {});
  });

  test('completeJob of a job of another video is refused', () => {
    db.startJob(sampleStart('j1'));
    assert.throws(() => db.completeJob('j1', sampleCompletion('v-other')), rejectsWith('INTERNAL', /belongs to video/));
    assert.throws(() => db.completeJob('nope', sampleCompletion()), rejectsWith('NOT_FOUND'));
  });
});

describe('failJob', () => {
  let db: VidpipeDb;
  beforeEach(() => (db = openDatabase(file, { now: steppingClock() })));
  afterEach(() => db.close());

  test('fails the job, cancels unfinished tasks and the video of a first job', () => {
    db.startJob(sampleStart('j1'));
    db.updateTask('j1', 'probe', { status: 'succeeded' });
    db.updateTask('j1', 'encode-720p', { status: 'running' });
    db.failJob('j1', { status: 'failed', code: 'FFMPEG_FAILED', message: 'ffmpeg exited with 1' });

    const { job, tasks } = db.getJob('j1');
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
    assert.equal(db.getVideo('v0123456789ab').video.status, 'failed');
  });

  test('an interrupted re-run leaves a published video ready with its renditions', () => {
    db.startJob(sampleStart('j1'));
    db.completeJob('j1', sampleCompletion());
    db.startJob(sampleStart('j2'));
    assert.equal(db.getVideo('v0123456789ab').video.status, 'processing');
    db.failJob('j2', { status: 'interrupted', code: 'INTERRUPTED', message: 'interrupted' });

    const details = db.getVideo('v0123456789ab');
    assert.equal(details.video.status, 'ready');
    assert.equal(details.latestJob?.id, 'j2');
    assert.equal(details.latestJob?.status, 'interrupted');
    assert.equal(details.latestJob?.attempt, 2);
    assert.equal(details.readyJob?.id, 'j1');
    assert.equal(details.renditions.length, 2);
    assert.ok(details.tasks.every((task) => task.jobId === 'j2' && task.status === 'cancelled'));
  });

  test('a job that already finished is left alone; an unknown job is NOT_FOUND', () => {
    db.startJob(sampleStart('j1'));
    db.completeJob('j1', sampleCompletion());
    db.failJob('j1', { status: 'interrupted', code: 'INTERRUPTED', message: 'late Ctrl-C' });
    assert.equal(db.getJob('j1').job.status, 'succeeded');
    assert.equal(db.getVideo('v0123456789ab').video.status, 'ready');
    assert.throws(() => db.failJob('nope', { status: 'failed', code: 'X', message: 'x' }), rejectsWith('NOT_FOUND'));
  });
});

describe('reads', () => {
  let db: VidpipeDb;
  beforeEach(() => {
    db = openDatabase(file, { now: steppingClock() });
    for (const id of ['vabc111', 'vabc222', 'vdef', 'vdef0', 'v%x']) db.startJob(sampleStart(`job-${id}`, id, `${id}.mp4`));
  });
  afterEach(() => db.close());

  test('getVideo accepts an exact id or a unique prefix', () => {
    assert.equal(db.getVideo('vabc1').video.id, 'vabc111');
    assert.equal(db.getVideo('vdef').video.id, 'vdef', 'an exact id wins over a longer id it prefixes');
    assert.equal(db.getVideo('vdef0').video.id, 'vdef0');
  });

  test('getVideo reports unknown and ambiguous ids as NOT_FOUND', () => {
    assert.throws(() => db.getVideo('vzzz'), rejectsWith('NOT_FOUND', /no video with id or id prefix "vzzz"/));
    assert.throws(() => db.getVideo('VABC1'), rejectsWith('NOT_FOUND'), 'ids are case-sensitive');
    assert.equal(db.getVideo('v%').video.id, 'v%x', '% is not a wildcard');
    assert.throws(() => db.getVideo('vabc'), rejectsWith('NOT_FOUND', /ambiguous: it matches vabc111, vabc222/));
    assert.throws(() => db.getVideo(''), rejectsWith('USAGE'));
  });

  test('getJob of an unknown id is NOT_FOUND', () => {
    assert.throws(() => db.getJob('nope'), rejectsWith('NOT_FOUND', /no job with id nope/));
  });

  test('listVideos: newest first, filtered by status, limited, with latest job and rendition count', () => {
    db.completeJob('job-vabc111', sampleCompletion('vabc111'));
    db.failJob('job-vdef', { status: 'failed', code: 'FFMPEG_FAILED', message: 'boom' });

    const all = db.listVideos();
    assert.deepEqual(
      all.map((v) => v.id),
      ['vdef', 'vabc111', 'v%x', 'vdef0', 'vabc222'],
    );
    const ready = db.listVideos({ status: 'ready' });
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
    assert.equal(db.listVideos({ limit: 2 }).length, 2);
    assert.equal(all[0].latestJobStatus, 'failed');
    assert.equal(all[0].renditionCount, 0);
  });
});

describe('concurrent writers', () => {
  function runWriter(task: WriterTask): Promise<{ ok: boolean; code?: string; message?: string }> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(new URL('../helpers/db-writer-worker.js', import.meta.url), { workerData: task });
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  }

  test('two connections writing the same file at once never fail with SQLITE_BUSY', async () => {
    openConnection(file).close(); // migrate once up front; racing migrations are covered by immediate()
    const jobs = 60;
    const results = await Promise.all([
      runWriter({ file, writer: 'a', jobs }),
      runWriter({ file, writer: 'b', jobs }),
      runWriter({ file, writer: 'c', jobs }),
    ]);
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);

    const db = openDatabase(file);
    try {
      assert.equal(count(db, 'jobs'), 3 * jobs);
      assert.equal(count(db, 'renditions'), 3 * jobs * 2);
      assert.ok(db.listVideos().every((video) => video.status === 'ready'));
    } finally {
      db.close();
    }
  });

  test('connections opening a brand-new file at the same time migrate it once', async () => {
    const results = await Promise.all(['a', 'b', 'c'].map((writer) => runWriter({ file, writer, jobs: 3 })));
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);
  });
});
