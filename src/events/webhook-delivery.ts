/**
 * Delivering webhook messages out of the outbox, at least once: each attempt is one signed POST
 * (standard-webhooks.ts) with the message's own `webhook-id`; a 2xx delivers it, a 5xx, 408, 429,
 * a timeout or a refused/reset connection is tried again later on a growing schedule, any other
 * answer (a 4xx, a redirect) gives the delivery up. What happened is written back to the outbox
 * after every attempt, so another process (watch, worker, `vidpipe events retry`) takes over
 * where this one stopped. Nothing here throws into a job: a job's outcome never depends on its
 * webhooks.
 */
import { hostname } from 'node:os';
import { webhookHeaders } from './standard-webhooks.js';

/** One message to one URL, as the outbox holds it. */
export interface PendingDelivery {
  messageId: string;
  url: string;
  /** The exact request body (the signature covers these bytes). */
  body: string;
  /** Attempts made so far. */
  attempts: number;
}

export type AttemptOutcome =
  | { result: 'delivered'; status: number }
  | { result: 'retry'; status?: number; error: string }
  | { result: 'failed'; status?: number; error: string };

export interface DeliveryAttempt {
  outcome: AttemptOutcome;
  at: Date;
  /** When to try again ('retry' outcomes); absent: no further attempt is planned (given up). */
  nextAttemptAt?: Date;
}

/** What the delivery needs of the metadata database (MetadataStore implements it). */
export interface WebhookOutbox {
  /**
   * Up to `limit` undelivered deliveries whose next attempt is due (every pending one with
   * `all`, the given-up ones too with `includeFailed`), leased to `holder` for `leaseMs` so that
   * two processes never send one message at the same time.
   */
  takeDueDeliveries(request: { holder: string; limit: number; leaseMs: number; all?: boolean; includeFailed?: boolean }): Promise<PendingDelivery[]>;
  /** Writes one attempt's outcome and ends the lease: delivered, pending until `nextAttemptAt`, or failed. */
  recordDeliveryAttempt(messageId: string, url: string, attempt: DeliveryAttempt): Promise<void>;
}

/** Waits after the 1st, 2nd, … failed attempt; after the last one the delivery is given up. */
export const RETRY_SCHEDULE_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000];

export interface DispatcherOptions {
  /** The secret's key bytes (parseWebhookSecret). */
  key: Buffer;
  /** How long one request may take (connect, send, answer). */
  timeoutMs?: number;
  /** Waits between attempts (default RETRY_SCHEDULE_MS). */
  schedule?: readonly number[];
  /** Who holds the leases this process takes (default host:pid). */
  holder?: string;
  now?: () => Date;
}

/** Sends one attempt of a delivery and classifies the answer; never throws. `stop` abandons it (a retry). */
export async function sendAttempt(delivery: PendingDelivery, key: Buffer, timeoutMs: number, at = new Date(), stop?: AbortSignal): Promise<AttemptOutcome> {
  try {
    const response = await fetch(delivery.url, {
      method: 'POST',
      headers: webhookHeaders(key, delivery.messageId, delivery.body, at),
      body: delivery.body,
      redirect: 'manual',
      signal: stop ? AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]) : AbortSignal.timeout(timeoutMs),
    });
    // The answer's body is not read: release the connection.
    await response.body?.cancel().catch(() => undefined);
    const { status } = response;
    if (status >= 200 && status < 300) return { result: 'delivered', status };
    if (status >= 500 || status === 408 || status === 429) return { result: 'retry', status, error: `HTTP ${status}` };
    return { result: 'failed', status, error: `HTTP ${status}${status >= 300 && status < 400 ? ' (a redirect: give the final URL)' : ''}` };
  } catch (error) {
    return { result: 'retry', error: stop?.aborted ? 'no answer before this process stopped' : describeFetchError(error, timeoutMs) };
  }
}

