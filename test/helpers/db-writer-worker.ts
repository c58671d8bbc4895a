import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from '../../src/db/database.js';
import { sampleCompletion, sampleStart } from './db-fixtures.js';

/**
 * Runs in a worker thread: opens its own connection to a shared database file and writes
 * many complete job lifecycles as fast as it can, so two of these contend for the lock.
 * Reports { ok: true } or the error's code and message to the parent.
 */
export interface WriterTask {
  file: string;
  writer: string;
  jobs: number;
}

function writeJobs({ file, writer, jobs }: WriterTask): void {
  const db = openDatabase(file, { worker: writer });
  try {
    for (let index = 0; index < jobs; index++) {
      const jobId = `${writer}-job-${index}`;
      const videoId = `v-${writer}-${index % 4}`;
      db.startJob(sampleStart(jobId, videoId));
      db.updateTask(jobId, 'probe', { status: 'running', worker: writer });
      db.updateTask(jobId, 'probe', { status: 'succeeded' });
      db.listVideos({ limit: 5 });
      db.completeJob(jobId, sampleCompletion(videoId));
    }
  } finally {
    db.close();
  }
}

// node --test also loads every .js file under a test/ folder: do nothing outside a worker.
if (!isMainThread && parentPort) {
  try {
    writeJobs(workerData as WriterTask);
    parentPort.postMessage({ ok: true });
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    parentPort.postMessage({ ok: false, code, message, cause: String((error as Error).cause ?? '') });
  }
}
