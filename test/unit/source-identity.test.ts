/**
 * The checks of src/core/source-identity.ts on their own (local files; the s3:// side and whole
 * jobs are in test/e2e/source-changes.test.ts), and the watch store's answer to a new version
 * of an upload while another watcher still holds the previous one.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VidpipeError } from '../../src/errors.js';
import { assertSourceCurrent, sourceIdentity } from '../../src/core/source-identity.js';
import { sha256File, videoIdFromSha256 } from '../../src/core/ids.js';
import { WatchStore } from '../../src/watch/store.js';
import { tempDir } from '../helpers/media.js';

const changed = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof VidpipeError);
  assert.equal(error.code, 'SOURCE_CHANGED');
  assert.equal(error.exitCode, 1, 'not bad input: the same source, complete, will do');
  assert.match(error.message, pattern);
  return true;
};

describe('assertSourceCurrent', () => {
  it('passes a file unchanged since it was read; one modified long ago waits for nothing', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const file = path.join(dir, 'old.ts');
    await writeFile(file, 'x'.repeat(1880));
    await utimes(file, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    const started = Date.now();
    await assertSourceCurrent({ path: file, file: (await sourceIdentity(file))! }, { quietMs: 10_000 });
    assert.ok(Date.now() - started < 1000);
  });

  it('waits until a fresh file has been quiet for quietMs, at most quietMs (a future modification time too)', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    for (const [name, mtime] of [['fresh.ts', new Date()], ['future.ts', new Date(Date.now() + 3_600_000)]] as const) {
      const file = path.join(dir, name);
      await writeFile(file, 'x');
      await utimes(file, mtime, mtime);
      const started = Date.now();
      await assertSourceCurrent({ path: file, file: (await sourceIdentity(file))! }, { quietMs: 600 });
      const waited = Date.now() - started;
      assert.ok(waited >= 300 && waited < 1500, `${name}: waited ${waited} ms`);
    }
  });

  it('refuses as SOURCE_CHANGED (exit 1): grown, grown while waiting for quiet, replaced, removed, rewritten', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const file = path.join(dir, 'src.ts');
    const fresh = async () => {
      await writeFile(file, 'x'.repeat(188));
      return { path: file, file: (await sourceIdentity(file))! };
    };
    let source = await fresh();
    await appendFile(file, 'y');
    await assert.rejects(assertSourceCurrent(source), changed(/src\.ts changed while it was being processed \(its size went from 0\.00 MB to 0\.00 MB\); nothing was published/));

    source = await fresh();
    const growing = setTimeout(() => void appendFile(file, 'y'), 200);
    const started = Date.now();
    await assert.rejects(assertSourceCurrent(source, { quietMs: 60_000 }), changed(/its size went from/));
    clearTimeout(growing);
    assert.ok(Date.now() - started < 2000, 'seen within a poll, not after the whole quiet time');

    source = await fresh();
    await writeFile(path.join(dir, 'other.ts'), 'z'.repeat(188));
    await rename(path.join(dir, 'other.ts'), file);
    await assert.rejects(assertSourceCurrent(source), changed(/it was replaced by another file/));

    source = await fresh();
    await rename(file, path.join(dir, 'gone.ts'));
    await assert.rejects(assertSourceCurrent(source), changed(/it was removed/));

    source = await fresh();
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    await assert.rejects(assertSourceCurrent(source), changed(/it was rewritten/));
  });
});

describe('WatchStore and a new version of a claimed upload', () => {
  it('is busy (not finished) while another watcher holds the previous version, and claimable once that one is released', async (t) => {
    const { dir, cleanup } = await tempDir();
    const file = path.join(dir, 'w.db');
    const options = { leaseMs: 10_000, maxAttempts: 2 };
    const a = await WatchStore.open(file, { owner: 'watcher-a', ...options });
    const b = await WatchStore.open(file, { owner: 'watcher-b', ...options });
    t.after(async () => {
      await a.close();
      await b.close();
      await cleanup();
    });
    const v1 = { bucket: 'inbox', key: 'up/talk.mp4', etag: 'e1', size: 10 };
    const v2 = { ...v1, etag: 'e2', size: 7 };
    assert.deepEqual(await a.claim(v1), { claimed: true, attempt: 1 });
    // An SQS watcher would delete the notification of v2 on 'finished' and never process it.
    assert.deepEqual(await b.claim(v2), { claimed: false, reason: 'busy' });
    // The job of v1 sees the change and stands down (watchStatus 'superseded').
    await a.release(v1, { countAttempt: true, error: 'changed' });
    assert.deepEqual(await b.claim(v2), { claimed: true, attempt: 1 });
    await b.finish(v2, 'done', { jobId: 'j2' });
    assert.equal(await a.isFinished(v2), true);
  });
});

describe('sha256File (the video id is the hash of its content)', () => {
  it('hashes files of every size as a one-shot hash does, across the 1 MiB reads it makes', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    for (const size of [0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]) {
      const bytes = randomBytes(size);
      const file = path.join(dir, `f${size}`);
      await writeFile(file, bytes);
      assert.equal(await sha256File(file), createHash('sha256').update(bytes).digest('hex'), `${size} bytes`);
    }
    assert.equal(videoIdFromSha256(await sha256File(path.join(dir, 'f0'))), 'v' + createHash('sha256').digest('hex').slice(0, 12));
  });

  it('stops when its signal is aborted, and refuses a missing file or a folder', async (t) => {
    const { dir, cleanup } = await tempDir();
    t.after(cleanup);
    const file = path.join(dir, 'big');
    await writeFile(file, randomBytes(4 << 20));
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await assert.rejects(sha256File(file, controller.signal), /stopped/);
    await assert.rejects(sha256File(path.join(dir, 'missing')), { code: 'ENOENT' });
    await mkdir(path.join(dir, 'folder'));
    await assert.rejects(sha256File(path.join(dir, 'folder')), { code: 'EISDIR' });
  });
});
