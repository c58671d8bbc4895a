/**
 * Redis connections of the queue (BullMQ over ioredis). ioredis retries a connection forever by
 * default, and a BullMQ object that never connected cannot even be closed, so an unreachable
 * Redis made `vidpipe status`, `worker` and `transcode --queue` wait without end and without a
 * word. Before any BullMQ object is made, assertRedisReachable therefore connects once with a
 * deadline: a closed port, a host that drops packets, a server that accepts and never answers, or
 * a refused password all end within REDIS_CONNECT_TIMEOUT_MS in STORAGE_FAILED (exit 1), naming
 * the server and the last error. Once connected, a client reconnects without end (backoff capped
 * at 2 s), so a running worker rides out a Redis restart.
 */
import { Redis } from 'ioredis';
import { VidpipeError } from '../errors.js';

/** How long the first connection to Redis may take. */
export const REDIS_CONNECT_TIMEOUT_MS = 5000;
/** A command of a short-lived client ('commands') that gets no reply within this fails. */
const COMMAND_TIMEOUT_MS = 10_000;

/**
 * 'blocking': worker and event streams, whose commands block on the server by design and wait
 * out a reconnect. 'commands': everything else (status, submitting a job); such a client fails
 * a command at once while disconnected instead of queueing it, and one left unanswered after
 * COMMAND_TIMEOUT_MS.
 */
export type RedisRole = 'blocking' | 'commands';

const reconnectDelay = (times: number) => Math.min(times * 100, 2000);

/** BullMQ connection options for `url`. */
export function redisConnection(url: string, role: RedisRole) {
  return {
    url,
    // BullMQ requires it for blocking clients; for the others the offline queue is off instead.
    maxRetriesPerRequest: null,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: reconnectDelay,
    // How long a disconnect waits for the socket to close by itself (ioredis: 2 s) before the process can end.
    disconnectTimeout: 200,
    ...(role === 'commands' ? { enableOfflineQueue: false, commandTimeout: COMMAND_TIMEOUT_MS } : {}),
  };
}

/** A Redis URL as shown to users: without its password. */
export function displayRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/**
 * Connects to `url` and PINGs it within `timeoutMs` (retrying a refused connection meanwhile:
 * a Redis that is just starting), then disconnects. Throws STORAGE_FAILED when that fails.
 */
export async function assertRedisReachable(url: string, timeoutMs = REDIS_CONNECT_TIMEOUT_MS): Promise<void> {
  let lastError: Error | undefined;
  let client: Redis;
  try {
    // disconnectTimeout: ioredis otherwise keeps a timer for 2 s after disconnecting a socket that never opened.
    client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: null, retryStrategy: () => 200, disconnectTimeout: 0 });
  } catch (error) {
    throw new VidpipeError('USAGE', `${displayRedisUrl(url)} is not a Redis URL: ${(error as Error).message}`, { hint: 'e.g. redis://host:6379 or rediss://user:password@host:6380/0' });
  }
  client.on('error', (error: Error) => (lastError = error));
  let timer: NodeJS.Timeout | undefined;
  const attempt = (async () => {
    const ready = new Promise((resolve) => client.once('ready', resolve));
    client.connect().catch(() => undefined);
    await ready;
    await client.ping();
  })();
  // Lost the race to the deadline: its PING then fails with the disconnect, unobserved.
  attempt.catch(() => undefined);
  try {
    await Promise.race([
      attempt,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(lastError ?? new Error(`no reply within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    throw new VidpipeError('STORAGE_FAILED', `cannot reach Redis at ${displayRedisUrl(url)} (gave up after ${timeoutMs / 1000} s): ${(error as Error).message}`, {
      hint: 'check that redis-server runs there and that this machine can reach it (redis-cli -u URL ping)',
    });
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}
