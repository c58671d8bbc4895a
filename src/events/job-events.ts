/**
 * The events vidpipe sends about a job (docs/events.md): `job.started` once its input is
 * identified and planned, then `job.succeeded` or `job.failed`. Each is one Standard Webhooks
 * message `{ type, timestamp, data }` with an id of its own (`msg_…`), the `webhook-id` of every
 * attempt to send it.
 */
import { randomBytes } from 'node:crypto';

export type JobEventType = 'job.started' | 'job.succeeded' | 'job.failed';
export const JOB_EVENT_TYPES: readonly JobEventType[] = ['job.started', 'job.succeeded', 'job.failed'];

interface JobRef {
  videoId: string;
  jobId: string;
  /** The source as given (a path, s3:// or http(s):// URI). */
  input: string;
}

export interface JobStartedData extends JobRef {
  /** The package's name (its folder below the destination). */
  name: string;
  /** Where the package goes (local folder or s3:// prefix). */
  out: string;
  durationSeconds: number;
}

export interface EventRendition {
  name: string;
  kind: string;
  codec: string;
  width?: number;
  height?: number;
  averageBitrate?: number;
}

export interface JobSucceededData extends JobRef {
  /** The entry manifests' locations: `hls` (master.m3u8), `dash` (manifest.mpd), `hlsTs` when made. */
  manifests: Record<string, string>;
  renditions: EventRendition[];
  durationSeconds: number;
}

export interface JobFailedData extends JobRef {
  /** 'interrupted' when the job was stopped (a signal), else 'failed'. */
  status: 'failed' | 'interrupted';
  error: { code: string; message: string };
}

export interface JobEventDataOf {
  'job.started': JobStartedData;
  'job.succeeded': JobSucceededData;
  'job.failed': JobFailedData;
}

/** One message: what is sent as the request body, and kept in the outbox until delivered. */
export interface WebhookMessage<T extends JobEventType = JobEventType> {
  id: string;
  type: T;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  data: JobEventDataOf[T];
}

/** `msg_` and 24 random hex digits: unique per event, kept on every retry. */
export function newMessageId(): string {
  return `msg_${randomBytes(12).toString('hex')}`;
}

export function jobEvent<T extends JobEventType>(type: T, data: JobEventDataOf[T], at = new Date()): WebhookMessage<T> {
  return { id: newMessageId(), type, timestamp: at.toISOString(), data };
}

/** The request body: the message without its id (that is the `webhook-id` header). */
export function messageBody(message: WebhookMessage): string {
  return JSON.stringify({ type: message.type, timestamp: message.timestamp, data: message.data });
}
