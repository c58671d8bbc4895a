/**
 * AWS's own conventions (issue 14 item 4): the region and credentials of AWS_PROFILE from
 * temporary shared config and credentials files, AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL treated
 * like --s3-endpoint (path-style, only required checksums), and AWS_MAX_ATTEMPTS, AWS_RETRY_MODE,
 * AWS_REQUEST_CHECKSUM_CALCULATION honoured. Requests go through a recording proxy to s3rver.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { objectHeadersFor } from '../../src/storage/content-types.js';
import { configuredEndpoint, createS3Client, readTextObject, S3Store } from '../../src/storage/s3.js';
import { startRecordingProxy, type RecordedRequest } from '../helpers/bad-servers.js';
import { tempDir } from '../helpers/media.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const AWS_VARIABLES = [
  'AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', 'AWS_MAX_ATTEMPTS', 'AWS_RETRY_MODE',
  'AWS_REQUEST_CHECKSUM_CALCULATION', 'AWS_RESPONSE_CHECKSUM_VALIDATION', 'VIDPIPE_S3_ENDPOINT', 'VIDPIPE_S3_TIMEOUT',
];

async function resolve(value: string | (() => Promise<string>)): Promise<string> {
  return typeof value === 'function' ? value() : value;
}

/** The region in a SigV4 Authorization header's credential scope. */
function signedRegion(request: RecordedRequest): string | undefined {
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/s3\/aws4_request/.exec(String(request.headers.authorization))?.[1];
}

