import { EXIT_OK, VidpipeError } from '../../errors.js';
import { createS3Client } from '../../storage/s3.js';
import { formatS3Uri, isS3Uri, normalisePrefix, parseLocation, assertValidBucketName } from '../../storage/uri.js';
import { WatchStore } from '../../watch/store.js';
import { createSqsClient, SqsQueue, type SqsLike } from '../../watch/sqs.js';
import { newWatcherId, Watcher, type WatchOutcome } from '../../watch/watcher.js';
import type { GlobalOptions, WatchOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';
import { createReporter, transcodeBase, type TranscodeOptions } from './transcode.js';
import { formatResult } from './transcode-format.js';
import { printable } from '../io.js';

/** `bucket` or `s3://bucket/prefix`; --prefix wins over the URI's prefix. */
export function parseWatchTarget(target: string, prefixFlag: string | undefined): { bucket: string; prefix: string } {
  let bucket = target.trim();
  let prefix = '';
  if (isS3Uri(bucket)) {
    const location = parseLocation(bucket);
    if (location.kind !== 's3') throw new VidpipeError('USAGE', `"${target}" is not a bucket`);
    ({ bucket, prefix } = location);
  } else {
    assertValidBucketName(bucket);
  }
  return { bucket, prefix: prefixFlag === undefined ? prefix : normalisePrefix(prefixFlag) };
}

/**
 * Runs until SIGINT/SIGTERM (or, with --once, until nothing is left). A signal stops the
 * current job (its ffmpeg children are killed) and gives its upload back, so the next watcher
 * starts it again without counting an attempt; exit status 0 after such a clean stop.
 */
/** What `vidpipe watch` got from its option tables: the transcode settings and flags, and its own. */
export interface WatchCommandOptions extends TranscodeOptions {
  watch: WatchOptions;
}

export async function runWatch(target: string, options: WatchCommandOptions, global: GlobalOptions, io: CliIO, sqsClient?: SqsLike): Promise<number> {
  const { watch: raw } = options;
  const { bucket, prefix } = parseWatchTarget(target, raw.prefix);
  const outText = raw.out ?? formatS3Uri(bucket, 'vod/');
  const base = await transcodeBase({ settings: options.settings, flags: { ...options.flags, out: outText } }, global, io);
  const leaseMs = raw.leaseSeconds * 1000;
  const { maxAttempts } = raw;
  const store = new WatchStore(base.dbPath, { owner: newWatcherId(), leaseMs, maxAttempts });
  const client = createS3Client(base.s3);
  const reporter = createReporter(global, io);
  const log = global.quiet ? undefined : (line: string) => io.stderr(`vidpipe watch: ${printable(line)}`);
  const onOutcome = (outcome: WatchOutcome): void => {
    if (global.json) {
      io.stdout(JSON.stringify({ ...(outcome.result ?? { input: formatS3Uri(outcome.bucket, outcome.key), status: 'failed' }), ...outcome, result: undefined }));
    } else if (outcome.result !== undefined && (outcome.watchStatus === 'done' || outcome.watchStatus === 'failed')) {
      (outcome.watchStatus === 'done' ? io.stdout : io.stderr)(formatResult(outcome.result));
    }
  };
  const watcher = new Watcher(
    {
      bucket,
      prefix,
      out: parseLocation(outText),
      outText,
      intervalMs: raw.intervalSeconds * 1000,
      maxAttempts,
      settings: options.settings,
      request: base,
      once: raw.once,
    },
    store,
    client,
    { onEvent: (event) => reporter?.onEvent(event), onOutcome, log },
    leaseMs,
  );
  const controller = new AbortController();
  const uninstall = installInterruptHandler(() => controller.abort(), io.stderr);
  try {
    if (raw.sqsQueue !== undefined) {
      const sqs = sqsClient ?? (createSqsClient(raw.sqsQueue, { region: options.flags.s3Region }) as unknown as SqsLike);
      // Visibility outlives a lease renewal period several times over; it is extended on every renewal.
      const queue = new SqsQueue(sqs, { queueUrl: raw.sqsQueue, visibilitySeconds: Math.max(30, Math.ceil((leaseMs / 1000) * 2)), waitSeconds: raw.once ? 1 : 20 });
      await watcher.runSqs(queue, controller.signal);
    } else {
      await watcher.runPolling(controller.signal);
    }
  } finally {
    uninstall();
    await reporter?.close();
    store.close();
    client.destroy();
  }
  return EXIT_OK;
}
