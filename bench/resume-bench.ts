/**
 * Cost of a resume after kill -9 at 50 %, as a fraction of a full run (issue 7: target ≤ 55 %),
 * measured in the same run on the same source:
 *   (r1) vidpipe transcode to completion                         → full wall time F
 *   (r2) the same job to another destination, SIGKILLed once half of its chunk encodes have
 *        finished (read from the database, so it holds however loaded the machine is; the chunks
 *        still encoding at that moment are lost work, as in a real crash)
 *   (r3) r2 re-run with the same options: resumes from r2's work  → resume wall time R
 * Prints F, R, R / F and which tasks r3 reused. `npm run bench` calls benchResume() after its own
 * table; `node dist/bench/resume-bench.js <source>` runs this part alone.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { measureCommand } from './process-monitor.js';

export interface ResumeBenchOptions {
  source: string;
  /** Scratch folder (created if needed). */
  work: string;
  /** Path of bin/vidpipe. */
  vidpipe: string;
  preset: string;
}

/** Resume must cost at most this fraction of a full run. */
const TARGET = 0.55;

/** Fraction of the newest job's chunk encodes that finished, 0 while there is no such job yet. */
function chunksDone(dbFile: string, since: string): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(dbFile, { readonly: true, fileMustExist: true });
    const row = db.prepare(`SELECT count(*) AS total, sum(t.status = 'succeeded') AS done FROM tasks t JOIN jobs j ON j.id = t.job_id
      WHERE t.kind = 'encode-video' AND j.started_at > ? AND j.id = (SELECT id FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT 1)`).get(since) as { total: number; done: number | null };
    return row.total > 0 ? (row.done ?? 0) / row.total : 0;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

/** Runs the job and SIGKILLs it once half of its chunks are encoded; returns the signal and when. */
function killAtHalf(command: string, args: string[], dbFile: string): Promise<{ signal: NodeJS.Signals | null; seconds: number }> {
  return new Promise((resolvePromise, reject) => {
    const started = Date.now();
    const since = new Date(started).toISOString();
    const child = spawn(command, args, { stdio: 'ignore' });
    const timer = setInterval(() => {
      if (chunksDone(dbFile, since) >= 0.5) child.kill('SIGKILL');
    }, 100);
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearInterval(timer);
      resolvePromise({ signal, seconds: (Date.now() - started) / 1000 });
    });
  });
}

function taskCounts(dbFile: string): { reused: string[]; total: number } {
  const db = new Database(dbFile, { readonly: true });
  try {
    const job = db.prepare('SELECT id FROM jobs ORDER BY started_at DESC, rowid DESC LIMIT 1').pluck().get() as string;
    const rows = db.prepare('SELECT id, status, output FROM tasks WHERE job_id = ?').all(job) as { id: string; status: string; output: string | null }[];
    const reused = rows.filter((r) => r.status === 'skipped' && r.output !== null && 'reusedFrom' in (JSON.parse(r.output) as object)).map((r) => r.id);
    return { reused, total: rows.length };
  } finally {
    db.close();
  }
}

/** Returns the lines of the report section; never throws for a slow or failed run, it says so. */
export async function benchResume(options: ResumeBenchOptions): Promise<string[]> {
  const root = join(options.work, 'resume');
  await mkdir(root, { recursive: true });
  const dbFile = join(root, 'resume.db');
  const args = (out: string) => [
    options.vidpipe, 'transcode', options.source, '--out', join(root, out), '--name', 'bench', '--db', dbFile,
    '--work-dir', join(root, 'work'), '--preset', options.preset, '--quiet',
  ];
  const full = await measureCommand(process.execPath, args('full'));
  const killed = await killAtHalf(process.execPath, args('resumed'), dbFile);
  const resumed = await measureCommand(process.execPath, args('resumed'));
  const lines = ['resume after kill -9 once half the chunks are encoded (same source and options)', `  full run                 ${full.wallSeconds.toFixed(1).padStart(7)} s wall ${full.cpuSeconds.toFixed(1).padStart(8)} s CPU`];
  if (full.exitCode !== 0 || resumed.exitCode !== 0) return [...lines, `  a run failed (exit ${full.exitCode} / ${resumed.exitCode}): no result`];
  if (killed.signal !== 'SIGKILL') return [...lines, '  the run meant to be killed at 50 % finished first: no result'];
  lines.push(`  killed after              ${killed.seconds.toFixed(1).padStart(6)} s (${((killed.seconds / full.wallSeconds) * 100).toFixed(0)} % of the full run's wall time)`);
  const { reused, total } = taskCounts(dbFile);
  const ratio = resumed.wallSeconds / full.wallSeconds;
  return [
    ...lines,
    `  resume                   ${resumed.wallSeconds.toFixed(1).padStart(7)} s wall ${resumed.cpuSeconds.toFixed(1).padStart(8)} s CPU`,
    `  resume / full            ${(ratio * 100).toFixed(0).padStart(6)} %  (target ≤ ${Math.round(TARGET * 100)} %: ${ratio <= TARGET ? 'met' : 'NOT met'}; CPU ${((resumed.cpuSeconds / full.cpuSeconds) * 100).toFixed(0)} %)`,
    `  reused ${reused.length} of ${total} tasks: ${reused.join(', ') || 'none'}`,
  ];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const source = process.argv[2];
  if (!source) {
    process.stderr.write('usage: node dist/bench/resume-bench.js <source video> [preset]\n');
    process.exit(2);
  }
  const vidpipe = resolve(fileURLToPath(new URL('../../bin/vidpipe', import.meta.url)));
  const work = join(process.env.TMPDIR ?? '/tmp', `vidpipe-resume-bench-${process.pid}`);
  try {
    const lines = await benchResume({ source: resolve(source), work, vidpipe, preset: process.argv[3] ?? 'veryfast' });
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
