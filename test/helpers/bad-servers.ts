/**
 * Real TCP servers that misbehave the way broken or overloaded S3 endpoints do: one that accepts
 * connections and never answers, one that sends headers and then stalls mid-body, a proxy in
 * front of a real server that stalls on demand, and an HTTP proxy that records what it forwards.
 */
import http from 'node:http';
import net from 'node:net';

export interface TestServer {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

/** Accepts every connection, reads whatever comes, never writes a byte. */
export async function startSilentServer(): Promise<TestServer & { connections: () => number }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, port, connections: () => connections, close: closer(server, sockets) };
}

/** Answers every request with 200, a Content-Length of `length`, the first `sent` bytes, and then silence. */
export async function startMidBodyStallServer(length = 100_000, sent = 10): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: ${length}\r\nETag: "abc"\r\n\r\n`);
      socket.write(Buffer.alloc(sent, 120));
    });
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, port, close: closer(server, sockets) };
}

export interface StallingProxy extends TestServer {
  /** From now on nothing passes: open connections freeze, new ones are accepted and never answered. */
  stall(): void;
  /** Stall as soon as a client sends a request whose head matches. */
  stallOn(pattern: RegExp): void;
  readonly stalled: boolean;
}

/** A TCP proxy in front of 127.0.0.1:`targetPort` that forwards faithfully until told to stall. */
export async function startStallingProxy(targetPort: number): Promise<StallingProxy> {
  const sockets = new Set<net.Socket>();
  let stalled = false;
  let trigger: RegExp | undefined;
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    track(client);
    if (stalled) return;
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(upstream);
    client.on('data', (chunk) => {
      if (!stalled && trigger?.test(chunk.toString('latin1'))) stalled = true;
      if (!stalled) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!stalled) client.write(chunk);
    });
    // A frozen connection stays open: the client must notice the silence itself.
    client.on('close', () => stalled || upstream.destroy());
    upstream.on('close', () => stalled || client.destroy());
  });
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stall: () => void (stalled = true),
    stallOn: (pattern) => void (trigger = pattern),
    get stalled() {
      return stalled;
    },
    close: closer(server, sockets),
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** An HTTP proxy to 127.0.0.1:`targetPort` that records each request; `status` answers every request with that instead. */
export async function startRecordingProxy(targetPort: number, options: { status?: number } = {}): Promise<TestServer & { requests: RecordedRequest[] }> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (options.status !== undefined) {
      req.resume();
      res.writeHead(options.status, { 'Content-Type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>test</Message></Error>');
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, port, requests, close: closer(server, sockets) };
}

/** What the fault proxy does to one answer. */
export type Fault =
  | { kind: 'pass' }
  /** Sends the headers and `afterBytes` of the body, then resets the connection. */
  | { kind: 'reset'; afterBytes: number }
  /** Sends the headers and `afterBytes` of the body, then nothing, keeping the connection open. */
  | { kind: 'stall'; afterBytes: number }
  /** Sends the headers (the full Content-Length) and `afterBytes` of the body, then closes the connection cleanly. */
  | { kind: 'truncate'; afterBytes: number }
  /**
   * Answers with this status and an S3 error document (its Code `code`, default by status),
   * without asking the server; `stallBody`: sends the headers and a few bytes of the document, then
   * nothing, keeping the connection open.
   */
  | { kind: 'status'; status: number; code?: string; stallBody?: boolean }
  /** Passes the server's answer with these headers replaced (null removes one). */
  | { kind: 'headers'; set: Record<string, string | null> };

export interface FaultScript {
  /** Faults for the matching requests, in order; once used up, `then`. */
  faults: Fault[];
  /** Fault for every matching request after `faults` (default: pass). */
  then?: Fault;
  /** Which requests the script applies to (`METHOD path?query`); default: every GET. */
  match?: RegExp;
  /** Called when a fault has been applied to an answer (e.g. to overwrite the object in between). */
  afterFault?: (fault: Fault, index: number) => void | Promise<void>;
}

export interface ProxiedRequest extends RecordedRequest {
  fault: Fault['kind'];
  /** Whether the client's connection that carried this request has closed since. */
  socketClosed: boolean;
}

export interface FaultProxy extends TestServer {
  /** Every request seen, with the fault applied to it. */
  requests: ProxiedRequest[];
  script(script: FaultScript): void;
  /** Answer 412 to a request whose If-Match differs from the server's ETag, as S3 does (s3rver ignores If-Match). */
  enforceIfMatch: boolean;
}

/**
 * An HTTP proxy in front of 127.0.0.1:`targetPort` (s3rver, or any HTTP server) that damages
 * answers by script: a connection reset, a stall or a clean close mid-body, or a 5xx instead of
 * the answer; everything else passes through unchanged (signatures stay valid: the Host header
 * is forwarded as the client sent it).
 */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  let current: FaultScript = { faults: [] };
  let used = 0;
  const requests: ProxiedRequest[] = [];
  const carried = new WeakMap<net.Socket, ProxiedRequest[]>();
  const proxy: FaultProxy = {
    endpoint: '',
    port: 0,
    requests,
    enforceIfMatch: false,
    script: (script) => {
      current = script;
      used = 0;
    },
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const head = `${req.method} ${req.url}`;
    const matches = (current.match ?? /^GET /).test(head);
    const index = used;
    const fault: Fault = matches ? (current.faults[used++] ?? current.then ?? { kind: 'pass' }) : { kind: 'pass' };
    const script = current;
    const seen: ProxiedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, fault: fault.kind, socketClosed: false };
    requests.push(seen);
    carried.get(req.socket)?.push(seen);
    const faulted = (): void => void Promise.resolve(script.afterFault?.(fault, index)).catch(() => undefined);
    if (fault.kind === 'status') {
      req.resume();
      const code = fault.code ?? (fault.status === 503 ? 'ServiceUnavailable' : fault.status === 404 ? 'NoSuchKey' : 'InternalError');
      const document = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected by the test proxy</Message></Error>`;
      if (fault.stallBody) {
        res.writeHead(fault.status, { 'Content-Type': 'application/xml', 'Content-Length': document.length });
        res.write(document.slice(0, 10));
      } else {
        res.writeHead(fault.status, { 'Content-Type': 'application/xml', Connection: 'close' });
        res.end(document);
      }
      faulted();
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const ifMatch = req.headers['if-match'];
      if (proxy.enforceIfMatch && ifMatch !== undefined && answer.headers.etag !== undefined && ifMatch !== answer.headers.etag) {
        answer.resume();
        res.writeHead(412, { 'Content-Type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>');
        return;
      }
      const headers = { ...answer.headers };
      if (fault.kind === 'headers') {
        for (const [name, value] of Object.entries(fault.set)) {
          if (value === null) delete headers[name];
          else headers[name] = value;
        }
      }
      res.writeHead(answer.statusCode ?? 502, headers);
      if (fault.kind === 'pass' || fault.kind === 'headers') {
        if (fault.kind === 'headers') faulted();
        answer.pipe(res);
        return;
      }
      let sent = 0;
      let done = false;
      answer.on('data', (chunk: Buffer) => {
        if (done) return;
        const room = fault.afterBytes - sent;
        const part = chunk.subarray(0, Math.max(0, room));
        sent += part.length;
        if (sent < fault.afterBytes) {
          res.write(part);
          return;
        }
        done = true;
        answer.destroy();
        const socket = res.socket;
        // Once the client has the bytes (a reset would discard what it has not read yet).
        res.write(part, () => setTimeout(() => {
          if (fault.kind === 'reset') socket?.resetAndDestroy();
          // A clean close (FIN): the body is shorter than its Content-Length.
          if (fault.kind === 'truncate') socket?.end();
          // 'stall': the connection stays open and silent until the client gives up.
          faulted();
        }, 50));
      });
      answer.on('end', () => {
        if (!done) res.end();
      });
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    carried.set(socket, []);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      sockets.delete(socket);
      for (const request of carried.get(socket) ?? []) request.socketClosed = true;
    });
  });
  const port = await listen(server);
  proxy.endpoint = `http://127.0.0.1:${port}`;
  proxy.port = port;
  proxy.close = closer(server, sockets);
  return proxy;
}
