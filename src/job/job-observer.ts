/**
 * What one job in this process sees of its graph's events, in one place: the reporters' events
 * (with the job's id), the task timeline and the time spent per kind (the package's report, the
 * `--json` timings), the chunk encodes still to run (their encoders share the idle cores), and,
 * once the job has its database, its rows (records.ts).
 */
import type { DagEvent, DagNodeSummary } from '../core/dag.js';
import type { JobEventListener } from '../core/events.js';
import type { TranscodeResult } from '../core/result.js';
import type { VidpipeError } from '../errors.js';
import { TaskTimeline, type TimelineTask } from '../core/package-summary.js';
import { ChunkEncodeTracker } from '../core/schedule.js';
import { node } from './nodes.js';
import type { JobRecorder } from './records.js';
import type { RecordedOutput } from './resume.js';
import { round3, spanSeconds } from './summary.js';

export class JobObserver {
  /** The job's chunk encodes not finished yet. */
  readonly encodes = new ChunkEncodeTracker(node.encodeVideo(0).kind);
  private readonly timeline = new TaskTimeline();
  private readonly spans: { kind: string; start: number; end: number }[] = [];
  private readonly running = new Map<string, { kind: string; start: number }>();
  /** Outputs of the tasks a resume reuses (or does not need), written to their rows as they are skipped. */
  private readonly skippedOutputs = new Map<string, RecordedOutput | { notNeeded: true }>();
  private recorder: JobRecorder | undefined;

  constructor(
    readonly jobId: string,
    private readonly emit: JobEventListener,
    /** A task's kind (the graph's), for the time spent per kind. */
    private readonly kindOf: (id: string) => string | undefined,
    private readonly startedAt = Date.now(),
  ) {}

  /** From now on the job's events are also its rows in the database. */
  recordWith(recorder: JobRecorder): void {
    this.recorder = recorder;
  }

  /** The job's rows, once it has its database. */
  get records(): JobRecorder | undefined {
    return this.recorder;
  }

  /** The job starts with these tasks (the graph grows later). */
  jobStarted(input: string, tasks: DagNodeSummary[]): void {
    this.timeline.declare(tasks);
    this.emit({ type: 'job-start', jobId: this.jobId, input, tasks });
    this.recorder?.observe({ type: 'job-start', jobId: this.jobId, input, tasks });
  }

  /** Every event of the job's graph (runDag's, or a queue runner's). */
  readonly observe = (event: DagEvent): void => {
    this.encodes.observe(event);
    this.emit({ jobId: this.jobId, ...event });
    this.timeline.observe(event);
    if (event.type === 'task-start') this.running.set(event.id, { kind: this.kindOf(event.id) ?? event.id, start: event.at });
    if (event.type === 'task-succeeded' || event.type === 'task-failed' || event.type === 'task-cancelled') {
      const started = this.running.get(event.id);
      if (started) this.spans.push({ kind: started.kind, start: started.start, end: event.at });
    }
    this.recorder?.observe(event);
    if (event.type !== 'task-skipped') return;
    const skipped = this.skippedOutputs.get(event.id);
    if (skipped) void this.recorder?.updateTask(event.id, { status: 'skipped', output: skipped });
  };

  /** A task's progress (throttled by the caller). */
  progress(id: string, fraction: number, etaSeconds?: number): void {
    this.emit({ jobId: this.jobId, type: 'task-progress', id, fraction, etaSeconds });
  }

  /** A line worth a log entry while the job goes on. */
  note(message: string): void {
    this.emit({ jobId: this.jobId, type: 'job-note', message });
  }

  /** A task a resume will report skipped: its row gets this output then. */
  willSkip(id: string, output: RecordedOutput | { notNeeded: true }): void {
    this.skippedOutputs.set(id, output);
  }

  /** The job ended with this result (succeeded, or queued for workers). */
  emitDone(result: TranscodeResult): void {
    this.emit({ type: 'job-done', jobId: this.jobId, result });
  }

  /** The job failed or was interrupted; its rows were written. */
  emitFailed(input: string, error: VidpipeError, result: TranscodeResult): void {
    this.emit({ type: 'job-failed', jobId: this.jobId, input, error, result });
  }

  /** Seconds spent per kind so far. */
  timings(): Record<string, number> {
    return spanSeconds(this.spans);
  }

  /** Seconds spent per kind, and the job's total until now. */
  finalTimings(): Record<string, number> {
    return { ...this.timings(), total: round3((Date.now() - this.startedAt) / 1000) };
  }

  /** The task timeline (the package's report). */
  tasks(): TimelineTask[] {
    return this.timeline.entries();
  }
}
