/**
 * The `s3` backend: S3 and S3-compatible servers (MinIO, R2, Ceph …), `s3://bucket/prefix/`.
 * The client and every call are in s3.ts, which loads the AWS SDK: it is imported when a
 * connection is opened, so that a local run never loads the SDK.
 */
import path from 'node:path';
import type { Location, StorageBackend, StorageConfig } from './backend.js';
import type { S3Options } from './s3.js';
import { formatS3Uri, joinKey, normalisePrefix, parseObjectUri, splitS3Uri } from './uri.js';

function at(bucket: string, prefix: string): Location {
  return { backend: 's3', text: formatS3Uri(bucket, prefix), parts: { bucket, prefix } };
}

function partsOf(location: Location): { bucket: string; prefix: string } {
  return { bucket: location.parts.bucket!, prefix: location.parts.prefix! };
}

/** This process's S3 settings (for what only S3 has: `vidpipe watch` lists a bucket and reads SQS). */
export function s3SettingsOf(config: StorageConfig): S3Options {
  return (config.s3 ?? {}) as S3Options;
}

export const s3Backend: StorageBackend = {
  name: 's3',
  schemes: ['s3'],
  shared: true,
  parseLocation: (text) => {
    const { bucket, rest } = splitS3Uri(text);
    return at(bucket, normalisePrefix(rest));
  },
  below: (location, name) => {
    const { bucket, prefix } = partsOf(location);
    return at(bucket, `${joinKey(prefix, name)}/`);
  },
  uriOf: (location, key) => {
    const { bucket, prefix } = partsOf(location);
    return formatS3Uri(bucket, joinKey(prefix, key));
  },
  holds: (location, uri) => {
    const { bucket, prefix } = partsOf(location);
    const { bucket: itsBucket, rest } = splitS3Uri(uri);
    return itsBucket === bucket && rest.startsWith(prefix);
  },
  // S3 keys are literal: the last '/'-separated segment, never URL-decoded.
  inputName: (uri) => path.posix.basename(uri) || 'input',
  connect: async (settings) => {
    const { createS3Client, downloadObject, headObject, S3Store } = await import('./s3.js');
    const client = createS3Client((settings ?? {}) as S3Options);
    return {
      storeAt: (location, owning) => {
        const { bucket, prefix } = partsOf(location);
        return new S3Store(client, bucket, prefix, { ownsClient: owning });
      },
      download: async (uri, localPath, options = {}) => {
        const { bucket, key } = parseObjectUri(uri);
        const { etag, bytes } = await downloadObject(client, bucket, key, localPath, { signal: options.signal, onRetry: options.onRetry, onProgress: options.onProgress });
        return { etag, size: bytes };
      },
      versionOf: async (uri, signal) => {
        const { bucket, key } = parseObjectUri(uri);
        const now = await headObject(client, bucket, key, signal);
        return now && { etag: now.etag, size: now.size };
      },
      close: () => client.destroy(),
    };
  },
  // Credentials stay on each machine; where the objects are is the same for every worker.
  portableSettings: (settings) => {
    const { endpoint, region } = (settings ?? {}) as S3Options;
    return { endpoint, region };
  },
  // This machine's endpoint (flag, VIDPIPE_S3_ENDPOINT, AWS_ENDPOINT_URL_S3 …) wins over the submitter's.
  workerSettings: async (own, sent) => {
    const { configuredEndpoint } = await import('./s3.js');
    const mine = (own ?? {}) as S3Options;
    const theirs = (sent ?? {}) as S3Options;
    return { ...mine, endpoint: configuredEndpoint(mine) ?? theirs.endpoint, region: mine.region || theirs.region };
  },
};
