import { Listr, ListrLogger, ProcessOutput, type ListrTask } from 'listr2';
import type { JobEvent } from '../../core/events.js';
import { JobProgress, STAGE_ROWS, formatMinutesSeconds } from './progress-model.js';
import type { Reporter } from './reporter.js';
import { printable } from '../io.js';

interface LiveJob {
  progress: JobProgress;
  changed: () => void;
  waiters: Set<() => void>;
  finished: boolean;
  /** The latest note (a download retried), shown on the row of the probe until it is done. */
  note?: string;
  run: Promise<void>;
}

/**
 * The live task list on a terminal (listr2, drawn on stderr so stdout stays clean for
 * results). It only mirrors job events: each row waits for its stage's nodes to finish.
 * listr2's own signal handlers are off: the CLI handles Ctrl-C so ffmpeg children are
 * killed and the job is marked interrupted.
 */
export class ListrReporter implements Reporter {
  private readonly jobs = new Map<string, LiveJob>();

  onEvent(event: JobEvent): void {
    let job = this.jobs.get(event.jobId);
    if (event.type === 'job-start' && !job) {
      job = this.startJob(event.input);
      this.jobs.set(event.jobId, job);
    }
    if (!job) return;
    job.progress.apply(event);
    if (event.type === 'job-done' || event.type === 'job-failed') job.finished = true;
    if (event.type === 'job-note') job.note = printable(event.message);
    job.changed();
  }

  private startJob(input: string): LiveJob {
    const job: LiveJob = {
      progress: new JobProgress(),
      waiters: new Set(),
      finished: false,
      changed: () => {
        for (const wake of [...job.waiters]) wake();
      },
      run: Promise.resolve(),
    };
    const nextChange = () => new Promise<void>((resolve) => {
      const wake = () => {
        job.waiters.delete(wake);
        resolve();
      };
      job.waiters.add(wake);
      setTimeout(wake, 500).unref();
    });

    const rows: ListrTask[] = STAGE_ROWS.map((row) => ({
      title: row.title,
      task: async (_ctx, task) => {
        for (;;) {
          const state = job.progress.row(row.kinds);
          const knownEmpty = (job.progress.planned || job.finished) && state.total === 0;
          if (knownEmpty) {
            task.skip(`${row.title}: not needed`);
            return;
          }
          if (state.failed > 0) throw new Error(`${row.title} failed`);
          if (state.total > 0 && state.done === state.total) {
            task.title = `${row.title}${state.total > 1 ? ` (${state.total})` : ''}`;
            return;
          }
          if (job.finished) {
            task.skip(`${row.title}: cancelled`);
            return;
          }
          const counts = state.total > 1 ? ` ${state.done}/${state.total}` : '';
          const detail = state.running > 0 || state.done > 0 ? ` ${Math.round(state.fraction * 100)}%${state.etaSeconds !== undefined ? `, ETA ${formatMinutesSeconds(state.etaSeconds)}` : ''}` : ' — waiting';
          const note = job.note !== undefined && row.kinds.includes('probe') ? ` — ${job.note}` : '';
          task.title = `${row.title}${counts}${detail}${note}`;
          await nextChange();
        }
      },
    }));
    // listr2 draws straight onto the terminal: the input's name is the one title not vidpipe's own.
    const list = new Listr([{ title: printable(input), task: (_ctx, task) => task.newListr(rows, { concurrent: true, exitOnError: false }) }], {
      renderer: 'default',
      registerSignalListeners: false,
      exitOnError: false,
      collectErrors: false,
      rendererOptions: { logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }), collapseSubtasks: false, showErrorMessage: false },
    });
    job.run = list.run().then(
      () => undefined,
      () => undefined,
    );
    return job;
  }

  async close(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.run));
  }
}
