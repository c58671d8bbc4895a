/**
 * `vidpipe list`, `show` and `report` read a PostgreSQL database that another process wrote (a
 * `vidpipe transcode --db postgres://…` run, as on another machine) and print what they print for
 * the same job recorded in SQLite: the same text, JSON and HTML once what differs between two runs
 * (job ids, times, the output folder, the database named) is masked. A real PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { redactedTarget } from '../../src/db/redact.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { sharedPostgres } from '../helpers/postgres-server.js';

interface Engine {
  name: string;
  db: string;
  out: string;
  jobId: string;
  videoId: string;
}

describe('list, show and report: a PostgreSQL database written elsewhere reads as SQLite does', { timeout: 300_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const engines: Engine[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-pg-cli-'));
    const clip = await makeClip(path.join(dir, 'talk.mp4'), { durationSeconds: 2 });
    const targets = [['sqlite', path.join(dir, 'meta.db')], ['postgres', await (await sharedPostgres()).createDatabase()]] as const;
    for (const [name, db] of targets) {
      const out = path.join(dir, `out-${name}`);
      const run = await runCli(['transcode', clip, '--out', out, '--db', db, '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--no-thumbnails', '--json'], { env: { VIDPIPE_WORK_DIR: path.join(dir, `work-${name}`) } });
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      engines.push({ name, db, out, jobId: result.jobId, videoId: result.id });
    }
  });
  after(async () => {
    await cleanup?.();
  });

  /** What differs between two runs of one job, masked; anything else must be equal. */
  const masked = (engine: Engine, text: string) =>
    text
      .replaceAll(engine.db, '<db>')
      .replaceAll(redactedTarget(engine.db), '<db>')
      .replaceAll(engine.out, '<out>')
      .replaceAll(engine.jobId, '<job>')
      .replace(/\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
      .replace(/"(startedAt|finishedAt|createdAt|updatedAt|submittedAt)":\s*"[^"]*"/g, '"$1": "<time>"')
      .replace(new RegExp(`${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`, 'g'), '<worker>');

  /** How long each run's stages took (text: "2.8s", the report's start and end columns) is its own. */
  const seconds = (text: string) => text.replace(/\b\d+(\.\d+)?s\b/g, '<s>').replace(/\b\d+\.\d\d\b/g, '<s>');

  /** The same, for the stage timings of a JSON output. */
  const withoutDurations = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(withoutDurations)
    : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([key, v]) => [key, key === 'timings' ? Object.keys(v as object).sort() : withoutDurations(v)]))
    : value;

  const outputs = async (engine: Engine, args: string[]) => {
    const run = await runCli(args.map((a) => a.replace('<db>', engine.db).replace('<video>', engine.videoId).replace('<dir>', dir)));
    assert.equal(run.code, 0, `${engine.name} ${args.join(' ')}: ${run.stderr}`);
    return masked(engine, run.stdout);
  };

  for (const command of [
    ['list', '--db', '<db>'],
    ['list', '--db', '<db>', '--json'],
    ['show', '<video>', '--db', '<db>'],
    ['show', '<video>', '--db', '<db>', '--json'],
    ['report', '<video>', '--db', '<db>'],
    ['report', '<video>', '--db', '<db>', '--json'],
  ]) {
    it(`vidpipe ${command.join(' ')}`, async () => {
      const [sqlite, postgres] = engines;
      assert.equal(sqlite!.videoId, postgres!.videoId, 'one source, one video id');
      const [fromSqlite, fromPostgres] = [await outputs(sqlite!, command), await outputs(postgres!, command)];
      assert.match(fromPostgres, /h264-144p|talk/, 'not two empty outputs');
      // JSON objects are equal whatever their key order (PostgreSQL's JSONB keeps none); text is equal line for line once the runs' own durations are masked.
      if (command.includes('--json')) assert.deepEqual(withoutDurations(JSON.parse(fromPostgres)), withoutDurations(JSON.parse(fromSqlite)));
      // The report's timeline lists tasks by start: those that started together come in either order.
      else if (command[0] === 'report') assert.deepEqual(seconds(fromPostgres).split('\n').sort(), seconds(fromSqlite).split('\n').sort());
      else assert.equal(seconds(fromPostgres), seconds(fromSqlite));
    });
  }

  it('vidpipe report <video> --html: the same report page', async () => {
    const pages: string[] = [];
    for (const engine of engines) {
      const file = path.join(dir, `report-${engine.name}.html`);
      const run = await runCli(['report', engine.videoId, '--db', engine.db, '--html', file]);
      assert.equal(run.code, 0, run.stderr);
      // The task timeline's geometry and times follow each run's own durations.
      pages.push(masked(engine, await readFile(file, 'utf8')).replace(/<svg class="vp-timeline"[^]*?<\/svg>/g, "<svg/>").replace(/\b\d+\.\d+ s\b/g, '<s>'));
    }
    assert.match(pages[1]!, /h264-144p/);
    assert.equal(pages[1], pages[0]);
  });
});
