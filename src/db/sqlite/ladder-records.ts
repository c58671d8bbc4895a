/**
 * The ladder of a finished job in SQLite (migration 4, in ../migrations.ts): one `ladders` row per job (fixed or auto,
 * the metric and target, the analysis's probe points as JSON) and one `ladder_rungs` row per rung,
 * packaged or dropped, with its predicted and measured rate and quality. Read back as the
 * LadderReport the job's result holds. Jobs recorded before migration 4 have no ladder (null).
 */
import type Database from 'better-sqlite3';
import type { LadderProbe, LadderReport, LadderRung, RungQuality } from '../../core/result.js';


interface LadderRow {
  method: 'fixed' | 'auto';
  metric: 'psnr' | 'vmaf' | null;
  target: number | null;
  analysis_seconds: number | null;
  sampled_fraction: number | null;
  probes: string | null;
}

interface RungRow {
  name: string;
  codec: string;
  size: number;
  status: LadderRung['status'];
  mode: LadderRung['mode'];
  crf: number | null;
  target_kbps: number;
  predicted_kbps: number | null;
  predicted_psnr: number | null;
  predicted_ssim: number | null;
  predicted_vmaf: number | null;
  measured_peak_kbps: number | null;
  measured_average_kbps: number | null;
  measured_psnr: number | null;
  measured_ssim: number | null;
  measured_vmaf: number | null;
  reason: string | null;
}

const orNull = <T>(value: T | undefined): T | null => (value === undefined ? null : value);

/** Writes (or replaces) a job's ladder; call inside the job's completing transaction. */
export function writeLadder(db: Database.Database, jobId: string, ladder: LadderReport): void {
  db.prepare('DELETE FROM ladder_rungs WHERE job_id = ?').run(jobId);
  db.prepare(`INSERT OR REPLACE INTO ladders (job_id, method, metric, target, analysis_seconds, sampled_fraction, probes)
    VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
    jobId, ladder.method, orNull(ladder.metric), orNull(ladder.target), orNull(ladder.analysisSeconds), orNull(ladder.sampledFraction),
    ladder.probes ? JSON.stringify(ladder.probes) : null,
  );
  const insert = db.prepare(`INSERT INTO ladder_rungs (job_id, name, codec, size, status, mode, crf, target_kbps,
    predicted_kbps, predicted_psnr, predicted_ssim, predicted_vmaf, measured_peak_kbps, measured_average_kbps,
    measured_psnr, measured_ssim, measured_vmaf, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const r of ladder.rungs) {
    insert.run(
      jobId, r.name, r.codec, r.size, r.status, r.mode, orNull(r.crf), r.targetKbps,
      orNull(r.predicted?.kbps), orNull(r.predicted?.psnr), orNull(r.predicted?.ssim), orNull(r.predicted?.vmaf),
      orNull(r.measured?.peakKbps), orNull(r.measured?.averageKbps),
      orNull(r.measured?.quality?.psnr), orNull(r.measured?.quality?.ssim), orNull(r.measured?.quality?.vmaf),
      orNull(r.reason),
    );
  }
}

function qualityOf(psnr: number | null, ssim: number | null, vmaf: number | null): RungQuality | undefined {
  if (psnr === null || ssim === null) return undefined;
  return { psnr, ssim, ...(vmaf === null ? {} : { vmaf }) };
}

function rungOf(row: RungRow): LadderRung {
  const predicted = qualityOf(row.predicted_psnr, row.predicted_ssim, row.predicted_vmaf);
  const measuredQuality = qualityOf(row.measured_psnr, row.measured_ssim, row.measured_vmaf);
  return {
    name: row.name,
    codec: row.codec,
    size: row.size,
    status: row.status,
    mode: row.mode,
    ...(row.crf === null ? {} : { crf: row.crf }),
    targetKbps: row.target_kbps,
    ...(predicted && row.predicted_kbps !== null ? { predicted: { kbps: row.predicted_kbps, ...predicted } } : {}),
    ...(row.measured_peak_kbps !== null && row.measured_average_kbps !== null
      ? { measured: { peakKbps: row.measured_peak_kbps, averageKbps: row.measured_average_kbps, ...(measuredQuality ? { quality: measuredQuality } : {}) } }
      : {}),
    ...(row.reason === null ? {} : { reason: row.reason }),
  };
}

/** A job's ladder, or null for a job without one (audio, failed, or recorded before migration 4). */
export function readLadder(db: Database.Database, jobId: string): LadderReport | null {
  const row = db.prepare('SELECT * FROM ladders WHERE job_id = ?').get(jobId) as LadderRow | undefined;
  if (!row) return null;
  const rungs = (db.prepare('SELECT * FROM ladder_rungs WHERE job_id = ? ORDER BY codec, size DESC, target_kbps DESC').all(jobId) as RungRow[]).map(rungOf);
  return {
    method: row.method,
    ...(row.metric === null ? {} : { metric: row.metric }),
    ...(row.target === null ? {} : { target: row.target }),
    ...(row.analysis_seconds === null ? {} : { analysisSeconds: row.analysis_seconds }),
    ...(row.sampled_fraction === null ? {} : { sampledFraction: row.sampled_fraction }),
    rungs,
    ...(row.probes === null ? {} : { probes: JSON.parse(row.probes) as LadderProbe[] }),
  };
}
