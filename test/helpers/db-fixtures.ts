import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CompleteJobInput, StartJobInput } from '../../src/db/records.js';

/** A fresh folder for one test's database file; `cleanup` removes it. */
export function tempDbFile(): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'vidpipe-db-'));
  return { file: path.join(dir, 'nested', 'vidpipe.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock that starts at `start` and moves one second on every call, so ordering is deterministic. */
export function steppingClock(start = '2024-05-01T12:00:00.000Z'): () => Date {
  let time = Date.parse(start);
  return () => {
    const now = new Date(time);
    time += 1000;
    return now;
  };
}

export function sampleStart(jobId: string, videoId = 'v0123456789ab', name = 'sample.mp4'): StartJobInput {
  return {
    jobId,
    video: {
      id: videoId,
      source: `/media/${name}`,
      name,
      sha256: `${videoId}-sha`,
      sizeBytes: 1_234_567,
      durationSeconds: 10.02,
      kind: 'video',
      probe: { format: 'mov,mp4', streams: [{ codec: 'h264' }] },
      tags: { title: 'Sample clip' },
    },
    input: `/media/${name}`,
    output: `/out/${videoId}`,
    options: { ladder: 'default', segmentSeconds: 4 },
    tasks: [
      { id: 'probe', kind: 'probe', label: 'Probe input', dependsOn: [] },
      { id: 'encode-720p', kind: 'encode', label: 'Encode 720p', dependsOn: ['probe'] },
      { id: 'manifests', kind: 'manifests', label: 'Write manifests', dependsOn: ['encode-720p'] },
    ],
  };
}

export function sampleCompletion(videoId = 'v0123456789ab'): CompleteJobInput {
  return {
    video: { id: videoId, status: 'ready', durationSeconds: 10.01, properties: { loudnessLufs: -14.2 } },
    outputs: { hls: 'master.m3u8', dash: 'manifest.mpd', poster: 'poster.jpg' },
    timings: { probe: 0.25, encode: 12.5, manifests: 0.1 },
    renditions: [
      {
        name: 'h264-720p',
        kind: 'video',
        codec: 'h264',
        codecs: 'avc1.64001f',
        width: 1280,
        height: 720,
        frameRate: 29.97,
        averageBitrate: 2_400_123.6,
        peakBitrate: 3_100_000,
        targetBitrate: 2_500_000,
        sizeBytes: 3_000_000,
        segmentCount: 3,
        playlist: 'video/h264-720p/index.m3u8',
        init: 'video/h264-720p/init.mp4',
      },
      {
        name: 'aac-128k',
        kind: 'audio',
        codec: 'aac',
        codecs: 'mp4a.40.2',
        channels: 2,
        sampleRate: 48000,
        language: 'eng',
        averageBitrate: 128_400,
        peakBitrate: 131_000,
        sizeBytes: 160_000,
        segmentCount: 3,
        playlist: 'audio/aac-128k/index.m3u8',
        init: 'audio/aac-128k/init.mp4',
      },
    ],
    files: [
      { key: 'master.m3u8', bytes: 512, sha256: 'aa'.repeat(32) },
      { key: 'manifest.mpd', bytes: 2048, sha256: 'bb'.repeat(32) },
    ],
  };
}
