/**
 * The webhook outbox in PostgreSQL (migration 5): events written inside the transaction of the
 * record they report; deliveries taken with `FOR UPDATE SKIP LOCKED` and a lease, so processes on
 * several machines sending from one database never take the same delivery at once.
 */
import type pg from 'pg';
import type { DeliveryAttemptRecord, DeliveryLeaseRequest, DeliveryRecord, DueDelivery, ListDeliveriesOptions, OutboxEntry } from '../records.js';
import { deliveryAttemptValues, toDeliveryRecord, type DeliveryRow } from '../rows.js';

/** The events and their pending deliveries; call inside the record's transaction. */
async function writeOutbox(db: pg.ClientBase, entries: readonly OutboxEntry[]): Promise<void> {
  for (const entry of entries) {
    await db.query('INSERT INTO webhook_messages (id, type, job_id, body, created_at) VALUES ($1, $2, $3, $4, $5)', [entry.messageId, entry.type, entry.jobId, entry.body, entry.createdAt]);
    for (const url of entry.urls) {
      await db.query(`INSERT INTO webhook_deliveries (message_id, url, status, attempts, next_attempt_at) VALUES ($1, $2, 'pending', 0, $3)`, [entry.messageId, url, entry.createdAt]);
    }
  }
}

async function takeDueDeliveries(db: pg.ClientBase, request: DeliveryLeaseRequest, now: Date): Promise<DueDelivery[]> {
  const { rows } = await db.query<DueDelivery & { seq: string }>(
    `WITH due AS (
       SELECT d.message_id, d.url FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
       WHERE (d.status = 'pending' OR ($1::boolean AND d.status = 'failed'))
         AND ($2::boolean OR d.next_attempt_at <= $3::timestamptz)
         AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $3::timestamptz)
       ORDER BY d.next_attempt_at, m.seq, d.url
       LIMIT $4
       FOR UPDATE OF d SKIP LOCKED
     )
     UPDATE webhook_deliveries d SET lease_owner = $5, lease_expires_at = $6
     FROM due, webhook_messages m
     WHERE d.message_id = due.message_id AND d.url = due.url AND m.id = d.message_id
     RETURNING d.message_id AS "messageId", d.url, m.body, d.attempts, d.next_attempt_at, m.seq`,
    [request.includeFailed === true, request.all === true, now.toISOString(), request.limit, request.holder, new Date(now.getTime() + request.leaseMs).toISOString()],
  );
  // RETURNING keeps no order: the oldest event first, as SQLite gives them.
  return rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map(({ messageId, url, body, attempts }) => ({ messageId, url, body, attempts }));
}

async function recordDeliveryAttempt(db: pg.ClientBase, messageId: string, url: string, attempt: DeliveryAttemptRecord): Promise<void> {
  // A delivered one stays delivered (an attempt whose lease had run out may report late).
  await db.query(
    `UPDATE webhook_deliveries
     SET status = $3, attempts = attempts + 1, last_attempt_at = $4, last_status = $5, last_error = $6,
         next_attempt_at = coalesce($7::timestamptz, next_attempt_at),
         delivered_at = CASE WHEN $3 = 'delivered' THEN $4::timestamptz ELSE delivered_at END,
         lease_owner = NULL, lease_expires_at = NULL
     WHERE message_id = $1 AND url = $2 AND status <> 'delivered'`,
    [messageId, url, ...deliveryAttemptValues(attempt)],
  );
}

async function listDeliveries(db: pg.ClientBase, options: ListDeliveriesOptions): Promise<DeliveryRecord[]> {
  const { rows } = await db.query<DeliveryRow>(
    `SELECT d.message_id, m.type, m.job_id, d.url, d.status, d.attempts, d.last_status, d.last_error, d.last_attempt_at,
       d.next_attempt_at, d.delivered_at, m.created_at
     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
     WHERE $1::text IS NULL OR d.status = $1
     ORDER BY m.created_at DESC, m.seq DESC, d.url
     LIMIT $2`,
    [options.status ?? null, options.limit ?? null],
  );
  return rows.map(toDeliveryRecord);
}

/** The outbox's statements in PostgreSQL, for the store's methods. */
export const postgresOutbox = { write: writeOutbox, takeDue: takeDueDeliveries, recordAttempt: recordDeliveryAttempt, list: listDeliveries };
