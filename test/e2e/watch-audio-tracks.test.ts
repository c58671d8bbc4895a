/**
 * `vidpipe watch` and an upload's own audio files (#26): a sidecar names a dub beside the upload
 * (`audioTracks`), which the watcher downloads through the storage backend and packages as a
 * rendition of that video, and never takes for an upload of its own; an upload whose sidecar
 * names a file that is not there fails for good with the file named.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3.js';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { putFile, putText, S3_ENV } from '../helpers/s3-package.js';

const exec = promisify(execFile);

describe('vidpipe watch: audio tracks beside the upload', { timeout: 300_000 }, () => {
  let s3: S3TestServer;
  let client: S3Client;
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-watch-tracks-'));
    s3 = await startS3Server({ buckets: ['inbox', 'vod'] });
    client = createS3Client(s3.clientOptions());
  });
  after(async () => {
    client.destroy();
    await s3.stop();
    await cleanup();
  });

  it('packages the dub a sidecar names, skips it as an upload, and fails an upload whose track is missing, naming it', async () => {
    const clip = await makeClip(path.join(dir, 'film.mp4'), { durationSeconds: 2, width: 160, height: 90, rate: '15', extraArgs: ['-metadata:s:a:0', 'language=eng'] });
    const dub = path.join(dir, 'film.fr.m4a');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000:duration=2', '-c:a', 'aac', dub]);
    // The sidecar and the dub go up first, as docs/s3.md asks.
    await putText(client, 'inbox', 'films/film.mp4.vidpipe.json', JSON.stringify({ audioTracks: [{ file: 'film.fr.m4a', language: 'fr', role: 'dub' }] }));
    await putFile(client, 'inbox', 'films/film.fr.m4a', dub);
    await putFile(client, 'inbox', 'films/film.mp4', clip);
    await putText(client, 'inbox', 'films/broken.mp4.vidpipe.json', JSON.stringify({ audioTracks: ['missing.m4a:de'] }));
    await putFile(client, 'inbox', 'films/broken.mp4', clip);

    const run = await runCli(
      ['watch', 's3://inbox/films/', '--out', 's3://vod/', '--s3-endpoint', s3.endpoint, '--db', path.join(dir, 'watch.db'), '--json', '--progress', 'none', '--once', '--interval', '0.5',
        '--ladder', '90p', '--preset', 'ultrafast', '--no-thumbnails', '--segment-duration', '2'],
      { env: S3_ENV },
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; watchStatus: string; attempt: number; error?: { code: string; message: string } });
    assert.deepEqual(lines.map((line) => line.key).sort(), ['films/broken.mp4', 'films/film.mp4'], 'the dub is part of its upload, not an upload');

    const film = lines.find((line) => line.key === 'films/film.mp4')!;
    assert.equal(film.watchStatus, 'done', JSON.stringify(film));
    const audio = (film as any).renditions.filter((r: any) => r.kind === 'audio').map((r: any) => `${r.name}/${r.language}/${r.channels}`);
    assert.deepEqual(audio, ['aac-128k/en/2', 'aac-128k-fr-dub/fr/2']);

    const broken = lines.find((line) => line.key === 'films/broken.mp4')!;
    assert.equal(broken.watchStatus, 'failed', JSON.stringify(broken));
    assert.equal(broken.attempt, 1, 'a missing file fails for good at once');
    assert.equal(broken.error?.code, 'INPUT_NOT_FOUND');
    assert.match(broken.error!.message, /s3:\/\/inbox\/films\/broken\.mp4\.vidpipe\.json: audio track "missing\.m4a" is not there \(s3:\/\/inbox\/films\/missing\.m4a\)/);
  });
});
