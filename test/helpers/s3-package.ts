/**
 * Checks of a package published to S3 from the outside, as a player would see it: fetch the
 * objects back, follow the entry manifests, decode with ffmpeg.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import HLS from 'hls-parser';
import { downloadObject, listObjects, readTextObject } from '../../src/storage/s3.js';

const exec = promisify(execFile);

export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' } as const;

export async function putFile(client: S3Client, bucket: string, key: string, file: string, metadata?: Record<string, string>): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(file), Metadata: metadata }));
}

export async function putText(client: S3Client, bucket: string, key: string, text: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
}

export async function keysUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  return (await listObjects(client, bucket, prefix, { pageSize: 1000 })).map((o) => o.key.slice(prefix.length)).sort();
}

/** Downloads every object below `prefix` into `dir`, keeping the key layout. */
export async function downloadPrefix(client: S3Client, bucket: string, prefix: string, dir: string): Promise<string[]> {
  const keys = await keysUnder(client, bucket, prefix);
  for (const key of keys) {
    const file = path.join(dir, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await downloadObject(client, bucket, prefix + key, file);
  }
  return keys;
}

/**
 * Every object the HLS entry playlist reaches (variant and rendition playlists, init
 * segments, media segments), as keys relative to the package prefix. Strict parsing throughout.
 */
export async function hlsReferences(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  HLS.setOptions({ strictMode: true });
  const master = HLS.parse((await readTextObject(client, bucket, `${prefix}master.m3u8`))!) as any;
  assert.equal(master.isMasterPlaylist, true);
  const playlists = [...master.variants.map((v: any) => v.uri), ...master.variants.flatMap((v: any) => v.audio.map((a: any) => a.uri))];
  const found = new Set<string>(playlists);
  for (const uri of new Set<string>(playlists)) {
    const text = await readTextObject(client, bucket, prefix + uri);
    assert.ok(text !== undefined, `${uri} exists`);
    const media = HLS.parse(text) as any;
    const folder = path.posix.dirname(uri);
    for (const segment of media.segments) {
      found.add(path.posix.join(folder, segment.uri));
      if (segment.map) found.add(path.posix.join(folder, segment.map.uri));
    }
  }
  return [...found].sort();
}

/** ffmpeg decodes the whole package from the entry manifest without a single error; returns the frames decoded. */
export async function decodeFrames(manifest: string): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-v', 'error', '-i', manifest, '-map', '0:v:0', '-f', 'null', '-']);
  assert.equal(stderr.trim(), '', `${manifest} decodes cleanly`);
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', manifest]);
  return Number(stdout.trim().split('\n')[0]);
}
