/**
 * A `secret: true` setting never leaves the process in any copy of the settings. The test
 * declares a throw-away secret option in the transcode table, runs a real job with a distinctive
 * value in it (locally, and submitted to a real Redis with an s3rver destination), and looks
 * for the value (as given, as hex and as base64 of its bytes) in everything a job stores or
 * sends: the SQLite file, the work folder while the job holds it, the package, the Redis keys,
 * the `--json` result, the `--plan` output, the job's events (progress and log lines), the HTML
 * report and parse errors. A path that writes settings without shareableSettings fails it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatPlan, formatResult } from '../../src/cli/commands/transcode-format.js';
import { openMetadata } from '../../src/db/engines.js';
import { VidpipeError } from '../../src/errors.js';
import { resumeKeyFor } from '../../src/job/resume.js';
import type { ProtectionKeys } from '../../src/protection/model.js';
import { previewJob, runJob, type JobRequest } from '../../src/job/run-job.js';
import { queueRunner } from '../../src/queue/submit.js';
import { loadReport } from '../../src/report/from-database.js';
import { renderReportDocument } from '../../src/report/html.js';
import { invalid, type FlagEntry } from '../../src/settings/option.js';
import { DEFAULT_SETTINGS, TRANSCODE_TABLE, parseTranscodeOptions, parseUploadOverrides, shareableSettings, withOwnSecrets, type JobSettings } from '../../src/settings/job-settings.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { redisDump, startRedisServer, type RedisTestServer } from '../helpers/redis-server.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;

/** A 16-byte key, as a content key would be given: its hex is the value of the option. */
const KEY = randomBytes(16);
const SECRET = KEY.toString('hex');
const SPELLINGS = [SECRET, SECRET.toUpperCase(), KEY.toString('base64'), KEY.toString('base64url'), KEY.toString('base64').replace(/=+$/, '')];

/** The throw-away secret option: echoes its value in its own errors, as a careless parser would. */
const testSecretEntry: FlagEntry<string | undefined> = {
  flags: '--test-secret <hex>',
  description: 'a throw-away secret (test only)',
  env: 'VIDPIPE_TEST_SECRET',
  secret: true,
  sidecar: true,
  parse: (value, field) => {
    if (typeof value !== 'string' || !/^[0-9a-f]{32}$/i.test(value)) throw invalid(field, `"${String(value)}" is not 32 hex digits`, `you gave ${String(value)}`);
    return value.toLowerCase();
  },
};
(TRANSCODE_TABLE as unknown as Record<string, unknown>).testSecret = testSecretEntry;
(DEFAULT_SETTINGS as unknown as Record<string, unknown>).testSecret = undefined;

type WithSecret = JobSettings & { testSecret?: string };
/** Settings with no trace of the throw-away field. */
const withoutTestField = (value: WithSecret): JobSettings => {
  const { testSecret: _testSecret, ...rest } = value;
  return rest;
};
const settings: WithSecret = { ...DEFAULT_SETTINGS, concurrency: 2, segmentDurationSeconds: 2, thumbnails: false, sourceQuietSeconds: 0, testSecret: SECRET };

/** Where a spelling of the secret occurs in some text or bytes, for the failure message. */
function leaks(what: string, content: string | Buffer): string[] {
  const text = typeof content === 'string' ? content : content.toString('latin1');
  return SPELLINGS.filter((spelling) => text.includes(spelling)).map((spelling) => `${what} holds ${spelling}`);
}

