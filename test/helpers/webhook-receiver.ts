/**
 * A real HTTP webhook receiver on loopback for the event tests: it can be down (nothing listens
 * on its port: connections are refused), answer every request with a chosen status, and keeps
 * every request it received with whether its Standard Webhooks signature verifies. The
 * verification is written here from the specification (not with vidpipe's signer), so a
 * signing mistake in vidpipe cannot hide itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { freePort } from './redis-server.js';

export interface ReceivedRequest {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** What the receiver answered. */
  status: number;
  /** The signature verifies with the receiver's secret, and the timestamp is within 5 minutes. */
  valid: boolean;
  /** The parsed body. */
  event: { type: string; timestamp: string; data: Record<string, unknown> };
}

export interface WebhookReceiver {
  url: string;
  /** Every request, in arrival order. */
  received: ReceivedRequest[];
  /** Starts listening (on the same port every time) answering `status`; again: changes the status. */
  up(status: number): Promise<void>;
  /** Stops listening: connections are refused. */
  down(): Promise<void>;
}

/** Standard Webhooks verification, from the specification: v1 = base64(HMAC-SHA256(key, id.ts.body)). */
export function verifyStandardWebhook(secret: string, headers: { id: string; timestamp: string; signature: string }, body: string, now = Date.now()): boolean {
  if (!secret.startsWith('whsec_')) return false;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > 300) return false;
  const expected = createHmac('sha256', key).update(`${headers.id}.${headers.timestamp}.${body}`).digest();
  // The header may hold several space-separated signatures, each `version,base64`.
  return headers.signature.split(' ').some((candidate) => {
    const [version, encoded] = candidate.split(',');
    if (version !== 'v1' || !encoded) return false;
    const given = Buffer.from(encoded, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const port = await freePort();
  const received: ReceivedRequest[] = [];
  let status = 200;
  let server: Server | undefined;
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks/vidpipe?token=t1`,
    received,
    async up(answer) {
      status = answer;
      if (server) return;
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const headers = {
            id: String(request.headers['webhook-id'] ?? ''),
            timestamp: String(request.headers['webhook-timestamp'] ?? ''),
            signature: String(request.headers['webhook-signature'] ?? ''),
          };
          let event: ReceivedRequest['event'];
          try {
            event = JSON.parse(body) as ReceivedRequest['event'];
          } catch {
            event = { type: 'unparseable', timestamp: '', data: {} };
          }
          received.push({ ...headers, body, status, valid: verifyStandardWebhook(secret, headers, body), event });
          response.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async down() {
      if (!server) return;
      const closing = new Promise<void>((resolve) => server!.close(() => resolve()));
      server.closeAllConnections();
      await closing;
      server = undefined;
    },
  };
  return receiver;
}
