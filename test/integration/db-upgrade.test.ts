/**
 * Existing users' SQLite databases keep every row: a database is built at each earlier schema
 * version with the SQL that version's release shipped (each step's SQL is checked byte for byte
 * against its release: a released step is never edited), filled with rows in every table that
 * version had, then opened by this vidpipe, which migrates it. Every row of every old table is
 * still there, column for column, and the store reads the records back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openMetadata } from '../../src/db/engines.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { migrate, schemaVersion } from '../../src/db/sqlite/migrate.js';
import { tempDbFile } from '../helpers/db-fixtures.js';

/** The sha256 of each step's SQLite SQL in the release that introduced it (git: the commit). */
const RELEASED_STEPS = [
  { step: 1, commit: 'a7ea903', sha256: '276157368f21a108909fe4c0c242e12db278d90cd53c2fec082e4045b055475c' },
  { step: 2, commit: '5721a8e', sha256: 'fc6b71093045426d40b3fc6caa8f65b6c4f2df171b79f5d07250226d8d321dbf' },
  { step: 3, commit: '5721a8e', sha256: '9ef8182c1b40fca130a78b245a6b0c477a85b36e7f0c0b8ba9f38b7575af450c' },
  { step: 4, commit: 'f9cd747', sha256: 'c373806615baca5f0f3716b8c895e32f7db277103709e101c420a4a331460ed3' },
];

let file: string;
let cleanup: () => void;
beforeEach(() => ({ file, cleanup } = tempDbFile()));
afterEach(() => cleanup());

const T0 = '2024-03-01T10:00:00.000Z';
const T1 = '2024-03-01T10:05:00.000Z';

/** Rows in every table a database of schema `version` has, as vidpipe of that version wrote them. */
function seed(db: Database.Database, version: number): void {
  const run = (sql: string, ...values: unknown[]) => db.prepare(sql).run(...values);
  run(`INSERT INTO videos (id, source, name, sha256, size_bytes, duration_seconds, kind, probe, tags, properties, status, created_at, updated_at)
       VALUES ('vold0000001', '/media/talk.mp4', 'talk', 'ab12', 1234567, 10.5, 'video', '{"format":"mov,mp4"}', '{"title":"Talk"}', '{"loudnessLufs":-14.2}', 'ready', ?, ?)`, T0, T1);
  run(`INSERT INTO videos (id, source, name, kind, status, created_at, updated_at) VALUES ('vbad0000001', '/media/bad.mov', 'bad', 'video', 'failed', ?, ?)`, T0, T1);
  run(`INSERT INTO jobs (id, video_id, input, output, options, status, attempt, outputs, timings, started_at, finished_at, worker)
       VALUES ('jold1', 'vold0000001', '/media/talk.mp4', '/out/talk', '{"ladder":"default"}', 'succeeded', 1, '{"root":"/out/talk/jold1","hls":"/out/talk/master.m3u8","dash":"/out/talk/manifest.mpd"}', '{"probe":0.4,"total":12.5}', ?, ?, 'host:41')`, T0, T1);
  run(`INSERT INTO jobs (id, video_id, input, output, status, error_code, error_message, attempt, started_at, finished_at)
       VALUES ('jbad1', 'vbad0000001', '/media/bad.mov', '/out/bad', 'failed', 'INPUT_INVALID', 'not a media file', 1, ?, ?)`, T0, T1);
  run(`INSERT INTO tasks (job_id, id, kind, label, depends_on, status, attempts, progress, started_at, finished_at, output, worker)
       VALUES ('jold1', 'probe', 'probe', 'Probe input', '[]', 'succeeded', 1, 1, ?, ?, '{"format":1}', 'host:41')`, T0, T1);
  run(`INSERT INTO tasks (job_id, id, kind, label, depends_on, status, attempts, progress, started_at, finished_at)
       VALUES ('jold1', 'encode-video-0', 'encode-video', 'Encode chunk 1', '["probe"]', 'succeeded', 2, 1, ?, ?)`, T0, T1);
  run(`INSERT INTO tasks (job_id, id, kind, label, status, error) VALUES ('jbad1', 'probe', 'probe', 'Probe input', 'failed', 'ffprobe: invalid data')`);
  run(`INSERT INTO renditions (job_id, video_id, name, kind, codec, codecs, width, height, frame_rate, average_bitrate, peak_bitrate, target_bitrate, size_bytes, segment_count, playlist, init, properties)
       VALUES ('jold1', 'vold0000001', 'h264-720p', 'video', 'h264', 'avc1.64001f', 1280, 720, 30, 2400000, 3100000, 2500000, 3000000, 3, 'video/h264-720p/index.m3u8', 'video/h264-720p/init.mp4', '{"quality":{"psnr":41.2}}')`);
  run(`INSERT INTO renditions (job_id, video_id, name, kind, codec, codecs, channels, sample_rate, language, average_bitrate, segment_count, playlist)
       VALUES ('jold1', 'vold0000001', 'aac-128k', 'audio', 'aac', 'mp4a.40.2', 2, 48000, 'en', 128000, 3, 'audio/aac-128k/index.m3u8')`);
  run(`INSERT INTO outputs (job_id, key, bytes, sha256) VALUES ('jold1', 'master.m3u8', 512, 'c0ffee'), ('jold1', 'manifest.mpd', 2048, 'beef')`);
  if (version >= 2) run(`UPDATE jobs SET resume_key = 'rk-talk' WHERE id = 'jold1'`);
  if (version >= 3) {
    run(`INSERT INTO watch_objects (bucket, key, etag, size_bytes, status, attempts, job_id, video_id, outputs, created_at, updated_at)
         VALUES ('inbox', 'up/talk.mp4', '"e1"', 1234567, 'done', 1, 'jold1', 'vold0000001', '{"hls":"s3://vod/talk/master.m3u8"}', ?, ?)`, T0, T1);
    run(`INSERT INTO watch_objects (bucket, key, etag, size_bytes, status, attempts, lease_owner, lease_expires_at, created_at, updated_at)
         VALUES ('inbox', 'up/next.mp4', '"e2"', 99, 'claimed', 1, 'host:7', ?, ?, ?)`, T1, T0, T1);
  }
  if (version >= 4) {
    run(`INSERT INTO ladders (job_id, method, metric, target, analysis_seconds, sampled_fraction, probes) VALUES ('jold1', 'auto', 'psnr', 40, 3.5, 0.2, '[{"crf":23}]')`);
    run(`INSERT INTO ladder_rungs (job_id, name, codec, size, status, mode, crf, target_kbps, predicted_kbps, predicted_psnr, measured_average_kbps, measured_psnr)
         VALUES ('jold1', 'h264-720p', 'h264', 720, 'packaged', 'crf', 24, 2500, 2300, 40.5, 2400, 41.2)`);
  }
}

