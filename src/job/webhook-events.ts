/**
 * A job's webhook events (src/events/job-events.ts) as outbox entries, built from what its records
 * already hold. The JobRecorder (records.ts) writes each in the same transaction as the record it
 * reports (job.started with the job row, job.succeeded with the final metadata, job.failed with
 * the failure), so an event is never lost between the record and the process exiting, and never
 * sent about a record that was not written. Sending is src/events/webhook-delivery.ts's.
 */
import type { TranscodeResult } from '../core/result.js';
import type { FailJobInput, JobRecord, OutboxEntry, StartJobInput } from '../db/records.js';
import { jobEvent, messageBody, type JobEventDataOf, type JobEventType } from '../events/job-events.js';

/** The outbox entry of one event for the job's webhooks; none without webhooks. */
export function outboxEntries<T extends JobEventType>(webhooks: readonly string[], type: T, jobId: string, data: JobEventDataOf[T], at = new Date()): OutboxEntry[] {
  if (webhooks.length === 0) return [];
  const message = jobEvent(type, data, at);
  return [{ messageId: message.id, type, jobId, body: messageBody(message), urls: [...webhooks], createdAt: message.timestamp }];
}

/** job.started's data from the job's first record. */
export function startedData(start: Pick<StartJobInput, 'jobId' | 'video' | 'input' | 'output'>): JobEventDataOf['job.started'] {
  return {
    videoId: start.video.id,
    jobId: start.jobId,
    input: start.input,
    name: start.video.name,
    out: start.output,
    durationSeconds: start.video.durationSeconds ?? 0,
  };
}

/** job.succeeded's data from the job's result: where the entry manifests are, the renditions, the duration. */
export function succeededData(result: TranscodeResult): JobEventDataOf['job.succeeded'] {
  const manifests: Record<string, string> = {};
  if (result.outputs.hls) manifests.hls = result.outputs.hls;
  if (result.outputs.dash) manifests.dash = result.outputs.dash;
  if (result.outputs.hlsTs) manifests.hlsTs = result.outputs.hlsTs;
  return {
    videoId: result.id,
    jobId: result.jobId,
    input: result.input,
    manifests,
    renditions: result.renditions.map((r) => ({
      name: r.name,
      kind: r.kind,
      codec: r.codecs || r.codec,
      ...(r.width !== undefined ? { width: r.width } : {}),
      ...(r.height !== undefined ? { height: r.height } : {}),
      averageBitrate: r.averageBitrate,
    })),
    durationSeconds: result.durationSeconds ?? 0,
  };
}

/**
 * The failure of a job another process left running (killed), found and ended by a later job:
 * with job.failed for the webhooks its stored settings name.
 */
export function failedLater(job: JobRecord, failure: Omit<FailJobInput, 'events'>): FailJobInput {
  const webhooks = Array.isArray(job.options.webhooks) ? (job.options.webhooks as string[]) : [];
  return { ...failure, events: outboxEntries(webhooks, 'job.failed', job.id, failedData({ videoId: job.videoId, jobId: job.id, input: job.input }, failure.status, failure)) };
}

/** job.failed's data: the error's code and message. */
export function failedData(job: { videoId: string; jobId: string; input: string }, status: 'failed' | 'interrupted', error: { code: string; message: string }): JobEventDataOf['job.failed'] {
  return { ...job, status, error: { code: error.code, message: error.message } };
}
