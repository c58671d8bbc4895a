import { EXIT_FAILURE, EXIT_OK, VidpipeError } from '../../errors.js';
import { printableMetadataTarget, withMetadata } from '../../db/engines.js';
import type { DeliveryRecord } from '../../db/records.js';
import { webhookKey } from '../../events/standard-webhooks.js';
import { WebhookDispatcher, type DispatchCounts } from '../../events/webhook-delivery.js';
import type { EventsOptions, GlobalOptions } from '../../settings/command-options.js';
import { ownWebhookSecret } from '../../settings/job-settings.js';
import type { CliIO } from '../io.js';
import { formatJson, formatTable, formatTimestamp } from './list.js';

/**
 * `vidpipe events`: the webhook deliveries of the metadata database's outbox and their state.
 * `vidpipe events retry`: sends every undelivered one now (pending, due or not, and given up),
 * signed with this machine's VIDPIPE_WEBHOOK_SECRET; exit 1 when some are still undelivered.
 */
export async function runEvents(action: string | undefined, options: EventsOptions, global: GlobalOptions & { dbPath: string }, io: CliIO): Promise<number> {
  if (action !== undefined && action !== 'list' && action !== 'retry') {
    throw new VidpipeError('USAGE', `vidpipe events: unknown action "${action}"`, { hint: 'vidpipe events (list them) or vidpipe events retry (send the undelivered ones now)' });
  }
  // Before the database is opened: a retry that cannot sign is a usage error.
  const key = action === 'retry' ? webhookKey(ownWebhookSecret(io.env), 'vidpipe events retry signs what it sends') : undefined;
  return withMetadata(global.dbPath, async (store) => {
    let sent: DispatchCounts | undefined;
    if (key) sent = await new WebhookDispatcher(store, { key }).deliverDue({ all: true, includeFailed: true });
    const deliveries = await store.listDeliveries({ limit: options.limit });
    if (global.json) io.stdout(formatJson({ ...(sent ? { sent } : {}), deliveries }));
    else {
      if (sent) io.stdout(`Sent now: ${sent.delivered} delivered, ${sent.retrying} to retry, ${sent.failed} given up.\n`);
      io.stdout(formatDeliveries(deliveries, global.dbPath));
    }
    return sent && sent.retrying + sent.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  });
}

function formatDeliveries(deliveries: DeliveryRecord[], target: string): string {
  if (deliveries.length === 0) return `No webhook events recorded in ${printableMetadataTarget(target)}.\n`;
  return formatTable(
    [{ header: 'EVENT' }, { header: 'TYPE' }, { header: 'JOB' }, { header: 'URL' }, { header: 'STATE' }, { header: 'ATTEMPTS', align: 'right' }, { header: 'LAST ANSWER' }, { header: 'NEXT ATTEMPT' }],
    deliveries.map((d) => [
      d.messageId,
      d.type,
      d.jobId ?? '',
      d.url,
      d.status,
      String(d.attempts),
      d.lastStatus !== null ? `HTTP ${d.lastStatus}` : (d.lastError ?? ''),
      d.nextAttemptAt ? formatTimestamp(d.nextAttemptAt) : '',
    ]),
  );
}
