import type { VidpipeDb } from '../db/database.js';
import { dbFailed } from '../db/db-error.js';
import type { QualityMetrics } from '../core/result.js';

/**
 * Metrics measured after the job (`vidpipe metrics`) are merged into the published job's
 * renditions.properties JSON under "quality", leaving the other properties as they are.
 * Returns the names of the renditions updated.
 */
export function saveQuality(db: VidpipeDb, jobId: string, metrics: Record<string, QualityMetrics>): string[] {
  const update = db.sqlite.prepare<[string, string, string]>(
    "UPDATE renditions SET properties = json_set(properties, '$.quality', json(?)) WHERE job_id = ? AND name = ?",
  );
  try {
    return db.sqlite.transaction(() =>
      Object.entries(metrics)
        .filter(([name, quality]) => update.run(JSON.stringify(quality), jobId, name).changes > 0)
        .map(([name]) => name),
    ).immediate();
  } catch (error) {
    throw dbFailed(`store quality metrics of job ${jobId}`, error);
  }
}
