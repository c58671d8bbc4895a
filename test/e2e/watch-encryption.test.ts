/**
 * `vidpipe watch` with encryption (#24): the watcher holds a key source (`--key-file`, no
 * `--encrypt`), and each upload asks for a scheme or not through its sidecar or its object
 * metadata. The encrypted packages, published to S3 and fetched back, validate with the key
 * (decrypted by an independent decryptor, decoded); an upload that asks for nothing is packaged
 * clear; a sidecar that carries a key is refused without repeating it, and the key is in no
 * line the watcher prints, nor in its database.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { assertValidatesDecrypted, filesUnder, keyLeaks } from '../helpers/protected-package.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { downloadPrefix, putFile, putText, S3_ENV } from '../helpers/s3-package.js';

const KID = '33333333333333333333333333333333';
const KEY = 'c0ffee00112233445566778899aabbcc';
const SIDECAR_KEY = 'deadbeef00112233445566778899aabb';

describe('vidpipe watch: uploads ask for encryption, the keys are the watcher\'s', { timeout: 600_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  let run: Awaited<ReturnType<typeof runCli>>;
  let lines: any[];
  const line = (key: string) => lines.find((l) => l.key === key);

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-watch-encrypt-'));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
    const keyFile = path.join(dir, 'keys.txt');
    await writeFile(keyFile, `${KID}:${KEY}\n`);
    const clips = [];
    for (const [i, width] of [160, 192, 224, 128].entries()) clips.push(await makeClip(path.join(dir, `clip${i}.mp4`), { durationSeconds: 2, width, height: 90 }));
    await putText(client, 'inbox', 'enc/sidecar.mp4.vidpipe.json', JSON.stringify({ encrypt: 'cbcs' }));
    await putFile(client, 'inbox', 'enc/sidecar.mp4', clips[0]!);
    await putFile(client, 'inbox', 'enc/metadata.mp4', clips[1]!, { 'vidpipe-encrypt': 'cenc' });
    await putFile(client, 'inbox', 'enc/clear.mp4', clips[2]!);
    await putText(client, 'inbox', 'enc/keyed.mp4.vidpipe.json', JSON.stringify({ encrypt: 'cbcs', key: SIDECAR_KEY }));
    await putFile(client, 'inbox', 'enc/keyed.mp4', clips[3]!);
    run = await runCli(
      ['watch', 's3://inbox/enc/', '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', path.join(dir, 'watch.db'), '--json', '--progress', 'none',
        '--ladder', '90p', '--preset', 'ultrafast', '--concurrency', '1', '--no-thumbnails', '--interval', '0.5', '--once', '--key-file', keyFile],
      { env: S3_ENV },
    );
    assert.equal(run.code, 0, run.stderr);
    lines = run.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
  });
  after(async () => {
    client?.destroy();
    await s3?.stop();
    await cleanup?.();
  });

  it('encrypts the uploads whose sidecar or metadata ask for it, with the watcher\'s key: they validate with it', async () => {
    for (const [name, scheme] of [['sidecar', 'cbcs'], ['metadata', 'cenc']] as const) {
      const done = line(`enc/${name}.mp4`);
      assert.equal(done?.watchStatus, 'done', JSON.stringify(done));
      assert.equal(done.protection?.scheme, scheme);
      const local = path.join(dir, 'fetched', name);
      await downloadPrefix(client, 'vod', `${name}/`, local);
      await assertValidatesDecrypted(local, [{ kid: KID, key: KEY }]);
    }
  });

  it('packages an upload that asks for nothing clear', async () => {
    const done = line('enc/clear.mp4');
    assert.equal(done?.watchStatus, 'done', JSON.stringify(done));
    assert.equal(done.protection, undefined);
    const local = path.join(dir, 'fetched', 'clear');
    await downloadPrefix(client, 'vod', 'clear/', local);
    const validate = await runCli(['validate', local]);
    assert.equal(validate.code, 0, validate.stdout);
    for (const file of (await filesUnder(local)).filter((f) => f.endsWith('.m3u8'))) assert.doesNotMatch(await readFile(file, 'utf8'), /#EXT-X-(SESSION-)?KEY/, file);
  });

  it('refuses a sidecar that carries a key, and repeats none of the keys anywhere', async () => {
    const refused = line('enc/keyed.mp4');
    assert.equal(refused?.watchStatus, 'failed', JSON.stringify(refused));
    assert.match(refused.error.message, /unknown setting "key"/);
    const keys = [Buffer.from(KEY, 'hex'), Buffer.from(SIDECAR_KEY, 'hex')];
    const found = [...keyLeaks('stdout', run.stdout, keys), ...keyLeaks('stderr', run.stderr, keys)];
    for (const file of (await filesUnder(dir)).filter((f) => /watch\.db/.test(f))) found.push(...keyLeaks(file, await readFile(file), keys));
    assert.deepEqual(found, []);
  });
});
