import { withMetadata } from '../db/engines.js';
import { VidpipeError } from '../errors.js';
import { reportFromDatabase, type ReportData } from './model.js';

/** The report of a video's published job (or, when none succeeded, of its latest job). */
export async function loadReport(dbPath: string, id: string): Promise<ReportData> {
  return withMetadata(dbPath, async (db) => {
    const details = await db.getVideo(id);
    const job = details.readyJob ?? details.latestJob;
    if (!job) throw new VidpipeError('NOT_FOUND', `video ${details.video.id} has no job`);
    const { tasks, renditions, ladder } = await db.getJob(job.id);
    return reportFromDatabase(details.video, job, renditions, tasks, ladder);
  });
}
