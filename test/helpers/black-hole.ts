/**
 * A TCP server on loopback that accepts connections and never answers: what a hung Redis, a
 * stalled S3 endpoint or a dead load balancer looks like to a client.
 */
import { createServer, type Socket } from 'node:net';

export interface BlackHole {
  port: number;
  /** Connections accepted so far. */
  accepted(): number;
  stop(): Promise<void>;
}

export function startBlackHole(): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        port,
        accepted: () => count,
        stop: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
