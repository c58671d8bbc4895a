/**
 * Standard Webhooks (https://www.standardwebhooks.com/) signing: every request carries
 * `webhook-id` (the message's id, the same on every retry), `webhook-timestamp` (seconds, this
 * attempt) and `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed
 * with the bytes of a `whsec_<base64>` secret. Receivers verify with any Standard Webhooks
 * library (docs/events.md shows how by hand).
 */
import { createHmac } from 'node:crypto';
import { VidpipeError } from '../errors.js';

export const SECRET_PREFIX = 'whsec_';

/** The key bytes of a `whsec_<base64>` secret; USAGE when it is not one. Never echoes the secret. */
export function parseWebhookSecret(secret: string, source = 'VIDPIPE_WEBHOOK_SECRET'): Buffer {
  const trimmed = secret.trim();
  const encoded = trimmed.startsWith(SECRET_PREFIX) ? trimmed.slice(SECRET_PREFIX.length) : '';
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
  if (key.length < 16) {
    throw new VidpipeError('USAGE', `${source} is not a webhook secret: it must be whsec_ followed by at least 16 bytes in base64`, {
      hint: `make one with: echo "whsec_$(openssl rand -base64 32)"`,
    });
  }
  return key;
}

/** `v1,<base64 signature>` of one attempt. */
export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The headers of one attempt of message `id` carrying `body`. */
export function webhookHeaders(key: Buffer, id: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(key, id, timestamp, body),
  };
}

/**
 * The signing key from the secret setting (`--webhook-secret`, VIDPIPE_WEBHOOK_SECRET), or USAGE
 * saying how to give one: a process asked to send webhooks must sign them.
 */
export function webhookKey(secret: string | undefined, why = 'webhooks are signed'): Buffer {
  if (secret !== undefined && secret.trim() !== '') return parseWebhookSecret(secret);
  throw new VidpipeError('USAGE', `${why}: set VIDPIPE_WEBHOOK_SECRET to the receiver's whsec_… secret`, {
    hint: 'the receiver verifies every request with the same secret (docs/events.md)',
  });
}
