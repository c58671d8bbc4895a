import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Dag, runDag } from '../../src/core/dag.js';
import { planReuse as planReuseOf, recordOutput, recordOutputsOf as recordOutputsOfTasks, resumeKeyFor, sweepFinishedWorkDirs, type RecordedOutput } from '../../src/job/resume.js';
import { claimWorkDir, releaseWorkDir, workDirOwner } from '../../src/core/work-lock.js';
import { openMetadata } from '../../src/db/engines.js';
import type { TaskRecord } from '../../src/db/records.js';
import type { JobPlan } from '../../src/core/plan.js';
import { DEFAULT_SETTINGS, type JobSettings } from '../../src/settings/job-settings.js';
import { tempDir } from '../helpers/media.js';
import { sampleCompletion, sampleStart } from '../helpers/db-fixtures.js';

/** The resume functions over a graph's nodes, as a run hands them the nodes it gained. */
const planReuse = (dag: Dag, ...rest: Parameters<typeof planReuseOf> extends [unknown, ...infer R] ? R : never) => planReuseOf(dag.topologicalOrder(), ...rest);
const recordOutputsOf = (dag: Dag, workDir: string, save: (taskId: string, output: RecordedOutput) => Promise<void>) => recordOutputsOfTasks(dag.topologicalOrder(), workDir, save);

/** chunk-0, chunk-1 → join → pack: the shape of encode → assemble → package, with real files. */
function buildGraph(workDir: string, ran: string[]): Dag {
  const write = async (id: string, name: string, text: string) => {
    ran.push(id);
    const path = join(workDir, name);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, text);
    return path;
  };
  const dag = new Dag();
  for (const i of [0, 1]) {
    dag.add({ id: `encode-video-${i}`, kind: 'encode-video', label: '', dependsOn: [], run: async () => ({ index: i, files: { a: await write(`encode-video-${i}`, `chunks/${i}.bin`, `chunk ${i}`) } }) });
  }
  dag.add({
    id: 'assemble-a', kind: 'assemble', label: '', dependsOn: ['encode-video-0', 'encode-video-1'],
    run: async (results) => {
      const parts = await Promise.all([0, 1].map((i) => readFile((results.get(`encode-video-${i}`) as { files: { a: string } }).files.a, 'utf8')));
      return { path: await write('assemble-a', 'renditions/a.bin', parts.join('+')) };
    },
  });
  dag.add({
    id: 'package-a', kind: 'package', label: '', dependsOn: ['assemble-a'],
    run: async (results) => ({ segment: await write('package-a', 'package/a/seg_1.m4s', await readFile((results.get('assemble-a') as { path: string }).path, 'utf8')) }),
  });
  dag.add({ id: 'publish', kind: 'publish', label: '', dependsOn: ['package-a'], run: async (results) => { ran.push('publish'); return readFile((results.get('package-a') as { segment: string }).segment, 'utf8'); } });
  return dag;
}

/** Runs the graph once, recording outputs the way transcode() does, and returns the rows it would store. */
async function firstRun(workDir: string): Promise<TaskRecord[]> {
  const outputs = new Map<string, RecordedOutput>();
  const dag = buildGraph(workDir, []);
  recordOutputsOf(dag, workDir, async (id, output) => void outputs.set(id, output));
  await runDag(dag, { concurrency: 2 });
  return [...outputs].map(([id, output]) => ({ id, jobId: 'jold', output, status: 'succeeded' }) as unknown as TaskRecord);
}

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir('vidpipe-resume-')));
after(async () => cleanup());

