import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { runShow } from '../../src/cli/commands/show.js';
import { openMetadata, printableMetadataTarget, registerMetadataEngine, resolveMetadataTarget } from '../../src/db/engines.js';
import type { MetadataEngine, MetadataStore } from '../../src/db/metadata-store.js';
import { isVidpipeError } from '../../src/errors.js';
import { WatchStore } from '../../src/watch/store.js';
import { sampleCompletion, sampleStart, tempDbFile } from '../helpers/db-fixtures.js';
import { describeMetadataRecords } from '../helpers/metadata-record-suite.js';

let file: string;
let cleanup: () => void;
beforeEach(() => ({ file, cleanup } = tempDbFile()));
afterEach(() => cleanup());

function usageError(pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(isVidpipeError(error), `expected a VidpipeError, got ${String(error)}`);
    assert.equal(error.code, 'USAGE', error.message);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, pattern);
    assert.ok(error.hint, 'a hint says what to use instead');
    return true;
  };
}

describe('metadata targets by scheme', () => {
  test('paths, sqlite: and file: targets are SQLite files; other URLs go to their scheme', () => {
    assert.deepEqual(resolveMetadataTarget('/var/lib/vidpipe.db'), { scheme: 'sqlite', location: '/var/lib/vidpipe.db' });
    assert.deepEqual(resolveMetadataTarget('rel/v.db'), { scheme: 'sqlite', location: 'rel/v.db' });
    assert.deepEqual(resolveMetadataTarget('C:\\data\\v.db'), { scheme: 'sqlite', location: 'C:\\data\\v.db' }, 'a drive letter is no scheme');
    assert.deepEqual(resolveMetadataTarget('my:v.db'), { scheme: 'sqlite', location: 'my:v.db' }, 'a colon in a file name is no URL');
    assert.deepEqual(resolveMetadataTarget(':memory:'), { scheme: 'sqlite', location: ':memory:' });
    assert.deepEqual(resolveMetadataTarget('sqlite:rel/v.db'), { scheme: 'sqlite', location: 'rel/v.db' });
    assert.deepEqual(resolveMetadataTarget('sqlite:///abs/v.db'), { scheme: 'sqlite', location: '/abs/v.db' });
    assert.deepEqual(resolveMetadataTarget('file:///abs/my%20v.db'), { scheme: 'sqlite', location: '/abs/my v.db' });
    assert.deepEqual(resolveMetadataTarget('postgresql://u@db.example/vidpipe'), { scheme: 'postgresql', location: 'postgresql://u@db.example/vidpipe' });
  });

  test('sqlite: and file: targets open (and create) that file', async () => {
    for (const target of [`sqlite:${file}`, pathToFileURL(file).href]) {
      const store = await openMetadata(target);
      await store.startJob(sampleStart(`job-${target.slice(0, 4)}`));
      await store.close();
      assert.ok(existsSync(file), target);
    }
    const store = await openMetadata(file);
    try {
      assert.equal((await store.getVideo('v0123456789ab')).latestJob?.attempt, 2, 'both targets reached the one file');
    } finally {
      await store.close();
    }
  });

  test('a PostgreSQL URL goes to the PostgreSQL engine: a server that is not there fails (exit 1) naming it, never echoing the password', async () => {
    for (const target of ['postgres://vidpipe:s3cret@127.0.0.1:1/vidpipe', 'postgresql://vidpipe:s3cret@127.0.0.1:1/vidpipe?sslmode=disable']) {
      await assert.rejects(openMetadata(target), (error: unknown) => {
        assert.ok(isVidpipeError(error), String(error));
        assert.equal(error.exitCode, 1);
        assert.match(error.message, /PostgreSQL server at 127\.0\.0\.1:1: connection refused/);
        assert.doesNotMatch(`${error.message} ${error.hint}`, /s3cret/);
        return true;
      });
    }
  });

  test('a target is shown without its password', () => {
    assert.equal(printableMetadataTarget('postgres://vidpipe:s3cret@db.example:5432/vidpipe?sslmode=require'), 'postgres://vidpipe:***@db.example:5432/vidpipe?sslmode=require');
    assert.equal(printableMetadataTarget('postgresql://db.example/vidpipe'), 'postgresql://db.example/vidpipe');
    assert.equal(printableMetadataTarget('/var/lib/my:odd.db'), '/var/lib/my:odd.db');
  });

  test('an unknown scheme is a usage error naming it', async () => {
    await assert.rejects(openMetadata('mysql://u:pw@host/db'), usageError(/no metadata engine for the scheme "mysql:"/));
    await assert.rejects(openMetadata('sqlite:'), usageError(/names no database file/));
  });
});

/**
 * The recipe of docs/architecture.md ("Adding a metadata engine"), followed in a test: an engine
 * module (here inline: `engine` with `open`) registered for its scheme. This one is a wrapper
 * that keeps a journal of the calls and hands each to a SQLite store, so the callers below, which
 * only get a --db target, are seen to work through whatever engine the scheme names.
 */
const journal: string[] = [];
const journalEngine: MetadataEngine = {
  async open(target, options) {
    const inner = await openMetadata(target.location.slice('journal://'.length), options);
    return new Proxy(inner, {
      get(store, property, receiver) {
        const value = Reflect.get(store, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          journal.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(store, args);
        };
      },
    }) satisfies MetadataStore;
  },
};
registerMetadataEngine('journal', async () => journalEngine);

describe('a metadata engine added by the recipe', () => {
  beforeEach(() => void (journal.length = 0));

  test('is what `vidpipe show` and the watcher store use for a target of its scheme, without knowing', async () => {
    const target = `journal://${file}`;
    const store = await openMetadata(target);
    await store.startJob(sampleStart('j1'));
    await store.completeJob('j1', sampleCompletion());
    await store.close();

    const out: string[] = [];
    await runShow({ db: target, json: true, id: 'v0123' }, { stdout: (text) => out.push(text) });
    const shown = JSON.parse(out.join('')) as { video: { id: string }; readyJob: { id: string }; renditions: unknown[] };
    assert.equal(shown.video.id, 'v0123456789ab');
    assert.equal(shown.readyJob.id, 'j1');
    assert.equal(shown.renditions.length, 2);

    const watcher = await WatchStore.open(target, { owner: 'w1', leaseMs: 10_000, maxAttempts: 2 });
    try {
      const upload = { bucket: 'inbox', key: 'up/a.mp4', etag: 'e1', size: 3 };
      assert.deepEqual(await watcher.claim(upload), { claimed: true, attempt: 1 });
      await watcher.finish(upload, 'done', { jobId: 'j1' });
      assert.equal(await watcher.isFinished(upload), true);
    } finally {
      await watcher.close();
    }
    assert.deepEqual(journal, ['startJob', 'completeJob', 'close', 'getVideo', 'close', 'claimUpload', 'finishUpload', 'getUpload', 'close']);
  });
});

// The record suite by parameter: here through the registered wrapper; test/integration/db.test.ts runs it on SQLite itself.
describeMetadataRecords({ name: 'journal wrapper over sqlite', open: (options) => openMetadata(`journal://${path.resolve(file)}`, options) });
