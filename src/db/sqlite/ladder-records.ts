/**
 * The ladder of a finished job in SQLite (migration 4, in ../migrations.ts): one `ladders` row per job (fixed or auto,
 * the metric and target, the analysis's probe points as JSON) and one `ladder_rungs` row per rung,
 * packaged or dropped, with its predicted and measured rate and quality. Read back as the
 * LadderReport the job's result holds. Jobs recorded before migration 4 have no ladder (null).
 */
import type Database from 'better-sqlite3';
import type { LadderReport } from '../../core/result.js';
import { ladderValues, rungValues, toLadderReport, type LadderRow, type RungRow } from '../rows.js';

/** Writes (or replaces) a job's ladder; call inside the job's completing transaction. */
export function writeLadder(db: Database.Database, jobId: string, ladder: LadderReport): void {
  db.prepare('DELETE FROM ladder_rungs WHERE job_id = ?').run(jobId);
  db.prepare(`INSERT OR REPLACE INTO ladders (job_id, method, metric, target, analysis_seconds, sampled_fraction, probes)
    VALUES (?, ?, ?, ?, ?, ?, ?)`).run(jobId, ...ladderValues(ladder));
  const insert = db.prepare(`INSERT INTO ladder_rungs (job_id, name, codec, size, status, mode, crf, target_kbps,
    predicted_kbps, predicted_psnr, predicted_ssim, predicted_vmaf, measured_peak_kbps, measured_average_kbps,
    measured_psnr, measured_ssim, measured_vmaf, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const r of ladder.rungs) {
    insert.run(jobId, ...rungValues(r));
  }
}

/** A job's ladder, or null for a job without one (audio, failed, or recorded before migration 4). */
export function readLadder(db: Database.Database, jobId: string): LadderReport | null {
  const row = db.prepare('SELECT * FROM ladders WHERE job_id = ?').get(jobId) as LadderRow | undefined;
  if (!row) return null;
  const rungs = db.prepare('SELECT * FROM ladder_rungs WHERE job_id = ? ORDER BY codec, size DESC, target_kbps DESC').all(jobId) as RungRow[];
  return toLadderReport(row, rungs);
}
