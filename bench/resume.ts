/**
 * Cost of a resume after kill -9 half-way, as a fraction of a full run (issue 7: target ≤ 55 %),
 * measured in the same run on the same source:
 *   (1) vidpipe transcode to completion                         → full wall time F
 *   (2) the same job to another destination, SIGKILLed once half of its chunk encodes have
 *       finished (read from the database, so it holds however loaded the machine is; the chunks
 *       still encoding at that moment are lost work, as in a real crash)
 *   (3) (2) run again with the same options: resumes from its work  → resume wall time R
 */
import { spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { measureCommand } from './measure.js';

export interface ResumeBenchOptions {
  source: string;
  work: string;
  vidpipe: string;
  preset: string;
  ladder: string;
  keep: boolean;
}

export interface ResumeResult {
  fullSeconds?: number;
  fullCpuSeconds?: number;
  killedAfterSeconds?: number;
  resumeSeconds?: number;
  resumeCpuSeconds?: number;
  /** resume ÷ full, wall. */
  ratio?: number;
  reusedTasks?: string[];
  totalTasks?: number;
  error?: string;
}

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

export async function benchResume(options: ResumeBenchOptions): Promise<ResumeResult> {
  const root = join(options.work, 'resume');
  await mkdir(root, { recursive: true });
  const dbFile = join(root, 'resume.db');
  const args = (out: string) => [
    options.vidpipe, 'transcode', options.source, '--out', join(root, out), '--name', 'bench', '--db', dbFile,
    '--work-dir', join(root, 'work'), '--ladder', options.ladder, '--preset', options.preset, '--quiet',
  ];
  try {
    const full = await measureCommand(process.execPath, args('full'));
    if (full.exitCode !== 0) return { error: `the full run failed (exit ${full.exitCode}): ${full.stderrTail.trim()}` };
    const killed = await killAtHalf(process.execPath, args('resumed'), dbFile);
    if (killed.signal !== 'SIGKILL') return { fullSeconds: full.wallSeconds, error: 'the run meant to be killed half-way finished first' };
    const resumed = await measureCommand(process.execPath, args('resumed'));
    if (resumed.exitCode !== 0) return { fullSeconds: full.wallSeconds, error: `the resumed run failed (exit ${resumed.exitCode}): ${resumed.stderrTail.trim()}` };
    const { reused, total } = taskCounts(dbFile);
    return {
      fullSeconds: full.wallSeconds,
      fullCpuSeconds: full.cpuSeconds,
      killedAfterSeconds: killed.seconds,
      resumeSeconds: resumed.wallSeconds,
      resumeCpuSeconds: resumed.cpuSeconds,
      ratio: resumed.wallSeconds / full.wallSeconds,
      reusedTasks: reused,
      totalTasks: total,
    };
  } finally {
    if (!options.keep) await rm(root, { recursive: true, force: true });
  }
}
