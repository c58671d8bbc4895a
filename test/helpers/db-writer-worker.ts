import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openMetadata } from '../../src/db/engines.js';
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

async function writeJobs({ file, writer, jobs }: WriterTask): Promise<void> {
  const db = await openMetadata(file, { worker: writer });
  try {
    for (let index = 0; index < jobs; index++) {
      const jobId = `${writer}-job-${index}`;
      const videoId = `v-${writer}-${index % 4}`;
      await db.startJob(sampleStart(jobId, videoId));
      await db.updateTask(jobId, 'probe', { status: 'running', worker: writer });
      await db.updateTask(jobId, 'probe', { status: 'succeeded' });
      await db.listVideos({ limit: 5 });
      await db.completeJob(jobId, sampleCompletion(videoId));
    }
  } finally {
    await db.close();
  }
}

// node --test also loads every .js file under a test/ folder: do nothing outside a worker.
if (!isMainThread && parentPort) {
  const port = parentPort;
  writeJobs(workerData as WriterTask).then(
    () => port.postMessage({ ok: true }),
    (error: unknown) => {
      const { code, message } = error as { code?: string; message?: string };
      port.postMessage({ ok: false, code, message, cause: String((error as Error).cause ?? '') });
    },
  );
}