/** Every file below a folder, read now. */
function leaksInFolder(folder: string): string[] {
  const found: string[] = [];
  const walk = (path: string) => {
    const info = statSync(path, { throwIfNoEntry: false });
    if (!info) return;
    if (info.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else if (info.isFile()) found.push(...leaks(path, readFileSync(path)));
  };
  walk(folder);
  return found;
}

let dir: string;
let cleanup: () => Promise<void>;
let input: string;
before(async () => {
  ({ dir, cleanup } = await tempDir('vidpipe-secret-'));
  input = await makeClip(join(dir, 'talk.mp4'), { durationSeconds: 2 });
});
after(async () => cleanup());

describe('secret settings', () => {
  it('are left out of the shareable copy and read back from a worker\'s own environment, never from the copy', () => {
    const shared = shareableSettings(settings) as WithSecret;
    assert.equal('testSecret' in shared, false);
    assert.equal(shared.segmentDurationSeconds, 2);
    assert.deepEqual(leaks('the shareable copy', JSON.stringify(shared)), []);
    const other = randomBytes(16).toString('hex');
    assert.equal((withOwnSecrets(settings, { VIDPIPE_TEST_SECRET: other }) as WithSecret).testSecret, other);
    assert.equal('testSecret' in withOwnSecrets(settings, {}), false);
  });

  it('change the resume key (files made under another key are never reused) through a hash only', async () => {
    const plan = (await previewJob({ input, out: join(dir, 'out-plan'), settings, binaries, dbPath: join(dir, 'plan.db'), workRoot: join(dir, 'work-plan') })).plan;
    const keyOf = (testSecret?: string) => resumeKeyFor({ sha256: 'ab', settings: { ...settings, testSecret } as JobSettings, plan, ffmpeg: 'ffmpeg', destination: '/out/talk' });
    assert.equal(keyOf(SECRET), keyOf(SECRET));
    assert.notEqual(keyOf(SECRET), keyOf(randomBytes(16).toString('hex')));
    assert.notEqual(keyOf(SECRET), keyOf(undefined));
    // Without a secret, the key is what it was before secrets existed (work folders of earlier runs still resume).
    assert.equal(keyOf(undefined), resumeKeyFor({ sha256: 'ab', settings: withoutTestField(settings), plan, ffmpeg: 'ffmpeg', destination: '/out/talk' }));
    // Keys read from a key file or a CPIX document: the same settings, another key (or KID, or DRM data) is another work folder.
    const keysOf = (key: Buffer, kid: Buffer, pssh?: Buffer): ProtectionKeys => ({
      scheme: 'cbcs', source: 'key-file', keys: { video: { kid, key }, audio: { kid, key } },
      systems: pssh ? [{ systemId: 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed', kid, pssh }] : [],
    });
    const withKeys = (keys?: ProtectionKeys) => resumeKeyFor({ sha256: 'ab', settings: withoutTestField(settings), plan, ffmpeg: 'ffmpeg', destination: '/out/talk', keys });
    const [key, kid] = [randomBytes(16), randomBytes(16)];
    assert.equal(withKeys(keysOf(key, kid)), withKeys(keysOf(Buffer.from(key), Buffer.from(kid))));
    for (const other of [keysOf(randomBytes(16), kid), keysOf(key, randomBytes(16)), keysOf(key, kid, randomBytes(40)), undefined]) {
      assert.notEqual(withKeys(keysOf(key, kid)), withKeys(other));
    }
    assert.deepEqual(leaks('the resume key', withKeys(keysOf(key, kid))), []);
  });

  it('are never echoed by a message about their value, never taken from an upload', () => {
    for (const given of [`${SECRET}00`, ` ${SECRET.slice(2)} `]) {
      assert.throws(
        () => parseTranscodeOptions({ testSecret: given }),
        (error: VidpipeError) => {
          assert.match(error.message, /--test-secret: "<secret>" is not 32 hex digits/);
          assert.equal(error.hint, 'you gave <secret>');
          return leaks('the message', `${error.message} ${error.hint}`).length === 0 && !error.message.includes(given.trim());
        },
      );
    }
    assert.throws(() => withOwnSecrets(settings, { VIDPIPE_TEST_SECRET: `${SECRET}ff` }), (error: VidpipeError) => error.message.startsWith('$VIDPIPE_TEST_SECRET: --test-secret: "<secret>"') && leaks('', error.message).length === 0);
    // Even an entry marked `sidecar` by mistake: a secret in a bucket's sidecar is already out.
    assert.throws(() => parseUploadOverrides({ testSecret: SECRET }, 's3://media/talk.vidpipe.json'), (error: VidpipeError) => /unknown setting "testSecret"/.test(error.message) && !error.message.includes(SECRET));
  });

  it('a local job stores and prints none: SQLite, the work folder, the package, --json, --plan, events, the report', async () => {
    const dbPath = join(dir, 'local.db');
    const workRoot = join(dir, 'work-local');
    const out = join(dir, 'out-local');
    const found: string[] = [];
    let workFolderChecked = false;
    const request: JobRequest = {
      input, out, name: 'talk', settings, binaries, dbPath, workRoot,
      onEvent: (event) => {
        found.push(...leaks(`event ${event.type}`, JSON.stringify(event, (_key, value: unknown) => (value instanceof Error ? { message: value.message } : value))));
        // The work folder as the job holds it (a succeeded job removes it): its results, the stamp, the package being built.
        if (event.type === 'task-start' && event.id === 'publish') {
          found.push(...leaksInFolder(workRoot));
          workFolderChecked = true;
        }
      },
    };
    const plan = await previewJob(request);
    found.push(...leaks('--plan', formatPlan(plan)), ...leaks('--plan --json', JSON.stringify({ input, kind: plan.plan.kind, plan: plan.plan, tasks: plan.tasks })));
    const result = await runJob(request);
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.equal(workFolderChecked, true, 'the publish node ran while the work folder was there');
    found.push(...leaks('--json', JSON.stringify(result)), ...leaks('the summary', formatResult(result)));
    found.push(...leaksInFolder(out), ...leaksInFolder(workRoot));
    found.push(...leaks('the HTML report', renderReportDocument(await loadReport(dbPath, result.id))));
    // The stored options are the job's settings, less the secret.
    const db = await openMetadata(dbPath);
    try {
      const stored = (await db.getJob(result.jobId)).job.options;
      assert.equal(stored.segmentDurationSeconds, 2);
      assert.equal('testSecret' in stored, false);
    } finally {
      await db.close();
    }
    found.push(...leaksInFolder(dir).filter((line) => line.includes('local.db')));
    assert.deepEqual(found, []);
  });

  it('the real --key (and VIDPIPE_KEY): the CLI\'s --json, --plan, messages, database and folders hold none of it', async () => {
    const kid = randomBytes(16).toString('hex');
    const base = ['transcode', input, '--encrypt', 'cbcs', '--key-id', kid, '--out', join(dir, 'out-cli'), '--work-dir', join(dir, 'work-cli'), '--concurrency', '2', '--no-thumbnails'];
    const env = { VIDPIPE_DB: join(dir, 'cli.db') };
    const runs = [
      await runCli(['--json', ...base, '--key', KEY.toString('base64')], { env }),
      await runCli(['--json', ...base, '--plan', '--key', SECRET], { env }),
      await runCli([...base, '--plan'], { env: { ...env, VIDPIPE_KEY: SECRET } }),
      // A key of the wrong length: refused (exit 2) without repeating it.
      await runCli(['--json', ...base], { env: { ...env, VIDPIPE_KEY: `${SECRET}ab` } }),
    ];
    assert.equal(runs[3]!.code, 2, runs[3]!.stderr);
    assert.match(runs[3]!.stdout, /--key: not a 16-byte AES-128 key/);
    const found = runs.flatMap((run, index) => [...leaks(`run ${index} stdout`, run.stdout), ...leaks(`run ${index} stderr`, run.stderr)]);
    found.push(...leaksInFolder(dir).filter((line) => /cli\.db|out-cli|work-cli/.test(line)));
    assert.deepEqual(found, []);
  });

  describe('a job submitted to a queue', () => {
    let redis: RedisTestServer;
    let s3: S3TestServer;
    before(async () => ([redis, s3] = await Promise.all([startRedisServer(), startS3Server({ buckets: ['media'] })])));
    after(async () => Promise.all([redis?.stop(), s3?.stop()]));

    it('sends none to Redis and stores none in SQLite', async () => {
      const dbPath = join(dir, 'queue.db');
      const result = await runJob({
        input, out: 's3://media/vod', name: 'talk', settings, binaries, dbPath, workRoot: join(dir, 'work-queue'),
        storage: { s3: s3.clientOptions() }, runner: queueRunner({ redisUrl: redis.url, detach: true }),
      });
      assert.equal(result.status, 'queued', JSON.stringify(result.error));
      const found: string[] = [];
      let specs = 0;
      for (const { key, type, value } of await redisDump(redis.url)) {
        if (value.includes('workPrefix')) specs += 1;
        found.push(...leaks(`Redis ${type} ${key}`, value));
      }
      assert.ok(specs > 0, 'the task specs were found in Redis');
      found.push(...leaksInFolder(join(dir, 'work-queue')), ...leaks('--json', JSON.stringify(result)));
      found.push(...leaksInFolder(dir).filter((line) => line.includes('queue.db')));
      assert.deepEqual(found, []);
    });
  });
});
