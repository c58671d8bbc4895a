import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { defaultDatabasePath } from '../../db/location.js';
import { previewJob, runJob, type JobRequest } from '../../job/run-job.js';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, VidpipeError } from '../../errors.js';
import type { TranscodeResult } from '../../core/result.js';
import type { JobSettings, TranscodeFlags } from '../../settings/job-settings.js';
import type { GlobalOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';
import { chooseProgressMode, type Reporter } from '../reporters/reporter.js';
import { ListrReporter } from '../reporters/listr-reporter.js';
import { PlainReporter } from '../reporters/plain-reporter.js';
import { installInterruptHandler } from '../signals.js';
import { formatPlan, formatResult } from './transcode-format.js';
import { WEBHOOK_EXIT_BUDGET_MS, startWebhookSender } from '../webhook-sender.js';
import { printable } from '../io.js';

export function createReporter(global: GlobalOptions, io: CliIO): Reporter | undefined {
  const mode = chooseProgressMode(global, { isTTY: io.stderrIsTTY, columns: process.stderr.columns }, io.env);
  if (mode === 'tty') return new ListrReporter();
  if (mode === 'plain') return new PlainReporter((line) => io.stderr(line));
  return undefined;
}

/** Exit status of a batch: interrupted wins, then processing failures, then bad inputs. */
export function batchExitCode(results: TranscodeResult[]): number {
  if (results.some((r) => r.status === 'interrupted')) return EXIT_INTERRUPTED;
  const failed = results.filter((r) => r.status === 'failed');
  if (failed.length === 0) return EXIT_OK;
  const badInput = (r: TranscodeResult) => ['INPUT_INVALID', 'INPUT_NOT_FOUND', 'USAGE'].includes(r.error?.code ?? '');
  return failed.every(badInput) ? EXIT_USAGE : EXIT_FAILURE;
}

/** What `vidpipe transcode` (and `watch`) got from its option table. */
export interface TranscodeOptions {
  settings: JobSettings;
  flags: TranscodeFlags;
}

export async function runTranscode(inputs: string[], options: TranscodeOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  const { flags } = options;
  if (inputs.length === 0) throw new VidpipeError('USAGE', 'no input given: vidpipe transcode <file|s3://bucket/key> [more…]');
  if (flags.name && inputs.length > 1) throw new VidpipeError('USAGE', '--name applies to a single input');
  // The queue's modules (BullMQ, ioredis) are loaded only for --queue: a local run never needs them.
  if (flags.queue) (await import('../../queue/submit.js')).assertQueueable(inputs, flags.out);
  const base = await transcodeBase(options, global, io);
  // Before any input is downloaded and probed: the queue is useless without it.
  if (flags.queue && !flags.plan) await (await import('../../queue/connection.js')).assertRedisReachable(flags.queue);

  if (flags.plan) {
    for (const input of inputs) {
      const view = await previewJob({ ...base, input });
      io.stdout(global.json ? JSON.stringify({ input, kind: view.plan.kind, plan: view.plan, tasks: view.tasks }) : formatPlan(view));
    }
    return EXIT_OK;
  }

  // Before any work: webhooks without a usable secret are a usage error.
  const webhooks = await startWebhookSender(base.dbPath, options.settings.webhookSecret, {
    required: options.settings.webhooks.length > 0,
    log: (line) => io.stderr(`vidpipe: ${printable(line)}`),
  });
  const controller = new AbortController();
  const uninstall = installInterruptHandler(() => controller.abort(), io.stderr);
  const reporter = flags.detach ? undefined : createReporter(global, io);
  const results: TranscodeResult[] = [];
  try {
    for (const input of inputs) {
      if (controller.signal.aborted) break;
      const result = await runJob({ ...base, input, signal: controller.signal, onEvent: (e) => reporter?.onEvent(e) });
      results.push(result);
    }
  } finally {
    await reporter?.close();
    uninstall();
    // The events are in the outbox already: this only decides how soon they arrive.
    await webhooks?.stop(WEBHOOK_EXIT_BUDGET_MS);
  }
  for (const result of results) {
    if (global.json) io.stdout(JSON.stringify(result));
    else if (result.status === 'queued') io.stdout(result.jobId);
    else if (result.status === 'succeeded') io.stdout(formatResult(result));
    else io.stderr(formatResult(result));
  }
  return batchExitCode(results);
}

/** Everything of a request that comes from the flags (shared by `transcode` and `watch`). */
export async function transcodeBase({ settings, flags }: TranscodeOptions, global: GlobalOptions, io: CliIO): Promise<Omit<JobRequest, 'input'>> {
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  return {
    out: flags.out,
    name: flags.name,
    settings,
    binaries,
    dbPath: global.db ?? defaultDatabasePath(io.env),
    storage: { s3: { endpoint: flags.s3Endpoint, region: flags.s3Region, timeoutSeconds: flags.s3TimeoutSeconds } },
    tags: flags.tags,
    workRoot: flags.workDir,
    force: flags.force,
    runner: await queueRunnerFor(settings, flags),
  };
}

async function queueRunnerFor(settings: JobSettings, flags: TranscodeFlags): Promise<JobRequest['runner']> {
  if (flags.detach && !flags.queue) throw new VidpipeError('USAGE', '--detach applies to --queue only');
  if (!flags.queue) return undefined;
  // Workers on other machines cannot read a file on this one.
  if (settings.subtitles.length > 0) throw new VidpipeError('USAGE', '--subtitles reads local files, which queue workers cannot reach; drop it or run without --queue');
  const { queueRunner } = await import('../../queue/submit.js');
  return queueRunner({ redisUrl: flags.queue, detach: flags.detach });
}
