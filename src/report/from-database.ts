import { withDatabase } from '../db/database.js';
import { VidpipeError } from '../errors.js';
import { reportFromDatabase, type ReportData } from './model.js';

/** The report of a video's published job (or, when none succeeded, of its latest job). */
export function loadReport(dbPath: string, id: string): ReportData {
  return withDatabase(dbPath, (db) => {
    const details = db.getVideo(id);
    const job = details.readyJob ?? details.latestJob;
    if (!job) throw new VidpipeError('NOT_FOUND', `video ${details.video.id} has no job`);
    const { tasks, renditions, ladder } = db.getJob(job.id);
    return reportFromDatabase(details.video, job, renditions, tasks, ladder);
  });
}
