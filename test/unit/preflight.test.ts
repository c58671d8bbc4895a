import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { estimatePackageBytes, spaceNeeds } from '../../src/core/preflight.js';
import { assertFreeSpace, type FileSystemSpace } from '../../src/files/free-space.js';
import type { JobPlan } from '../../src/core/plan.js';
import { VidpipeError } from '../../src/errors.js';

/** A 100 s job: 3000 + 1000 kb/s of video and 128 kb/s of audio. */
const plan = {
  kind: 'video',
  segmentDurationSeconds: 6,
  durationSeconds: 100,
  video: { renditions: [{ codec: 'h264', bitrateKbps: 3000 }, { codec: 'h264', bitrateKbps: 1000 }] },
  audio: [{ bitrateKbps: 128 }],
} as unknown as JobPlan;

const MB = 1024 * 1024;

function disks(map: Record<string, FileSystemSpace>) {
  return async (path: string) => {
    const hit = Object.keys(map).find((prefix) => path.startsWith(prefix));
    if (!hit) throw Object.assign(new Error('no disk'), { code: 'ENOENT' });
    return map[hit]!;
  };
}

describe('free disk space preflight', () => {
  it('estimates the package from duration × the ladder bit rates (with a 10 % margin)', () => {
    assert.equal(estimatePackageBytes(plan), Math.ceil((100 * 4128 * 1000 * 1.1) / 8)); // ≈ 56.8 MB
  });

  it('passes when the work disk holds three copies and the output disk one', async () => {
    const needs = spaceNeeds(plan, '/work/x', '/out/y');
    await assertFreeSpace(needs, disks({ '/work': { device: 1, freeBytes: 200 * MB }, '/out': { device: 2, freeBytes: 80 * MB } }));
  });

  it('refuses with STORAGE_FAILED, the sizes and a hint when the work disk is too small', async () => {
    const needs = spaceNeeds(plan, '/work/x', '/out/y');
    await assert.rejects(
      assertFreeSpace(needs, disks({ '/work': { device: 1, freeBytes: 100 * MB }, '/out': { device: 2, freeBytes: 1000 * MB } })),
      (error: VidpipeError) =>
        error.code === 'STORAGE_FAILED' && error.exitCode === 1 && /needs about 1\d\d MB .*\/work\/x.*100 MB is free/.test(error.message) && /--work-dir/.test(error.hint ?? ''),
    );
  });

  it('refuses when a separate output disk cannot take the package', async () => {
    const needs = spaceNeeds(plan, '/work/x', '/out/y');
    await assert.rejects(assertFreeSpace(needs, disks({ '/work': { device: 1, freeBytes: 1000 * MB }, '/out': { device: 2, freeBytes: 20 * MB } })), /\/out\/y/);
  });

  it('counts work and output once on a shared disk, since publishing there is a rename', async () => {
    const needs = spaceNeeds(plan, '/data/work', '/data/out');
    // Three copies (≈ 187 MB with the fixed allowance) fit in 200 MB; a fourth would not.
    await assertFreeSpace(needs, disks({ '/data': { device: 7, freeBytes: 200 * MB } }));
  });
});
