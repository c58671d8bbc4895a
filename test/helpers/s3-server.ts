/**
 * A throw-away s3rver (fake S3 over plain files) for integration tests: 127.0.0.1, a free port
 * chosen by the OS, its own temp folder. s3rver checks signatures against the fixed key pair
 * S3RVER/S3RVER, so test clients pass those credentials explicitly instead of touching env.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import type { S3Options } from '../../src/storage/s3.js';

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  endpoint: string;
  /** Where s3rver keeps its data; pass it to a new server to "restart" with the same objects. */
  directory: string;
  server: S3rver;
  /** Client options for this server; few attempts so failure tests stay fast. */
  clientOptions(overrides?: S3Options): S3Options;
  /** Drops open connections (like a crash) and stops; removes the data folder unless it was given. Idempotent. */
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  buckets?: string[];
  /** Reuse an existing data folder (kept on stop); by default a new temp folder is made and removed. */
  directory?: string;
  /** Listen on this port (to restart a stopped server at the same endpoint); default: a free one. */
  port?: number;
}

export async function startS3Server(options: StartS3ServerOptions = {}): Promise<S3TestServer> {
  const ownsDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(path.join(os.tmpdir(), 'vidpipe-s3rver-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    directory,
    server,
    clientOptions: (overrides = {}) => ({ endpoint, credentials: S3RVER_CREDENTIALS, maxAttempts: 2, ...overrides }),
    stop: () => (stopped ??= stopServer(server, ownsDirectory ? directory : undefined)),
  };
}

async function stopServer(server: S3rver, removeDirectory: string | undefined): Promise<void> {
  const closing = server.close();
  // Keep-alive and in-flight connections would otherwise hold close() open.
  server.httpServer?.closeAllConnections();
  await closing;
  if (removeDirectory !== undefined) await rm(removeDirectory, { recursive: true, force: true });
}
