import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { defaultDatabasePath } from '../../db/database.js';
import { planTranscode, transcode, type TranscodeRequest } from '../../core/transcode.js';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, VidpipeError } from '../../errors.js';
import type { TranscodeResult } from '../../core/result.js';
import { positiveNumber, toTranscodeSettings, parseTags, type RawTranscodeOptions } from '../options.js';
import type { GlobalOptions } from '../program.js';
import type { CliIO } from '../io.js';
import { chooseProgressMode, type Reporter } from '../reporters/reporter.js';
import { ListrReporter } from '../reporters/listr-reporter.js';
import { PlainReporter } from '../reporters/plain-reporter.js';
import { installInterruptHandler } from '../signals.js';
import { formatPlan, formatResult } from './transcode-format.js';
import { assertQueueable, queueRunner } from '../../queue/submit.js';
import { assertRedisReachable } from '../../queue/connection.js';

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

export async function runTranscode(inputs: string[], raw: RawTranscodeOptions, global: GlobalOptions, io: CliIO): Promise<number> {
  if (inputs.length === 0) throw new VidpipeError('USAGE', 'no input given: vidpipe transcode <file|s3://bucket/key> [more…]');
  if (raw.name && inputs.length > 1) throw new VidpipeError('USAGE', '--name applies to a single input');
  if (raw.queue) assertQueueable(inputs, raw.out);
  const base = await transcodeBase(raw, global, io);
  // Before any input is downloaded and probed: the queue is useless without it.
  if (raw.queue && !raw.plan) await assertRedisReachable(raw.queue);

  if (raw.plan) {
    for (const input of inputs) {
      const view = await planTranscode({ ...base, input });
      io.stdout(global.json ? JSON.stringify({ input, kind: view.plan.kind, plan: view.plan, tasks: view.tasks }) : formatPlan(view));
    }
    return EXIT_OK;
  }

  const controller = new AbortController();
  const uninstall = installInterruptHandler(() => controller.abort(), io.stderr);
  const reporter = raw.detach ? undefined : createReporter(global, io);
  const results: TranscodeResult[] = [];
  try {
    for (const input of inputs) {
      if (controller.signal.aborted) break;
      const result = await transcode({ ...base, input, signal: controller.signal, onEvent: (e) => reporter?.onEvent(e) });
      results.push(result);
    }
  } finally {
    await reporter?.close();
    uninstall();
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
export async function transcodeBase(raw: RawTranscodeOptions, global: GlobalOptions, io: CliIO): Promise<Omit<TranscodeRequest, 'input'>> {
  const settings = toTranscodeSettings(raw);
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  return {
    out: raw.out,
    name: raw.name,
    settings,
    binaries,
    dbPath: global.db ?? defaultDatabasePath(io.env),
    s3: { endpoint: raw.s3Endpoint, region: raw.s3Region, timeoutSeconds: raw.s3Timeout === undefined ? undefined : positiveNumber('--s3-timeout', raw.s3Timeout) },
    stallTimeoutMs: Number(raw.stallTimeout) * 1000,
    thumbnails: raw.thumbnails !== false,
    metrics: raw.metrics === true,
    tags: parseTags(raw.tag),
    workRoot: raw.workDir,
    force: raw.force === true,
    runner: queueRunnerFor(raw),
  };
}

function queueRunnerFor(raw: RawTranscodeOptions): TranscodeRequest['runner'] {
  if (raw.detach && !raw.queue) throw new VidpipeError('USAGE', '--detach applies to --queue only');
  if (!raw.queue) return undefined;
  // Workers on other machines cannot read a file on this one.
  if (raw.subtitles?.length) throw new VidpipeError('USAGE', '--subtitles reads local files, which queue workers cannot reach; drop it or run without --queue');
  return queueRunner({ redisUrl: raw.queue, detach: raw.detach === true });
}
