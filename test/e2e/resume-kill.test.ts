import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import HLS from 'hls-parser';
import { decodedFrameCount, keyFrameTimes, makeClip, runCli, tempDir, type CliRun } from '../helpers/media.js';
import { RECORD_KEY } from '../../src/storage/package-record.js';

const exec = promisify(execFile);

/** key → sha256 of every file below root ('/'-separated keys). */
async function snapshot(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  if (!existsSync(root)) return files;
  for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(root, path).split(sep).join('/'), createHash('sha256').update(await readFile(path)).digest('hex'));
  }
  return files;
}

function sameFiles(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([key, hash]) => b.get(key) === hash);
}

/**
 * What a player is served is whole: strict HLS parse of every playlist, every referenced segment
 * present, both entry manifests decode cleanly. Returns the number of video variants.
 */
async function assertCompletePackage(root: string): Promise<number> {
  HLS.setOptions({ strictMode: true });
  const master = HLS.parse(await readFile(join(root, 'master.m3u8'), 'utf8')) as any;
  const variants = master.variants.filter((v: any) => !v.isIFrameOnly);
  for (const variant of variants) {
    const media = HLS.parse(await readFile(join(root, variant.uri), 'utf8')) as any;
    assert.equal(media.endlist, true);
    const folder = join(root, variant.uri, '..');
    for (const segment of media.segments) assert.ok(existsSync(join(folder, segment.uri)), `${variant.uri}: ${segment.uri} exists`);
  }
  for (const manifest of ['master.m3u8', 'manifest.mpd']) {
    const { stderr } = await exec('ffmpeg', ['-v', 'error', '-i', join(root, manifest), '-map', '0:v:0', '-map', '0:a:0', '-f', 'null', '-']);
    assert.equal(stderr.trim(), '', `${manifest} decodes without errors`);
  }
  return variants.length;
}

interface TaskRow {
  job_id: string;
  id: string;
  kind: string;
  status: string;
  output: string | null;
}

/**
 * What the database claims must be on disk: every task with a recorded output has those files,
 * with those checksums, in its job's work folder — except the package's own files once publish
 * has started, because publishing moves them to the destination.
 */
async function assertDbAgreesWithDisk(dbFile: string, workRoot: string, destination: string, finished = false): Promise<{ status: string; jobId: string }> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const job = db.prepare("SELECT id, status, resume_key, outputs FROM jobs WHERE resume_key IS NOT NULL ORDER BY started_at DESC, rowid DESC LIMIT 1").get() as { id: string; status: string; resume_key: string; outputs: string };
    const tasks = db.prepare('SELECT * FROM tasks WHERE job_id = ?').all(job.id) as TaskRow[];
    if (job.status === 'succeeded') {
      const recorded = new Map((db.prepare('SELECT key, sha256 FROM outputs WHERE job_id = ?').all(job.id) as { key: string; sha256: string }[]).map((r) => [r.key, r.sha256]));
      // The published tree (the package root, or this job's release folder below it) holds exactly the recorded files.
      const publishedRoot = (JSON.parse(job.outputs) as { root: string }).root;
      assert.ok(publishedRoot.startsWith(destination), `${publishedRoot} is inside ${destination}`);
      const onDisk = await snapshot(publishedRoot);
      assert.ok(sameFiles(recorded, onDisk), `outputs table = files published (${recorded.size} recorded, ${onDisk.size} on disk)`);
      // A kill between the final transaction and the clean-up may leave it; the next run removes it.
      if (finished) assert.equal(existsSync(join(workRoot, job.resume_key)), false, 'work folder removed after success');
      return { status: job.status, jobId: job.id };
    }
    assert.equal(job.status, 'running', 'a killed job is left running until the next run settles it');
    const workDir = join(workRoot, job.resume_key);
    const publishStarted = tasks.some((t) => t.id === 'publish' && t.status !== 'pending');
    for (const task of tasks) {
      if (['encode-video', 'encode-audio', 'assemble'].includes(task.kind) && task.status === 'succeeded') assert.ok(task.output, `${task.id} succeeded with its output recorded`);
      if (!task.output) continue;
      const output = JSON.parse(task.output) as { files?: { path: string; bytes: number; sha256: string }[] };
      for (const file of output.files ?? []) {
        if (publishStarted && file.path.startsWith('package/')) continue;
        const bytes = await readFile(join(workDir, file.path)).catch(() => undefined);
        assert.ok(bytes, `${task.id} (${task.status}): ${file.path} exists`);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), file.sha256, `${task.id}: ${file.path} checksum`);
      }
    }
    return { status: job.status, jobId: job.id };
  } finally {
    db.close();
  }
}

