import type { JobEvent } from '../../core/events.js';
import { JobProgress, STAGE_ROWS, formatMinutesSeconds } from './progress-model.js';

/** The rows whose progress the periodic line states (the encodes take most of a job). */
const ENCODE_KINDS = STAGE_ROWS.filter((row) => row.title.startsWith('Encode')).flatMap((row) => row.kinds);
import type { Reporter } from './reporter.js';
import { printable } from '../io.js';

/**
 * Progress as plain lines for logs and CI: a line when a stage starts and ends, and an
 * overall percentage at most every `intervalMs` while encoding.
 */
export class PlainReporter implements Reporter {
  private readonly jobs = new Map<string, { progress: JobProgress; label: string; rowsDone: Set<string>; rowsStarted: Set<string>; lastLine: number }>();

  private readonly write: (line: string) => void;

  constructor(
    write: (line: string) => void,
    private readonly intervalMs = 5000,
  ) {
    // Each line names the input and may carry an error message: escaped whole, as one line.
    this.write = (line) => write(printable(line));
  }

  onEvent(event: JobEvent): void {
    let job = this.jobs.get(event.jobId);
    if (event.type === 'job-start' && !job) {
      job = { progress: new JobProgress(), label: event.input, rowsDone: new Set(), rowsStarted: new Set(), lastLine: Date.now() };
      this.jobs.set(event.jobId, job);
      this.write(`vidpipe: ${event.input}: started (job ${event.jobId})`);
    }
    if (!job) return;
    job.progress.apply(event);
    if (event.type === 'job-done') {
      this.write(`vidpipe: ${job.label}: done in ${formatMinutesSeconds(event.result.timings.total)} → ${event.result.outputs.hls ?? event.result.outputs.root ?? ''}`);
      return;
    }
    if (event.type === 'job-failed') {
      this.write(`vidpipe: ${job.label}: ${event.result.status} — ${event.error.message}`);
      return;
    }
    if (event.type === 'job-note') {
      this.write(`vidpipe: ${job.label}: ${event.message}`);
      return;
    }
    for (const row of STAGE_ROWS) {
      const state = job.progress.row(row.kinds);
      if (state.total === 0) continue;
      if ((state.running > 0 || state.done > 0) && !job.rowsStarted.has(row.title)) {
        job.rowsStarted.add(row.title);
        if (state.total > 1 || row.title === 'Encode video') this.write(`vidpipe: ${job.label}: ${row.title}: started (${state.total} task${state.total > 1 ? 's' : ''})`);
      }
      if (state.done === state.total && !job.rowsDone.has(row.title)) {
        job.rowsDone.add(row.title);
        this.write(`vidpipe: ${job.label}: ${row.title}: done`);
      }
    }
    if (event.type === 'task-progress' && Date.now() - job.lastLine >= this.intervalMs) {
      job.lastLine = Date.now();
      const encode = job.progress.row(ENCODE_KINDS);
      this.write(`vidpipe: ${job.label}: ${Math.round(job.progress.overall() * 100)}% (encode ${Math.round(encode.fraction * 100)}%, ETA ${formatMinutesSeconds(encode.etaSeconds)})`);
    }
  }

  async close(): Promise<void> {}
}
