/** The part of s3rver 3.7 (a dev-only fake S3 server, shipped without types) that vidpipe's tests use. */
declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { Server } from 'node:http';

  interface S3rverBucketConfig {
    name: string;
    /** CORS or website configuration XML documents. */
    configs?: Array<string | Buffer>;
  }

  interface S3rverOptions {
    address?: string;
    /** 0 picks a free port; read the real one from run()'s result. */
    port?: number;
    silent?: boolean;
    /** Where buckets and objects are stored as plain files. */
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    serviceEndpoint?: string;
    configureBuckets?: S3rverBucketConfig[];
  }

  /** Emitted in-process as 'event' for Put, Copy, Post and Delete (S3 notification record shape). */
  interface S3rverEvent {
    Records: Array<{
      eventName: string;
      eventTime: string;
      s3: { bucket: { name: string }; object: { key: string; size?: number; eTag?: string } };
    }>;
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    run(): Promise<{ address: string; family: string; port: number }>;
    close(): Promise<void>;
    reset(): void;
    httpServer?: Server;
    on(event: 'event', listener: (event: S3rverEvent) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  export = S3rver;
}
