import { EXIT_OK, VidpipeError } from '../../errors.js';
import { createS3Client } from '../../storage/s3.js';
import { parseLocation } from '../../storage/index.js';
import { s3SettingsOf } from '../../storage/s3-backend.js';
import { formatS3Uri, isS3Uri, literalPrefix, parseWatchedUri, assertValidBucketName } from '../../storage/uri.js';
import { WatchStore } from '../../watch/store.js';
import { createSqsClient, SqsQueue, type SqsLike } from '../../watch/sqs.js';
import { newWatcherId, Watcher, type WatchOutcome } from '../../watch/watcher.js';
import type { GlobalOptions, WatchOptions } from '../../settings/command-options.js';
import type { CliIO } from '../io.js';
import { installInterruptHandler } from '../signals.js';
import { createReporter, transcodeBase, type TranscodeOptions } from './transcode.js';
import { formatResult } from './transcode-format.js';
import { printable } from '../io.js';
import { WEBHOOK_EXIT_BUDGET_MS, startWebhookSender } from '../webhook-sender.js';

/**
 * `bucket` or `s3://bucket/prefix`, and --prefix: both prefixes are literal (`literalPrefix`), so
 * `s3://b//lead/` and `--prefix /lead/` both watch the keys that start with `/lead/`. Given both
 * ways, they must agree: which one was meant cannot be guessed.
 */
export function parseWatchTarget(target: string, prefixFlag: string | undefined): { bucket: string; prefix: string } {
  const trimmed = target.trim();
  let bucket = trimmed;
  let prefix = '';
  if (isS3Uri(trimmed)) {
    ({ bucket, prefix } = parseWatchedUri(trimmed));
  } else {
    assertValidBucketName(bucket);
  }
  if (prefixFlag === undefined) return { bucket, prefix };
  const flagPrefix = literalPrefix(prefixFlag);
  if (prefix !== '' && prefix !== flagPrefix) {
    throw new VidpipeError('USAGE', `two prefixes to watch: "${prefix}" in ${trimmed} and --prefix "${flagPrefix}"`, {
      hint: `give the prefix once: ${formatS3Uri(bucket, flagPrefix)}, or ${bucket} --prefix ${JSON.stringify(flagPrefix)}`,
    });
  }
  return { bucket, prefix: flagPrefix };
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
  const log = global.quiet ? undefined : (line: string) => io.stderr(`vidpipe watch: ${printable(line)}`);
  // With a secret, the outbox's events are sent as they become due (an upload's sidecar may add webhooks).
  const webhooks = await startWebhookSender(base.dbPath, options.settings.webhookSecret, { required: options.settings.webhooks.length > 0, log: log ?? (() => undefined) });
  const store = await WatchStore.open(base.dbPath, { owner: newWatcherId(), leaseMs, maxAttempts });
  const client = createS3Client(s3SettingsOf(base.storage ?? {}));
  const reporter = createReporter(global, io);
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
    await store.close();
    client.destroy();
    await webhooks?.stop(WEBHOOK_EXIT_BUDGET_MS);
  }
  return EXIT_OK;
}
