import type { DagEvent, DagNodeSummary } from './dag.js';
import type { VidpipeError } from '../errors.js';
import type { TranscodeResult } from './result.js';

/** What reporters (live task list, plain lines, JSON) observe. Stages never see these. */
export type JobEvent =
  | { type: 'job-start'; jobId: string; input: string; tasks: DagNodeSummary[] }
  | ({ jobId: string } & DagEvent)
  | { type: 'job-done'; jobId: string; result: TranscodeResult }
  /** A line worth a log entry while the job goes on (a download retried, and why). */
  | { type: 'job-note'; jobId: string; message: string }
  | { type: 'job-failed'; jobId: string; input: string; error: VidpipeError; result: TranscodeResult };

export type JobEventListener = (event: JobEvent) => void;