describe('resume: recorded outputs, verification and reuse', () => {
  it('records work-relative paths with sizes and SHA-256, and nothing outside the work folder', async () => {
    const work = join(dir, 'record');
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'x.bin'), 'hello');
    const recorded = await recordOutput({ path: join(work, 'x.bin'), source: '/etc/hostname', dir: work }, work);
    assert.deepEqual(recorded.result, { path: { $work: 'x.bin' }, source: '/etc/hostname', dir: work });
    assert.deepEqual(recorded.files, [{ path: 'x.bin', bytes: 5, sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' }]);
  });

  it('reuses every intact output, with paths rebased when the work root moved, and runs only the sinks', async () => {
    const work = join(dir, 'intact');
    const rows = await firstRun(work);
    const moved = join(dir, 'intact-moved');
    await rename(work, moved);
    const ran: string[] = [];
    const dag = buildGraph(moved, ran);
    const plan = await planReuse(dag, rows, moved);
    assert.deepEqual([...plan.reused.keys()].sort(), ['assemble-a', 'encode-video-0', 'encode-video-1', 'package-a']);
    assert.equal(plan.reused.get('assemble-a')!.reusedFrom, 'jold');
    const { results } = await runDag(dag, { concurrency: 2, completed: plan.completed });
    assert.deepEqual(ran, ['publish']);
    assert.equal(results.get('publish'), 'chunk 0+chunk 1');
    assert.equal((plan.completed.get('package-a') as { segment: string }).segment, join(moved, 'package/a/seg_1.m4s'));
  });

  it('redoes a task whose file changed (same size) only when something downstream needs it', async () => {
    const work = join(dir, 'corrupt');
    const rows = await firstRun(work);
    await writeFile(join(work, 'renditions/a.bin'), 'chunk 0-chunk 1');
    const first = await planReuse(buildGraph(work, []), rows, work);
    assert.deepEqual([...first.reused.keys()].sort(), ['encode-video-0', 'encode-video-1', 'package-a']);
    // package-a's files are intact, so the corrupt assembly is not needed.
    assert.deepEqual(first.notNeeded, ['assemble-a']);

    await rename(join(work, 'package/a/seg_1.m4s'), join(work, 'gone.m4s'));
    const ran: string[] = [];
    const dag = buildGraph(work, ran);
    const second = await planReuse(dag, rows, work);
    assert.deepEqual([...second.reused.keys()].sort(), ['encode-video-0', 'encode-video-1']);
    const { results } = await runDag(dag, { concurrency: 2, completed: second.completed });
    assert.deepEqual(ran, ['assemble-a', 'package-a', 'publish']);
    assert.equal(results.get('publish'), 'chunk 0+chunk 1');
  });

  it('re-runs a deleted file\'s task and its dependents, skipping chunks nobody needs', async () => {
    const work = join(dir, 'missing');
    const rows = await firstRun(work);
    await rename(join(work, 'package/a/seg_1.m4s'), join(work, 'gone.m4s'));
    await rename(join(work, 'chunks/1.bin'), join(work, 'gone.bin'));
    const ran: string[] = [];
    const dag = buildGraph(work, ran);
    const plan = await planReuse(dag, rows, work);
    assert.deepEqual([...plan.reused.keys()].sort(), ['assemble-a', 'encode-video-0']);
    assert.deepEqual(plan.notNeeded, ['encode-video-1']);
    await runDag(dag, { concurrency: 2, completed: plan.completed });
    assert.deepEqual(ran, ['package-a', 'publish']);
  });

  it('ignores outputs recorded in another format or pointing outside the work folder', async () => {
    const work = join(dir, 'hostile');
    const rows = await firstRun(work);
    const tampered = rows.map((row) => row.id === 'encode-video-0'
      ? { ...row, output: { ...(row.output as RecordedOutput), files: [{ path: '../intact-moved/chunks/0.bin', bytes: 7, sha256: 'x' }] } }
      : row.id === 'encode-video-1' ? { ...row, output: { ...(row.output as RecordedOutput), format: 0 } } : row);
    const plan = await planReuse(buildGraph(work, []), tampered as TaskRecord[], work);
    assert.equal(plan.reused.has('encode-video-0'), false);
    assert.equal(plan.reused.has('encode-video-1'), false);
  });

  it('derives the resume key from content, output-affecting settings and destination, not concurrency', () => {
    const settings: JobSettings = { ...DEFAULT_SETTINGS, preset: 'fast', concurrency: 2, audioSampleRate: 48000 };
    const plan = { kind: 'audio', segmentDurationSeconds: 6, durationSeconds: 10, audio: [] } as unknown as JobPlan;
    const base = { sha256: 'ab'.repeat(32), settings, plan, ffmpeg: 'ffmpeg', destination: '/out/talk' };
    const key = resumeKeyFor(base);
    assert.match(key, /^r[0-9a-f]{24}$/);
    assert.equal(resumeKeyFor({ ...base, settings: { ...settings, concurrency: 8 } }), key);
    assert.notEqual(resumeKeyFor({ ...base, settings: { ...settings, preset: 'slow' } }), key);
    assert.notEqual(resumeKeyFor({ ...base, destination: '/out/other' }), key);
    assert.notEqual(resumeKeyFor({ ...base, sha256: 'cd'.repeat(32) }), key);
    assert.notEqual(resumeKeyFor({ ...base, settings: { ...settings, thumbnails: false } }), key);
    // What changes no intermediate file leaves the key alone.
    assert.equal(resumeKeyFor({ ...base, settings: { ...settings, stallTimeoutSeconds: 5, sourceQuietSeconds: 0, metrics: true } }), key);
  });
});

describe('resume: work folder lock and clean-up', () => {
  it('refuses a folder held by a live process and takes over one left by a dead process', async () => {
    const work = join(dir, 'rlock');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      await mkdir(work, { recursive: true });
      await writeFile(join(work, 'vidpipe.lock'), JSON.stringify({ pid: sleeper.pid, host: hostname() }));
      await assert.rejects(claimWorkDir(work, false), (error: any) => error.code === 'BUSY' && error.exitCode === 1 && error.message.includes(String(sleeper.pid)));
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((resolve) => sleeper.once('exit', resolve));
    }
    await writeFile(join(work, 'kept.bin'), 'work');
    await claimWorkDir(work, false);
    assert.ok(existsSync(join(work, 'kept.bin')), 'kept for resume');
    assert.equal((await workDirOwner(work))?.pid, process.pid);
    await releaseWorkDir(work);
    await claimWorkDir(work, true);
    assert.equal(existsSync(join(work, 'kept.bin')), false, 'fresh start empties it');
  });

  it('stops processes a killed run left writing into its folder before taking it over', async () => {
    const work = join(dir, 'rorphan');
    await mkdir(work, { recursive: true });
    // Stands in for an orphaned ffmpeg: its arguments name a file in the work folder.
    const orphan = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', join(work, 'chunks', 'chunk_00000.mp4')], { stdio: 'ignore' });
    const exited = new Promise((resolve) => orphan.once('exit', (_code, signal) => resolve(signal)));
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await writeFile(join(work, 'vidpipe.lock'), JSON.stringify({ pid: 2 ** 22 + 1, host: hostname() }));
      await claimWorkDir(work, false);
      assert.equal(await exited, 'SIGKILL');
    } finally {
      orphan.kill('SIGKILL');
    }
  });

  it('sweeps work folders whose job succeeded, keeping unfinished and unknown ones', async () => {
    const root = join(dir, 'sweep');
    const db = await openMetadata(join(dir, 'sweep.db'));
    try {
      const done = `r${'1'.repeat(24)}`;
      const unfinished = `r${'2'.repeat(24)}`;
      const unknown = `r${'3'.repeat(24)}`;
      for (const name of [done, unfinished, unknown, 'jabc']) await mkdir(join(root, name), { recursive: true });
      await db.startJob(sampleStart('jdone'));
      await db.setResumeKey('jdone', done);
      await db.completeJob('jdone', sampleCompletion());
      await db.startJob(sampleStart('jopen'));
      await db.setResumeKey('jopen', unfinished);
      const removed = await sweepFinishedWorkDirs(root, db);
      assert.deepEqual(removed, [join(root, done)]);
      for (const name of [unfinished, unknown, 'jabc']) assert.ok(existsSync(join(root, name)), name);
      assert.equal((await db.jobsByResumeKey(unfinished))?.jobs[0]?.id, 'jopen');
      assert.equal(await db.jobsByResumeKey(unknown), null);
    } finally {
      await db.close();
    }
  });
});
