import { VidpipeError } from '../errors.js';

/**
 * The one migration history of the metadata schema, for every engine: step N (1-based) brings a
 * database to schema version N. Each engine keeps the version where its database can (SQLite:
 * `PRAGMA user_version`) and applies the missing steps in order, each in one transaction, with
 * its own dialect's SQL from `sql[<engine>]` (./sqlite/migrate.ts for SQLite). Embedded as text
 * so a bundled or globally installed vidpipe needs no files next to it. Never edit a released
 * step: append a new one, with the SQL of every engine (a new engine adds its key to
 * MigrationDialect, and the compiler then asks for its SQL in every step).
 *
 * SQLite conventions: STRICT tables (SQLite rejects a value of the wrong type instead of storing
 * it), JSON in TEXT columns guarded by json_valid(), timestamps as ISO-8601 UTC text (they sort
 * chronologically as text). PostgreSQL (./postgres/migrate.ts keeps its version in the one row of
 * `vidpipe_schema`): the same tables and columns, JSONB for the JSON ones, TIMESTAMPTZ, BIGINT
 * for sizes and bit rates, and a `seq` identity where SQLite's rowid orders rows inserted in one
 * millisecond.
 */
export type MigrationDialect = 'sqlite' | 'postgres';

export interface Migration {
  description: string;
  /** The step's statements in each engine's dialect. */
  sql: Record<MigrationDialect, string>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'videos, jobs, tasks, renditions, outputs',
    sql: {
      sqlite: `
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
      postgres: `
CREATE TABLE videos (
  id               TEXT PRIMARY KEY,
  source           TEXT NOT NULL,
  name             TEXT NOT NULL,
  sha256           TEXT,
  size_bytes       BIGINT,
  duration_seconds DOUBLE PRECISION,
  kind             TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
  probe            JSONB,
  tags             JSONB NOT NULL DEFAULT '{}',
  properties       JSONB NOT NULL DEFAULT '{}',
  status           TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'failed', 'interrupted')),
  created_at       TIMESTAMPTZ NOT NULL,
  updated_at       TIMESTAMPTZ NOT NULL,
  seq              BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX videos_sha256 ON videos (sha256);
CREATE INDEX videos_updated_at ON videos (updated_at);

CREATE TABLE jobs (
  id            TEXT PRIMARY KEY,
  video_id      TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
  input         TEXT NOT NULL,
  output        TEXT NOT NULL,
  options       JSONB NOT NULL DEFAULT '{}',
  status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  error_code    TEXT,
  error_message TEXT,
  attempt       INTEGER NOT NULL DEFAULT 1,
  outputs       JSONB NOT NULL DEFAULT '{}',
  timings       JSONB NOT NULL DEFAULT '{}',
  started_at    TIMESTAMPTZ NOT NULL,
  finished_at   TIMESTAMPTZ,
  worker        TEXT,
  seq           BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX jobs_video_started ON jobs (video_id, started_at);

CREATE TABLE tasks (
  job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  id          TEXT NOT NULL,
  kind        TEXT NOT NULL,
  label       TEXT NOT NULL,
  depends_on  JSONB NOT NULL DEFAULT '[]',
  status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
  attempts    INTEGER NOT NULL DEFAULT 0,
  progress    DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
  started_at  TIMESTAMPTZ,
  finished_at TIMESTAMPTZ,
  error       TEXT,
  output      JSONB,
  worker      TEXT,
  seq         BIGINT GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (job_id, id)
);

CREATE TABLE renditions (
  id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id          TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  video_id        TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
  name            TEXT NOT NULL,
  kind            TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
  codec           TEXT NOT NULL,
  codecs          TEXT NOT NULL,
  width           INTEGER,
  height          INTEGER,
  frame_rate      DOUBLE PRECISION,
  channels        INTEGER,
  sample_rate     INTEGER,
  language        TEXT,
  average_bitrate BIGINT,
  peak_bitrate    BIGINT,
  target_bitrate  BIGINT,
  size_bytes      BIGINT,
  segment_count   INTEGER,
  playlist        TEXT,
  init            TEXT,
  properties      JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX renditions_job ON renditions (job_id);
CREATE INDEX renditions_video ON renditions (video_id);

CREATE TABLE outputs (
  job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  key    TEXT NOT NULL,
  bytes  BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (job_id, key)
);
`,
    },
  },
  {
    description: 'jobs.resume_key: find the unfinished job a re-run can resume',
    // Nullable: jobs that failed before planning have no key, and step-1 jobs predate it.
    sql: {
      sqlite: `
ALTER TABLE jobs ADD COLUMN resume_key TEXT;
CREATE INDEX jobs_resume_key ON jobs (resume_key, started_at);
`,
      postgres: `
ALTER TABLE jobs ADD COLUMN resume_key TEXT;
CREATE INDEX jobs_resume_key ON jobs (resume_key, started_at);
`,
    },
  },
  {
    description: 'watch_objects: uploads seen by `vidpipe watch`, claimed with a lease',
    // One row per object key; a new ETag under the same key resets it (a re-upload is new work).
    sql: {
      sqlite: `
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
      postgres: `
CREATE TABLE watch_objects (
  bucket           TEXT NOT NULL,
  key              TEXT NOT NULL,
  etag             TEXT NOT NULL,
  size_bytes       BIGINT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'claimed', 'done', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_expires_at TIMESTAMPTZ,
  job_id           TEXT,
  video_id         TEXT,
  outputs          JSONB,
  error            TEXT,
  created_at       TIMESTAMPTZ NOT NULL,
  updated_at       TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (bucket, key)
);
CREATE INDEX watch_objects_status ON watch_objects (status, lease_expires_at);
`,
    },
  },
  {
    description: 'ladders, ladder_rungs: how each job chose its video ladder, predicted and measured per rung',
    // New tables only: older jobs simply have no ladder rows, and older vidpipe versions ignore them.
    sql: {
      sqlite: `
CREATE TABLE ladders (
  job_id           TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  method           TEXT NOT NULL CHECK (method IN ('fixed', 'auto')),
  metric           TEXT CHECK (metric IS NULL OR metric IN ('psnr', 'vmaf')),
  target           REAL,
  analysis_seconds REAL,
  sampled_fraction REAL,
  probes           TEXT CHECK (probes IS NULL OR json_valid(probes))
) STRICT;

CREATE TABLE ladder_rungs (
  job_id                TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  name                  TEXT NOT NULL,
  codec                 TEXT NOT NULL,
  size                  INTEGER NOT NULL,
  status                TEXT NOT NULL CHECK (status IN ('packaged', 'dropped')),
  mode                  TEXT NOT NULL CHECK (mode IN ('vbr', 'crf', 'cap')),
  crf                   REAL,
  target_kbps           REAL NOT NULL,
  predicted_kbps        REAL,
  predicted_psnr        REAL,
  predicted_ssim        REAL,
  predicted_vmaf        REAL,
  measured_peak_kbps    REAL,
  measured_average_kbps REAL,
  measured_psnr         REAL,
  measured_ssim         REAL,
  measured_vmaf         REAL,
  reason                TEXT,
  PRIMARY KEY (job_id, name)
) STRICT;
`,
      postgres: `
CREATE TABLE ladders (
  job_id           TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  method           TEXT NOT NULL CHECK (method IN ('fixed', 'auto')),
  metric           TEXT CHECK (metric IS NULL OR metric IN ('psnr', 'vmaf')),
  target           DOUBLE PRECISION,
  analysis_seconds DOUBLE PRECISION,
  sampled_fraction DOUBLE PRECISION,
  probes           JSONB
);

CREATE TABLE ladder_rungs (
  job_id                TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  name                  TEXT NOT NULL,
  codec                 TEXT NOT NULL,
  size                  INTEGER NOT NULL,
  status                TEXT NOT NULL CHECK (status IN ('packaged', 'dropped')),
  mode                  TEXT NOT NULL CHECK (mode IN ('vbr', 'crf', 'cap')),
  crf                   DOUBLE PRECISION,
  target_kbps           DOUBLE PRECISION NOT NULL,
  predicted_kbps        DOUBLE PRECISION,
  predicted_psnr        DOUBLE PRECISION,
  predicted_ssim        DOUBLE PRECISION,
  predicted_vmaf        DOUBLE PRECISION,
  measured_peak_kbps    DOUBLE PRECISION,
  measured_average_kbps DOUBLE PRECISION,
  measured_psnr         DOUBLE PRECISION,
  measured_ssim         DOUBLE PRECISION,
  measured_vmaf         DOUBLE PRECISION,
  reason                TEXT,
  PRIMARY KEY (job_id, name)
);
`,
    },
  },
  {
    description: 'webhook_messages, webhook_deliveries: the outbox of job events (Standard Webhooks), written with the job\'s records',
    // The body is kept as it is sent (the signature covers its exact bytes: TEXT, not JSONB); one delivery row per URL.
    sql: {
      sqlite: `
CREATE TABLE webhook_messages (
  id         TEXT PRIMARY KEY,
  type       TEXT NOT NULL,
  job_id     TEXT,
  body       TEXT NOT NULL CHECK (json_valid(body)),
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE webhook_deliveries (
  message_id       TEXT NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
  url              TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  TEXT NOT NULL,
  lease_owner      TEXT,
  lease_expires_at TEXT,
  last_attempt_at  TEXT,
  last_status      INTEGER,
  last_error       TEXT,
  delivered_at     TEXT,
  PRIMARY KEY (message_id, url)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
`,
      postgres: `
CREATE TABLE webhook_messages (
  id         TEXT PRIMARY KEY,
  type       TEXT NOT NULL,
  job_id     TEXT,
  body       TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  seq        BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE TABLE webhook_deliveries (
  message_id       TEXT NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
  url              TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  TIMESTAMPTZ NOT NULL,
  lease_owner      TEXT,
  lease_expires_at TIMESTAMPTZ,
  last_attempt_at  TIMESTAMPTZ,
  last_status      INTEGER,
  last_error       TEXT,
  delivered_at     TIMESTAMPTZ,
  PRIMARY KEY (message_id, url)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
`,
    },
  },
];

/** A database written by a newer vidpipe must not be used by an older one: it would misread it. Every engine checks on open. */
export function assertKnownVersion(version: number, latest: number = MIGRATIONS.length): void {
  if (version <= latest) return;
  throw new VidpipeError(
    'DB_FAILED',
    `the database has schema version ${version}, newer than this vidpipe supports (${latest})`,
    { hint: 'upgrade vidpipe, or point --db / VIDPIPE_DB at another database' },
  );
}