describe('the S3 client follows AWS conventions', { timeout: 120_000 }, () => {
  let s3: S3TestServer;
  let dir: string;
  let cleanup: () => Promise<void>;
  let saved: Record<string, string | undefined>;
  let files = 0;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-aws-env-'));
    s3 = await startS3Server({ buckets: ['vod'] });
    saved = Object.fromEntries(AWS_VARIABLES.map((name) => [name, process.env[name]]));
  });
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  after(async () => {
    await s3.stop();
    await cleanup();
  });

  /** A fresh environment with only these AWS settings; config and credentials files written anew (the SDK caches by path). */
  async function awsEnvironment(settings: Record<string, string>, profile?: { name: string; config: string; credentials: string }): Promise<void> {
    for (const name of AWS_VARIABLES) delete process.env[name];
    if (profile) {
      const config = path.join(dir, `config-${files}`);
      const credentials = path.join(dir, `credentials-${files++}`);
      await writeFile(config, `[profile ${profile.name}]\n${profile.config}`);
      await writeFile(credentials, `[${profile.name}]\n${profile.credentials}`);
      Object.assign(process.env, { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_PROFILE: profile.name });
    }
    Object.assign(process.env, settings);
  }

  const s3rverProfile = { name: 'vp', config: 'region = eu-west-1\n', credentials: 'aws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' };

  it('takes region and credentials from AWS_PROFILE, and sends path-style requests to AWS_ENDPOINT_URL_S3', async () => {
    const proxy = await startRecordingProxy(Number(new URL(s3.endpoint).port));
    try {
      // A host name, not an IP: the SDK itself falls back to path-style for IP addresses.
      await awsEnvironment({ AWS_ENDPOINT_URL_S3: `http://localhost:${proxy.port}` }, s3rverProfile);
      const client = createS3Client();
      try {
        assert.equal(await client.config.region(), 'eu-west-1');
        const store = new S3Store(client, 'vod', 'env/');
        await store.putText('hello.txt', 'hello', objectHeadersFor('hello.txt'));
        assert.equal(await store.readText('hello.txt'), 'hello', 's3rver accepted the signature made with the profile\'s keys');
      } finally {
        client.destroy();
      }
      assert.ok(proxy.requests.length >= 2);
      for (const request of proxy.requests) {
        assert.match(request.url, /^\/vod\/env\/hello\.txt/, 'path-style: the bucket is in the path');
        assert.equal(request.headers.host, `localhost:${proxy.port}`, 'not bucket.host');
        assert.equal(signedRegion(request), 'eu-west-1');
      }
      const put = proxy.requests.find((request) => request.method === 'PUT')!;
      assert.equal(put.headers['x-amz-checksum-crc32'], undefined, 'a non-AWS endpoint gets only required checksums');
      assert.doesNotMatch(String(put.headers['content-encoding'] ?? ''), /aws-chunked/);
    } finally {
      await proxy.close();
    }
  });

  it('lets --s3-region and --s3-endpoint win, and falls back to us-east-1 when nothing names a region', async () => {
    await awsEnvironment({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1', AWS_ENDPOINT_URL: 'http://127.0.0.1:2' }, s3rverProfile);
    const flagged = createS3Client({ region: 'ap-south-1', endpoint: 'http://127.0.0.1:3' });
    assert.equal(await flagged.config.region(), 'ap-south-1');
    assert.equal((await flagged.config.endpoint!()).port, 3);
    flagged.destroy();
    assert.equal(configuredEndpoint(), 'http://127.0.0.1:1', 'the S3-specific variable first');
    delete process.env.AWS_ENDPOINT_URL_S3;
    assert.equal(configuredEndpoint(), 'http://127.0.0.1:2');
    process.env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'true';
    assert.equal(configuredEndpoint(), undefined);

    await awsEnvironment({ AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1' });
    const bare = createS3Client();
    assert.equal(await bare.config.region(), 'us-east-1');
    bare.destroy();
    await awsEnvironment({ AWS_DEFAULT_REGION: 'sa-east-1' });
    const old = createS3Client();
    assert.equal(await old.config.region(), 'sa-east-1', 'AWS_DEFAULT_REGION as the AWS CLI reads it, when the SDK finds none');
    old.destroy();
    await awsEnvironment({ AWS_REGION: 'ca-central-1' }, s3rverProfile);
    const envRegion = createS3Client();
    assert.equal(await envRegion.config.region(), 'ca-central-1', 'AWS_REGION before the profile, as the SDK does');
    envRegion.destroy();
  });

  it('an AWS endpoint in AWS_ENDPOINT_URL_S3 keeps virtual-host addressing and the SDK\'s checksums', async () => {
    await awsEnvironment({ AWS_ENDPOINT_URL_S3: 'https://s3.eu-central-1.amazonaws.com', AWS_REGION: 'eu-central-1' });
    const client = createS3Client();
    assert.equal(client.config.forcePathStyle, false);
    assert.equal(await client.config.requestChecksumCalculation(), 'WHEN_SUPPORTED');
    client.destroy();
  });

  it('honours AWS_MAX_ATTEMPTS and AWS_RETRY_MODE, and keeps vidpipe\'s defaults without them', async () => {
    const failing = await startRecordingProxy(0, { status: 503 });
    try {
      await awsEnvironment({ AWS_ENDPOINT_URL_S3: failing.endpoint, AWS_MAX_ATTEMPTS: '2', AWS_RETRY_MODE: 'standard', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' });
      const client = createS3Client();
      try {
        assert.equal(await client.config.maxAttempts(), 2);
        assert.equal(await resolve(client.config.retryMode), 'standard');
        await assert.rejects(readTextObject(client, 'vod', 'x.txt'));
        assert.equal(failing.requests.length, 2, 'one request and one retry');
      } finally {
        client.destroy();
      }
      await awsEnvironment({ AWS_ENDPOINT_URL_S3: failing.endpoint, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' });
      const defaults = createS3Client();
      assert.equal(await defaults.config.maxAttempts(), 5);
      assert.equal(await resolve(defaults.config.retryMode), 'adaptive');
      defaults.destroy();
      const flagged = createS3Client({ maxAttempts: 1 });
      assert.equal(await flagged.config.maxAttempts(), 1, 'an explicit setting wins');
      flagged.destroy();
    } finally {
      await failing.close();
    }
  });

  it('honours AWS_REQUEST_CHECKSUM_CALCULATION and AWS_RESPONSE_CHECKSUM_VALIDATION on a custom endpoint', async () => {
    const failing = await startRecordingProxy(0, { status: 503 });
    try {
      await awsEnvironment({
        AWS_ENDPOINT_URL_S3: failing.endpoint, AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED', AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_SUPPORTED',
        AWS_MAX_ATTEMPTS: '1', AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b',
      });
      const client = createS3Client();
      try {
        assert.equal(await client.config.requestChecksumCalculation(), 'WHEN_SUPPORTED');
        assert.equal(await client.config.responseChecksumValidation(), 'WHEN_SUPPORTED');
        await assert.rejects(new S3Store(client, 'vod', '').putText('a.txt', 'hello', objectHeadersFor('a.txt')));
        assert.ok(failing.requests[0]!.headers['x-amz-checksum-crc32'] !== undefined, 'the PUT carries a CRC32 as asked');
      } finally {
        client.destroy();
      }
    } finally {
      await failing.close();
    }
  });
});
