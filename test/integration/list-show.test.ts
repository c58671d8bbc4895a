import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { runList } from '../../src/cli/commands/list.js';
import { runShow } from '../../src/cli/commands/show.js';
import { isVidpipeError } from '../../src/errors.js';
import { openMetadata } from '../../src/db/engines.js';
import { sampleCompletion, sampleStart, steppingClock, tempDbFile } from '../helpers/db-fixtures.js';

/** Collects what a command writes, and checks it wrote it in one piece. */
function capture(): { io: { stdout: (text: string) => void }; text: () => string } {
  const chunks: string[] = [];
  return {
    io: { stdout: (text) => chunks.push(text) },
    text: () => {
      assert.equal(chunks.length, 1, 'one write per command');
      return chunks[0];
    },
  };
}

let file: string;
let cleanup: () => void;

/** Video "v0123456789ab" published by j1, then re-run as j2 which failed; "vfeed" still processing. */
async function seed(): Promise<void> {
  const db = await openMetadata(file, { now: steppingClock(), worker: 'host:42' });
  try {
    await db.startJob(sampleStart('j1'));
    await db.updateTask('j1', 'probe', { status: 'running' });
    await db.updateTask('j1', 'probe', { status: 'succeeded' });
    await db.completeJob('j1', sampleCompletion());
    await db.startJob(sampleStart('j2'));
    await db.updateTask('j2', 'probe', { status: 'running' });
    await db.updateTask('j2', 'probe', { status: 'failed', error: 'ffprobe: invalid data' });
    await db.failJob('j2', { status: 'failed', code: 'INPUT_INVALID', message: 'not a media file' });
    await db.startJob(sampleStart('j3', 'vfeed', 'bad\u001b[31mname.mov'));
  } finally {
    await db.close();
  }
}

beforeEach(async () => {
  ({ file, cleanup } = tempDbFile());
  await seed();
});
afterEach(() => cleanup());

describe('runList', () => {
  test('prints a table, newest first, with control characters neutralised', async () => {
    const out = capture();
    await runList({ db: file, json: false }, out.io);
    const lines = out.text().trimEnd().split('\n');
    assert.match(lines[0], /^ID\s+STATUS\s+DURATION\s+RENDITIONS\s+NAME\s+UPDATED$/);
    assert.match(lines[1], /^vfeed\s+processing\s+0:10\s+0\s+bad\\x1b\[31mname\.mov\s+2024-05-01 12:00:\d\dZ$/);
    assert.match(lines[2], /^v0123456789ab\s+ready\s+0:10\s+2\s+sample\.mp4\s+2024-05-01 12:00:\d\dZ$/);
    assert.equal(lines.length, 3);
    assert.ok(lines.every((line) => line === line.trimEnd()), 'no trailing spaces');
  });

  test('--json prints one object with a videos array; --limit caps it', async () => {
    const out = capture();
    await runList({ db: file, json: true, limit: 1 }, out.io);
    const parsed = JSON.parse(out.text()) as { videos: { id: string; latestJobId: string }[] };
    assert.deepEqual(Object.keys(parsed), ['videos']);
    assert.deepEqual(
      parsed.videos.map((video) => [video.id, video.latestJobId]),
      [['vfeed', 'j3']],
    );
  });

  test('an empty database says so', async () => {
    cleanup();
    ({ file, cleanup } = tempDbFile());
    const out = capture();
    await runList({ db: file, json: false }, out.io);
    assert.equal(out.text(), `No videos recorded in ${file}.\n`);
  });

  test('a non-positive --limit is a usage error', async () => {
    await assert.rejects(
      () => runList({ db: file, json: false, limit: 0 }, capture().io),
      (error) => isVidpipeError(error) && error.code === 'USAGE',
    );
  });
});

describe('runShow', () => {
  test('prints the video, tags, outputs, renditions and the latest job tasks', async () => {
    const out = capture();
    await runShow({ db: file, json: false, id: 'v01' }, out.io);
    const text = out.text();
    assert.match(text, /^Video\s+v0123456789ab$/m);
    assert.match(text, /^Status\s+ready$/m);
    assert.match(text, /^Duration\s+0:10 \(10\.020 s\)$/m);
    assert.match(text, /^Size\s+1\.2 MB \(1234567 bytes\)$/m);
    assert.match(text, /^Tags\n {2}title\s+Sample clip$/m);
    assert.match(text, /^Properties\n {2}loudnessLufs\s+-14\.2$/m);
    assert.match(text, /^Outputs \(job j1\)\n {2}hls\s+master\.m3u8\n {2}dash\s+manifest\.mpd\n {2}poster\s+poster\.jpg$/m);
    assert.match(text, /^ {2}NAME\s+CODEC\s+RESOLUTION\s+CODECS\s+AVG KB\/S\s+PEAK KB\/S\s+PSNR DB\s+SSIM$/m);
    assert.match(text, /^ {2}h264-720p\s+h264\s+1280x720\s+avc1\.64001f\s+2400\s+3100\s+-\s+-$/m);
    assert.match(text, /^ {2}aac-128k\s+aac\s+2ch 48 kHz\s+mp4a\.40\.2\s+128\s+131\s+-\s+-$/m);
    assert.match(text, /^Latest job\s+j2 \(failed, attempt 2\)$/m);
    assert.match(text, /^Error\s+INPUT_INVALID: not a media file$/m);
    assert.match(text, /^ {2}ID\s+KIND\s+STATUS\s+ATTEMPTS\s+PROGRESS\s+DURATION\s+ERROR$/m);
    assert.match(text, /^ {2}probe\s+probe\s+failed\s+0\s+0%\s+1\.0s\s+ffprobe: invalid data$/m);
    assert.match(text, /^ {2}encode-720p\s+encode\s+cancelled\s+0\s+0%\s+-$/m);
  });

  test('a video without a finished job shows no outputs or renditions', async () => {
    const out = capture();
    await runShow({ db: file, json: false, id: 'vfeed' }, out.io);
    const text = out.text();
    assert.doesNotMatch(text, /Outputs|Renditions/);
    assert.match(text, /^Name\s+bad\\x1b\[31mname\.mov$/m);
    assert.match(text, /^Latest job\s+j3 \(running, attempt 1\)$/m);
  });

  test('--json prints exactly the video details object', async () => {
    const out = capture();
    await runShow({ db: file, json: true, id: 'v0123456789ab' }, out.io);
    const parsed = JSON.parse(out.text());
    const db = await openMetadata(file);
    try {
      assert.deepEqual(parsed, JSON.parse(JSON.stringify(await db.getVideo('v0123456789ab'))));
    } finally {
      await db.close();
    }
    assert.deepEqual(Object.keys(parsed), ['video', 'latestJob', 'tasks', 'readyJob', 'renditions', 'ladder']);
    assert.equal(parsed.renditions[0].codecs, 'avc1.64001f');
  });

  test('an unknown id is NOT_FOUND', async () => {
    await assert.rejects(
      () => runShow({ db: file, json: false, id: 'nope' }, capture().io),
      (error) => isVidpipeError(error) && error.code === 'NOT_FOUND' && /nope/.test(error.message),
    );
  });
});