/** fetch's "fetch failed" says nothing: the cause (ECONNREFUSED, a timeout) does. */
function describeFetchError(error: unknown, timeoutMs: number): string {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const cause = err.cause;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? `: ${cause.message}` : ''}`;
  return cause?.message ?? err.message;
}

export interface DispatchCounts {
  delivered: number;
  retrying: number;
  failed: number;
}

/**
 * Delivers the outbox's due messages: `deliverDue` once (a command, `vidpipe events retry`),
 * `start`/`stop` in a long-running process (watch, worker), `drain` at the end of a one-off job
 * (a bounded wait for the quick retries, then the rest stays in the outbox).
 */
export class WebhookDispatcher {
  private readonly timeoutMs: number;
  private readonly schedule: readonly number[];
  private readonly holder: string;
  private readonly now: () => Date;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** Aborted by stop(): the loop's attempts under way are abandoned rather than waited for. */
  private stopping = new AbortController();

  constructor(
    private readonly outbox: WebhookOutbox,
    private readonly options: DispatcherOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.schedule = options.schedule ?? RETRY_SCHEDULE_MS;
    this.holder = options.holder ?? `${hostname()}:${process.pid}`;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * One pass: every due delivery (every undelivered one with `all`) tried once, in parallel by
   * URL. With a `deadline` (epoch ms) no more are taken after it, and each attempt's time limit
   * shrinks to what is left of it (1 s at least).
   */
  async deliverDue(request: { all?: boolean; includeFailed?: boolean; deadline?: number } = {}): Promise<DispatchCounts> {
    const counts: DispatchCounts = { delivered: 0, retrying: 0, failed: 0 };
    const { deadline, ...which } = request;
    // A lease longer than any attempt: another process leaves these alone meanwhile.
    const leaseMs = this.timeoutMs * 3 + 5_000;
    for (;;) {
      if (deadline !== undefined && Date.now() >= deadline) return counts;
      const due = await this.outbox.takeDueDeliveries({ holder: this.holder, limit: 50, leaseMs, ...which });
      if (due.length === 0) return counts;
      await Promise.all(
        [...groupBy(due, (d) => d.url).values()].map(async (ofUrl) => {
          for (const delivery of ofUrl) {
            const timeoutMs = deadline === undefined ? this.timeoutMs : Math.min(this.timeoutMs, Math.max(1_000, deadline - Date.now()));
            counts[await this.attempt(delivery, timeoutMs)]++;
          }
        }),
      );
      // Leased rows were written back: the next pass does not see them again (unless `all`, whose retries wait).
      if (request.all || request.includeFailed) return counts;
    }
  }

  private async attempt(delivery: PendingDelivery, timeoutMs: number): Promise<keyof DispatchCounts> {
    const at = this.now();
    const outcome = await sendAttempt(delivery, this.options.key, timeoutMs, at, this.stopping.signal);
    const attempts = delivery.attempts + 1;
    const wait = outcome.result === 'retry' ? this.schedule[attempts - 1] : undefined;
    const given = outcome.result === 'retry' && wait === undefined ? { result: 'failed' as const, status: outcome.status, error: `${outcome.error}; gave up after ${attempts} attempts` } : outcome;
    await this.outbox.recordDeliveryAttempt(delivery.messageId, delivery.url, {
      outcome: given,
      at,
      ...(wait !== undefined ? { nextAttemptAt: new Date(this.now().getTime() + wait) } : {}),
    });
    return given.result === 'delivered' ? 'delivered' : given.result === 'retry' ? 'retrying' : 'failed';
  }

  /** Keeps delivering what becomes due, every `intervalMs`, until stop(). Failures of a pass are reported, never thrown. */
  start(intervalMs = 2_000, onError: (error: unknown) => void = () => undefined): void {
    if (this.timer) return;
    const tick = () => {
      if (this.running) return;
      this.running = this.deliverDue()
        .catch(onError)
        .finally(() => (this.running = undefined));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  /** Wakes the loop now (a job just wrote events). */
  poke(): void {
    if (this.timer && !this.running) {
      this.running = this.deliverDue()
        .catch(() => undefined)
        .finally(() => (this.running = undefined));
    }
  }

  /** Ends the loop; an attempt under way is abandoned (recorded as one to retry), not waited for. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopping.abort();
    await this.running;
    this.stopping = new AbortController();
  }

  /**
   * Delivers what is due now and retries for at most `budgetMs` (the quick first retries), then
   * returns: what is still undelivered stays in the outbox for a long-running process or
   * `vidpipe events retry`.
   */
  async drain(budgetMs: number): Promise<DispatchCounts> {
    const deadline = Date.now() + budgetMs;
    const total: DispatchCounts = { delivered: 0, retrying: 0, failed: 0 };
    for (;;) {
      const counts = await this.deliverDue({ deadline });
      if (counts.retrying === 0 && counts.delivered === 0 && counts.failed === 0) return total;
      total.delivered += counts.delivered;
      total.failed += counts.failed;
      total.retrying = counts.retrying;
      // The first retry waits schedule[0]: worth it only when it fits.
      const wait = this.schedule[0] ?? Infinity;
      if (counts.retrying === 0 || Date.now() + wait > deadline) return total;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}
