/**
 * `vidpipe watch` and uploads whose sidecar or metadata ask for too much: each is refused with the
 * sidecar and the limit named, nothing of it reaches the database, and the other uploads are served.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { putFile, putText, S3_ENV } from '../helpers/s3-package.js';

describe('vidpipe watch: sidecar and metadata limits', { timeout: 300_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let clip: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-sidecar-limits-'));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
    clip = await makeClip(path.join(dir, 'clip.mp4'), { durationSeconds: 1, width: 160, height: 90, rate: '15', audio: false });
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  it('refuses a huge sidecar, a huge value, too many tags and deep nesting, keeps the database small, and processes the next upload', async () => {
    const refused: Record<string, { sidecar?: string; metadata?: Record<string, string>; reason: RegExp }> = {
      'huge-file.mp4': { sidecar: JSON.stringify({ tags: { note: 'x'.repeat(5_000_000) } }), reason: /huge-file\.mp4\.vidpipe\.json: a sidecar is at most 65536 bytes; this one is 5000\d+ bytes/ },
      'huge-value.mp4': { sidecar: JSON.stringify({ tags: { note: 'x'.repeat(60_000) } }), reason: /huge-value\.mp4\.vidpipe\.json: "tags\.note" is 60000 characters long, more than the 1024 allowed/ },
      'many-tags.mp4': { sidecar: JSON.stringify({ tags: Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'v'])) }), reason: /many-tags\.mp4\.vidpipe\.json: sets 500 tags, more than the 64 allowed/ },
      'nested.mp4': { sidecar: `{"ladder": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`, reason: /nested\.mp4\.vidpipe\.json: "ladder\.0\.0\.0" is nested more than 4 levels deep/ },
      'meta-value.mp4': { metadata: { 'vidpipe-tag-note': 'y'.repeat(1500) }, reason: /metadata of s3:\/\/inbox\/limits\/meta-value\.mp4: "tags\.note" is 1500 characters long/ },
    };
    for (const [name, upload] of Object.entries(refused)) {
      await putFile(client, 'inbox', `limits/${name}`, clip, upload.metadata);
      if (upload.sidecar) await putText(client, 'inbox', `limits/${name}.vidpipe.json`, upload.sidecar);
    }
    await putFile(client, 'inbox', 'limits/next.mp4', clip);
    await putText(client, 'inbox', 'limits/next.mp4.vidpipe.json', JSON.stringify({ tags: { team: 'news' } }));

    const db = path.join(dir, 'watch.db');
    const run = await runCli(
      ['watch', 's3://inbox/limits/', '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', db, '--json', '--progress', 'none', '--once', '--interval', '0.5',
        '--ladder', '90p', '--preset', 'ultrafast', '--no-thumbnails'],
      { env: S3_ENV },
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; watchStatus: string; attempt: number; error?: { message: string } });
    const byKey = new Map(lines.map((line) => [line.key, line]));
    for (const [name, upload] of Object.entries(refused)) {
      const line = byKey.get(`limits/${name}`);
      assert.equal(line?.watchStatus, 'failed', `${name}: ${JSON.stringify(line)}`);
      assert.equal(line.attempt, 1, `${name} fails for good at once, no retries`);
      assert.match(line.error!.message, upload.reason);
      assert.match(run.stderr, new RegExp(`limits/${name.replace('.', '\\.')}: failed: `));
    }
    assert.equal(byKey.get('limits/next.mp4')?.watchStatus, 'done', 'the next upload is processed');

    const sqlite = new Database(db, { readonly: true });
    try {
      const tags = sqlite.prepare('SELECT tags FROM videos').all() as { tags: string }[];
      assert.equal(tags.length, 1);
      assert.equal(JSON.parse(tags[0]!.tags).team, 'news');
    } finally {
      sqlite.close();
    }
    const size = statSync(db).size + (statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    assert.ok(size < 1024 * 1024, `the database holds ${size} bytes`);
  });
});