/** Every row of every table, ordered by its key, with every column. */
function dump(db: Database.Database, tables: string[]): Record<string, Record<string, unknown>[]> {
  return Object.fromEntries(tables.map((table) => [table, db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all() as Record<string, unknown>[]]));
}

describe('SQLite databases of every earlier schema version', () => {
  test('each released step\'s SQL is what its release shipped', () => {
    for (const { step, commit, sha256 } of RELEASED_STEPS) {
      assert.equal(createHash('sha256').update(MIGRATIONS[step - 1]!.sql.sqlite).digest('hex'), sha256, `step ${step} (released in ${commit}) was edited: append a new step instead`);
    }
  });

  for (let version = 1; version < MIGRATIONS.length; version++) {
    test(`a database at schema version ${version} is migrated to ${MIGRATIONS.length} and keeps every row`, async () => {
      mkdirSync(dirname(file), { recursive: true });
      const old = new Database(file);
      let before: Record<string, Record<string, unknown>[]>;
      try {
        assert.equal(migrate(old, MIGRATIONS.slice(0, version)), version);
        seed(old, version);
        const tables = (old.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[]);
        before = dump(old, tables);
        for (const [table, rows] of Object.entries(before)) assert.ok(rows.length > 0, `version ${version}: ${table} has rows`);
      } finally {
        old.close();
      }

      const store = await openMetadata(file);
      try {
        const { video, latestJob, readyJob, tasks, renditions } = await store.getVideo('vold');
        assert.deepEqual([video.id, video.status, video.tags, latestJob?.id, readyJob?.id], ['vold0000001', 'ready', { title: 'Talk' }, 'jold1', 'jold1']);
        assert.deepEqual(readyJob?.outputs, { root: '/out/talk/jold1', hls: '/out/talk/master.m3u8', dash: '/out/talk/manifest.mpd' });
        assert.deepEqual(tasks.map((t) => [t.id, t.status, t.attempts]), [['probe', 'succeeded', 1], ['encode-video-0', 'succeeded', 2]]);
        assert.deepEqual(renditions.map((r) => [r.name, r.averageBitrate]), [['h264-720p', 2400000], ['aac-128k', 128000]]);
        const failed = await store.getVideo('vbad');
        assert.deepEqual([failed.latestJob?.errorCode, failed.latestJob?.errorMessage], ['INPUT_INVALID', 'not a media file']);
        assert.deepEqual((await store.listVideos()).map((v) => v.id).sort(), ['vbad0000001', 'vold0000001']);
        if (version >= 3) assert.equal((await store.getUpload('inbox', 'up/talk.mp4'))?.status, 'done');
        if (version >= 2) assert.deepEqual((await store.jobsByResumeKey('rk-talk'))?.jobs.map((j) => j.id), ['jold1']);
      } finally {
        await store.close();
      }

      const migrated = new Database(file, { readonly: true });
      try {
        assert.equal(schemaVersion(migrated), MIGRATIONS.length);
        const after = dump(migrated, Object.keys(before!));
        for (const [table, rows] of Object.entries(before!)) {
          // Columns a later step added are new; every column the row had keeps its value.
          const kept = after[table]!.map((row) => Object.fromEntries(Object.keys(rows[0]!).map((column) => [column, row[column]])));
          assert.deepEqual(kept, rows, `version ${version}: ${table}`);
        }
      } finally {
        migrated.close();
      }
    });
  }
});
