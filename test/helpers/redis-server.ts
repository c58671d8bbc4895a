/**
 * A throw-away redis-server (Debian's package) for queue tests and the queue benchmark: loopback,
 * a free port, no persistence, killed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { Redis } from 'ioredis';

export interface RedisTestServer {
  url: string;
  port: number;
  /** The redis-server process (the queue bench counts its CPU). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts redis-server on a free port, or on `port` (e.g. again after stop(), as a restart). */
export async function startRedisServer(onPort?: number): Promise<RedisTestServer> {
  const port = onPort ?? (await freePort());
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited) throw new Error('redis-server exited at start (is it installed? scripts/setup --test installs it)');
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within 10 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** One Redis key as the secret-leak tests read it: its type, and `value` its name then its content as text. */
export interface RedisEntry {
  key: string;
  type: string;
  value: string;
}

/**
 * Every key of a Redis database (its URL's database) with its value as text: strings as they are;
 * hashes, lists, sets, sorted sets (with scores) and streams as JSON. What a test greps for
 * something that must never reach the queue.
 */
export async function redisDump(url: string): Promise<RedisEntry[]> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const dump: RedisEntry[] = [];
    for (const key of await client.keys('*')) {
      const type = await client.type(key);
      const value =
        type === 'string' ? await client.get(key)
        : type === 'hash' ? JSON.stringify(await client.hgetall(key))
        : type === 'list' ? JSON.stringify(await client.lrange(key, 0, -1))
        : type === 'set' ? JSON.stringify(await client.smembers(key))
        : type === 'zset' ? JSON.stringify(await client.zrange(key, 0, -1, 'WITHSCORES'))
        : type === 'stream' ? JSON.stringify(await client.xrange(key, '-', '+'))
        : '';
      dump.push({ key, type, value: `${key} ${value ?? ''}` });
    }
    return dump;
  } finally {
    client.disconnect();
  }
}
