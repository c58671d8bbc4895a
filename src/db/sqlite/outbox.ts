/**
 * The webhook outbox in SQLite (migration 5: `webhook_messages`, `webhook_deliveries`): events
 * written inside the transaction of the record they report, deliveries taken with a lease inside
 * the store's IMMEDIATE transaction (two processes sharing the file never take one at once), each
 * attempt's outcome written back.
 */
import type Database from 'better-sqlite3';
import type { DeliveryAttemptRecord, DeliveryLeaseRequest, DeliveryRecord, DueDelivery, ListDeliveriesOptions, OutboxEntry } from '../records.js';
import { deliveryAttemptValues, toDeliveryRecord, type DeliveryRow } from '../rows.js';

/** The events and their pending deliveries; call inside the record's transaction. */
function writeOutbox(db: Database.Database, entries: readonly OutboxEntry[]): void {
  if (entries.length === 0) return;
  const message = db.prepare('INSERT INTO webhook_messages (id, type, job_id, body, created_at) VALUES (?, ?, ?, ?, ?)');
  const delivery = db.prepare(`INSERT INTO webhook_deliveries (message_id, url, status, attempts, next_attempt_at) VALUES (?, ?, 'pending', 0, ?)`);
  for (const entry of entries) {
    message.run(entry.messageId, entry.type, entry.jobId, entry.body, entry.createdAt);
    for (const url of entry.urls) delivery.run(entry.messageId, url, entry.createdAt);
  }
}

/** Call inside a write transaction: the rows read are leased before anyone else can read them. */
function takeDueDeliveries(db: Database.Database, request: DeliveryLeaseRequest, now: Date): DueDelivery[] {
  const at = now.toISOString();
  const rows = db
    .prepare(
      `SELECT d.message_id AS messageId, d.url, m.body, d.attempts
       FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
       WHERE (d.status = 'pending' OR (@includeFailed = 1 AND d.status = 'failed'))
         AND (@all = 1 OR d.next_attempt_at <= @now)
         AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= @now)
       ORDER BY d.next_attempt_at, m.rowid, d.url
       LIMIT @limit`,
    )
    .all({ includeFailed: request.includeFailed ? 1 : 0, all: request.all ? 1 : 0, now: at, limit: request.limit }) as DueDelivery[];
  const lease = db.prepare('UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_at = ? WHERE message_id = ? AND url = ?');
  const expires = new Date(now.getTime() + request.leaseMs).toISOString();
  for (const row of rows) lease.run(request.holder, expires, row.messageId, row.url);
  return rows;
}

function recordDeliveryAttempt(db: Database.Database, messageId: string, url: string, attempt: DeliveryAttemptRecord): void {
  const [status, at, httpStatus, error, next] = deliveryAttemptValues(attempt);
  // A delivered one stays delivered (an attempt whose lease had run out may report late).
  db.prepare(
    `UPDATE webhook_deliveries
     SET status = @status, attempts = attempts + 1, last_attempt_at = @at, last_status = @httpStatus, last_error = @error,
         next_attempt_at = coalesce(@next, next_attempt_at), delivered_at = CASE WHEN @status = 'delivered' THEN @at ELSE delivered_at END,
         lease_owner = NULL, lease_expires_at = NULL
     WHERE message_id = @messageId AND url = @url AND status <> 'delivered'`,
  ).run({ status, at, httpStatus, error, next, messageId, url });
}

function listDeliveries(db: Database.Database, options: ListDeliveriesOptions): DeliveryRecord[] {
  const rows = db
    .prepare(
      `SELECT d.message_id, m.type, m.job_id, d.url, d.status, d.attempts, d.last_status, d.last_error, d.last_attempt_at,
         d.next_attempt_at, d.delivered_at, m.created_at
       FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
       WHERE @status IS NULL OR d.status = @status
       ORDER BY m.created_at DESC, m.rowid DESC, d.url
       LIMIT @limit`,
    )
    .all({ status: options.status ?? null, limit: options.limit ?? -1 }) as DeliveryRow[];
  return rows.map(toDeliveryRecord);
}

/** The outbox's statements in SQLite, for the store's methods. */
export const sqliteOutbox = { write: writeOutbox, takeDue: takeDueDeliveries, recordAttempt: recordDeliveryAttempt, list: listDeliveries };
