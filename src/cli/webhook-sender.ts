/**
 * The webhook sender of a command: a WebhookDispatcher (src/events/webhook-delivery.ts) over its
 * own connection to the metadata database, delivering the outbox's due events while the command
 * runs (`transcode` while its jobs run, `watch` and `worker` until they stop), then a bounded last
 * try when it stops: whatever is still undelivered stays in the outbox (`vidpipe events`), so a
 * job's exit status never waits on, or depends on, its webhooks.
 */
import { openMetadata } from '../db/engines.js';
import type { MetadataStore } from '../db/metadata-store.js';
import { webhookKey } from '../events/standard-webhooks.js';
import { WebhookDispatcher } from '../events/webhook-delivery.js';

export interface WebhookSender {
  /** Stops the loop, tries what is due for at most `budgetMs`, closes its connection; says what is left. */
  stop(budgetMs: number): Promise<void>;
}

/** How long a command that has ended tries to deliver its last events before it exits (the rest stay in the outbox). */
export const WEBHOOK_EXIT_BUDGET_MS = 5_000;

/** How often a running command looks for due events. */
const INTERVAL_MS = 1_000;

/**
 * Starts sending from `dbTarget`'s outbox, signed with `secret`; none (undefined) when there is
 * nothing to send with. `required`: the command was given webhooks, so a missing or malformed
 * secret is a usage error (exit 2) before any work.
 */
export async function startWebhookSender(dbTarget: string, secret: string | undefined, options: { required: boolean; log: (line: string) => void }): Promise<WebhookSender | undefined> {
  if (!options.required && (secret === undefined || secret.trim() === '')) return undefined;
  const key = webhookKey(secret, 'the job events sent to --webhook URLs are signed');
  const store: MetadataStore = await openMetadata(dbTarget);
  const dispatcher = new WebhookDispatcher(store, { key });
  let reported = '';
  dispatcher.start(INTERVAL_MS, (error) => {
    // Once per distinct problem (a database gone away): the loop goes on.
    const message = (error as Error).message;
    if (message !== reported) options.log(`webhook delivery: ${message}`);
    reported = message;
  });
  return {
    async stop(budgetMs) {
      try {
        await dispatcher.stop();
        await dispatcher.drain(budgetMs);
        const pending = await store.listDeliveries({ status: 'pending' });
        if (pending.length > 0) {
          options.log(`${pending.length} webhook deliver${pending.length === 1 ? 'y is' : 'ies are'} still pending (last: ${pending[0]!.lastError ?? 'not tried yet'}); they stay in the outbox: \`vidpipe events\` lists them, \`vidpipe events retry\` sends them`);
        }
      } catch (error) {
        options.log(`webhook delivery: ${(error as Error).message}; undelivered events stay in the outbox (\`vidpipe events retry\`)`);
      } finally {
        await store.close().catch(() => undefined);
      }
    },
  };
}