describe('kill -9 at random points, then resume', { timeout: 240_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: string;
  let dbFile: string;
  let workRoot: string;
  let destination: string;
  let previousPackage: Map<string, string>;
  let previousLive: string | undefined;
  const killLog: string[] = [];
  let final: CliRun;
  let result: any;

  const common = () => [
    '--out', join(dir, 'out'), '--name', 'clip', '--db', dbFile, '--work-dir', workRoot, '--concurrency', '2',
    '--segment-duration', '2', '--preset', 'superfast',
  ];
  const jobArgs = () => ['transcode', source, ...common(), '--chunk-duration', '2', '--ladder', '180p,144p', '--progress', 'plain'];

  /** Runs the job and SIGKILLs it `delayMs` after every line in `trigger` (' & '-separated) appeared on stderr. */
  async function runAndKill(trigger: string, delayMs: number): Promise<CliRun> {
    let armed = false;
    const run = await runCli(jobArgs(), {
      onStderr: (text, child) => {
        if (armed || !trigger.split(' & ').every((line) => text.includes(line))) return;
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      },
    });
    killLog.push(`"${trigger}" + ${delayMs} ms → ${run.signal ?? `exit ${run.code}`}`);
    return run;
  }

  async function checkAfterKill(run: CliRun): Promise<void> {
    const context = killLog.join('; ');
    if (run.signal === 'SIGKILL') {
      // Players see the previous package intact or the new one complete, never a mixture.
      await assertCompletePackage(destination);
      const now = await snapshot(destination);
      if (now.get('master.m3u8') === previousPackage.get('master.m3u8')) {
        // The DASH entry point may switch first (each entry manifest is replaced whole, one after the
        // other). The record changes before either: a job writes its claim on its release there
        // before it sends a file; it names the new release live only after the entry files.
        for (const [key, hash] of previousPackage) if (key !== 'manifest.mpd' && key !== RECORD_KEY) assert.equal(now.get(key), hash, `previous package file ${key} unchanged (${context})`);
        const record = JSON.parse(await readFile(join(destination, RECORD_KEY), 'utf8')) as { live?: string };
        assert.equal(record.live, previousLive, `the record still names the previous release live (${context})`);
      }
    } else {
      assert.equal(run.code, 0, `${context}\n${run.stderr}`);
    }
    const { status, jobId } = await assertDbAgreesWithDisk(dbFile, workRoot, destination);
    const db = new Database(dbFile, { readonly: true });
    const running = (db.prepare("SELECT id FROM tasks WHERE job_id = ? AND status = 'running'").all(jobId) as { id: string }[]).map((t) => t.id);
    db.close();
    killLog[killLog.length - 1] += ` (job ${status}${running.length ? `, killed in ${running.join(', ')}` : ''})`;
  }

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-resume-'));
    dbFile = join(dir, 'meta.db');
    workRoot = join(dir, 'work');
    destination = join(dir, 'out', 'clip');
    source = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 8 });
    // A previous good package at the same destination, from other settings and another source.
    const older = await makeClip(join(dir, 'older.mp4'), { durationSeconds: 2 });
    const first = await runCli(['transcode', older, ...common(), '--ladder', '144p', '--no-thumbnails', '--quiet']);
    assert.equal(first.code, 0, first.stderr);
    previousPackage = await snapshot(destination);
    previousLive = (JSON.parse(await readFile(join(destination, RECORD_KEY), 'utf8')) as { live?: string }).live;
    assert.ok(previousLive, 'the first package names its release live');
    assert.ok(previousPackage.has('master.m3u8'));
  });
  after(async () => cleanup());

  it('survives a kill while encoding', async () => {
    await checkAfterKill(await runAndKill('Encode video: started', 200 + Math.floor(Math.random() * 1500)));
  });

  it('survives a kill while publishing', async () => {
    // Publishing starts once the manifests and the thumbnails are done.
    await checkAfterKill(await runAndKill('Manifests: done & Thumbnails: done', Math.floor(Math.random() * 30)));
  });

  it('survives a kill right after resuming', async () => {
    // While it verifies what it reuses, or just after: the next run must still find all of it.
    await checkAfterKill(await runAndKill('Plan: done', Math.floor(Math.random() * 100)));
  });

  it('then finishes, reusing the verified work of the killed runs', async (t) => {
    final = await runCli([...jobArgs(), '--json']);
    assert.equal(final.code, 0, `${killLog.join('; ')}\n${final.stderr}`);
    result = JSON.parse(final.stdout.trim());
    assert.equal(result.status, 'succeeded');
    if (killLog.at(-1)?.includes('(job succeeded')) {
      // On a fast machine the last run can finish its few remaining tasks before the kill lands:
      // then there is nothing left to resume and this run is a new job of its own.
      t.diagnostic(`the last killed run had already succeeded: ${killLog.join('; ')}`);
      return;
    }
    assert.ok(result.resumed, `resumed (${killLog.join('; ')})`);
    for (const id of ['encode-video-0', 'encode-video-3', 'assemble-h264-180p', 'assemble-h264-144p', 'encode-audio-aac-128k']) {
      assert.ok(result.resumed.reusedTasks.includes(id), `${id} reused: ${result.resumed.reusedTasks.join(', ')} (${killLog.join('; ')})`);
    }
    assert.match(final.stderr, /Publish: done/);
    t.diagnostic(`kills: ${killLog.join('; ')}; reused ${result.resumed.reusedTasks.length} tasks`);
  });

  it('publishes a package that passes the strict checks', async () => {
    assert.ok(result.outputs.root.startsWith(destination));
    assert.equal(await assertCompletePackage(destination), 2);
    const expectedFrames = await decodedFrameCount(source);
    assert.equal(expectedFrames, 240);
    for (const rendition of ['h264-180p', 'h264-144p']) {
      const trackDir = join(result.outputs.root, 'video', rendition);
      const names = (await readdir(trackDir)).filter((n) => /^seg_\d+\.m4s$/.test(n)).sort();
      const joined = join(dir, `${rendition}.mp4`);
      await writeFile(joined, Buffer.concat(await Promise.all([readFile(join(trackDir, 'init.mp4')), ...names.map((n) => readFile(join(trackDir, n)))])));
      assert.equal(await decodedFrameCount(joined), expectedFrames, `${rendition} frame count`);
      const keys = await keyFrameTimes(joined);
      assert.equal(keys.length, 4, `${rendition}: one key frame per 2 s GOP`);
      keys.forEach((t, i) => assert.ok(Math.abs(t - 2 * i) < 0.001, `${rendition} key frame ${i} at ${t}`));
    }
  });

  it('leaves database rows that agree with the disk and show each encode done once', async () => {
    const { status, jobId } = await assertDbAgreesWithDisk(dbFile, workRoot, destination, true);
    assert.equal(status, 'succeeded');
    assert.equal(jobId, result.jobId);
    const db = new Database(dbFile, { readonly: true });
    try {
      const jobs = db.prepare('SELECT id, status, resume_key FROM jobs WHERE resume_key = (SELECT resume_key FROM jobs WHERE id = ?) ORDER BY started_at, rowid').all(jobId) as { id: string; status: string }[];
      assert.ok(jobs.length >= 2, `${jobs.length} jobs share the resume key`);
      // Every killed run was settled by the run after it.
      for (const job of jobs.slice(0, -1)) assert.ok(['interrupted', 'succeeded'].includes(job.status), `${job.id}: ${job.status}`);
      const tasks = db.prepare(`SELECT * FROM tasks WHERE job_id IN (${jobs.map(() => '?').join(',')})`).all(...jobs.map((j) => j.id)) as TaskRow[];
      const finalTasks = tasks.filter((t) => t.job_id === jobId);
      assert.ok(finalTasks.every((t) => t.status === 'succeeded' || t.status === 'skipped'), JSON.stringify(finalTasks.map((t) => [t.id, t.status])));
      const jobIds = new Set(jobs.map((j) => j.id));
      for (const task of finalTasks.filter((t) => t.status === 'skipped')) {
        const output = JSON.parse(task.output!) as { reusedFrom?: string; notNeeded?: boolean };
        assert.ok(output.notNeeded || (output.reusedFrom && jobIds.has(output.reusedFrom) && output.reusedFrom !== jobId), `${task.id}: ${task.output}`);
      }
      // Only the rest was redone: each chunk was encoded to completion by exactly one run since
      // the last fresh start (a kill that came too late lets a run succeed; the next starts over).
      const lastSuccess = jobs.slice(0, -1).map((j) => j.status).lastIndexOf('succeeded');
      const chain = new Set(jobs.slice(lastSuccess + 1).map((j) => j.id));
      for (let i = 0; i < 4; i++) {
        const produced = tasks.filter((t) => chain.has(t.job_id)).filter((t) => t.id === `encode-video-${i}` && t.output && !JSON.parse(t.output).reusedFrom);
        assert.equal(produced.length, 1, `encode-video-${i} completed ${produced.length} times (${killLog.join('; ')})`);
      }
    } finally {
      db.close();
    }
  });
});
