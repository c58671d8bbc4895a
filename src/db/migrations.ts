import { LADDER_MIGRATION_SQL } from './ladder-records.js';
import type Database from 'better-sqlite3';
import { VidpipeError } from '../errors.js';
import { dbFailed } from './db-error.js';

/**
 * Schema migrations, embedded as SQL text so a bundled or globally installed vidpipe needs
 * no files next to it. Step N (1-based) brings the database to `PRAGMA user_version = N`.
 * Never edit a released step: append a new one.
 *
 * Conventions: STRICT tables (SQLite rejects a value of the wrong type instead of storing
 * it), JSON in TEXT columns guarded by json_valid(), timestamps as ISO-8601 UTC text
 * (they sort chronologically as text).
 */
export interface Migration {
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'videos, jobs, tasks, renditions, outputs',
    sql: `
CREATE TABLE videos (
  id               TEXT PRIMARY KEY,
  source           TEXT NOT NULL,
  name             TEXT NOT NULL,
  sha256           TEXT,
  size_bytes       INTEGER,
  duration_seconds REAL,
  kind             TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
  probe            TEXT CHECK (probe IS NULL OR json_valid(probe)),
  tags             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(tags)),
  properties       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(properties)),
  status           TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'failed', 'interrupted')),
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX videos_sha256 ON videos (sha256);
CREATE INDEX videos_updated_at ON videos (updated_at);

CREATE TABLE jobs (
  id            TEXT PRIMARY KEY,
  video_id      TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
  input         TEXT NOT NULL,
  output        TEXT NOT NULL,
  options       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(options)),
  status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  error_code    TEXT,
  error_message TEXT,
  attempt       INTEGER NOT NULL DEFAULT 1,
  outputs       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(outputs)),
  timings       TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(timings)),
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  worker        TEXT
) STRICT;
CREATE INDEX jobs_video_started ON jobs (video_id, started_at);

CREATE TABLE tasks (
  job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  id          TEXT NOT NULL,
  kind        TEXT NOT NULL,
  label       TEXT NOT NULL,
  depends_on  TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(depends_on)),
  status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  progress    REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
  started_at  TEXT,
  finished_at TEXT,
  error       TEXT,
  output      TEXT CHECK (output IS NULL OR json_valid(output)),
  worker      TEXT,
  PRIMARY KEY (job_id, id)
) STRICT;

CREATE TABLE renditions (
  id             INTEGER PRIMARY KEY,
  job_id         TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  video_id       TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
  name           TEXT NOT NULL,
  kind           TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
  codec          TEXT NOT NULL,
  codecs         TEXT NOT NULL,
  width          INTEGER,
  height         INTEGER,
  frame_rate     REAL,
  channels       INTEGER,
  sample_rate    INTEGER,
  language       TEXT,
  average_bitrate INTEGER,
  peak_bitrate   INTEGER,
  target_bitrate INTEGER,
  size_bytes     INTEGER,
  segment_count  INTEGER,
  playlist       TEXT,
  init           TEXT,
  properties     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(properties))
) STRICT;
CREATE INDEX renditions_job ON renditions (job_id);
CREATE INDEX renditions_video ON renditions (video_id);

CREATE TABLE outputs (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  bytes  INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (job_id, key)
) STRICT;
`,
  },
  {
    description: 'jobs.resume_key: find the unfinished job a re-run can resume',
    // Nullable: jobs that failed before planning have no key, and step-1 jobs predate it.
    sql: `
ALTER TABLE jobs ADD COLUMN resume_key TEXT;
CREATE INDEX jobs_resume_key ON jobs (resume_key, started_at);
`,
  },
  {
    description: 'watch_objects: uploads seen by `vidpipe watch`, claimed with a lease',
    // One row per object key; a new ETag under the same key resets it (a re-upload is new work).
    sql: `
CREATE TABLE watch_objects (
  bucket           TEXT NOT NULL,
  key              TEXT NOT NULL,
  etag             TEXT NOT NULL,
  size_bytes       INTEGER NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'claimed', 'done', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_expires_at TEXT,
  job_id           TEXT,
  video_id         TEXT,
  outputs          TEXT CHECK (outputs IS NULL OR json_valid(outputs)),
  error            TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
) STRICT;
CREATE INDEX watch_objects_status ON watch_objects (status, lease_expires_at);
`,
  },
  {
    description: 'ladders, ladder_rungs: how each job chose its video ladder, predicted and measured per rung',
    // New tables only: older jobs simply have no ladder rows, and older vidpipe versions ignore them.
    sql: LADDER_MIGRATION_SQL,
  },
];

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to the last step of `steps`, one IMMEDIATE transaction per step,
 * so a crash or a failing step leaves the database at the previous version, and a second
 * vidpipe process migrating the same file at the same moment waits instead of applying a
 * step twice. Returns the resulting version.
 */
export function migrate(db: Database.Database, steps: readonly Migration[] = MIGRATIONS): number {
  assertKnownVersion(schemaVersion(db), steps.length);
  const applyStep = db.transaction((index: number) => {
    // Re-read under the write lock: another process may have applied this step meanwhile.
    if (schemaVersion(db) > index) return;
    db.exec(steps[index].sql);
    // PRAGMA takes no bound parameters; the value is our own loop index, never input.
    db.pragma(`user_version = ${index + 1}`);
  });
  for (let index = schemaVersion(db); index < steps.length; index++) {
    try {
      applyStep.immediate(index);
    } catch (error) {
      throw dbFailed(`apply migration ${index + 1} (${steps[index].description})`, error);
    }
  }
  return schemaVersion(db);
}

/** A database written by a newer vidpipe must not be used by an older one: it would misread it. */
function assertKnownVersion(version: number, latest: number): void {
  if (version <= latest) return;
  throw new VidpipeError(
    'DB_FAILED',
    `the database has schema version ${version}, newer than this vidpipe supports (${latest})`,
    { hint: 'upgrade vidpipe, or point --db / VIDPIPE_DB at another database file' },
  );
}
