/**
 * Two subtitle tracks of one language (a film's English subtitles and an English SDH or a second
 * translation): each is its own DASH text AdaptationSet, told apart by its Label, and the package
 * validates. Before, the validator took the second set for a duplicate of the first.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClip } from '../helpers/media.js';
import { readMpd, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { validate } from '../helpers/validate-package.js';

describe('two subtitle tracks of one language (end to end)', { timeout: 300_000 }, () => {
  let fixture: TranscodeFixture;

  before(async () => {
    fixture = await transcodeFixture(
      async (dir) => {
        await writeFile(join(dir, 'one.srt'), '1\n00:00:00,500 --> 00:00:01,500\nOne\n');
        await writeFile(join(dir, 'two.srt'), '1\n00:00:01,000 --> 00:00:02,000\nTwo\n');
        return makeClip(join(dir, 'clip.mp4'), { durationSeconds: 3, width: 320, height: 180 });
      },
      (dir) => [
        '--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2',
        '--subtitles', `${join(dir, 'one.srt')}:en`, '--subtitles', `${join(dir, 'two.srt')}:en`,
      ],
    );
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
  });
  after(async () => fixture.cleanup());

  it('writes one labelled text AdaptationSet per track, with distinct labels', async () => {
    const { mpd } = await readMpd(fixture.result.outputs.dash);
    const text = mpd.Period[0].AdaptationSet.filter((set: any) => set.contentType === 'text');
    assert.equal(text.length, 2);
    assert.deepEqual(text.map((set: any) => set.lang), ['en', 'en']);
    const labels = text.map((set: any) => [set.Label ?? []].flat().map((label: any) => String(label?.['#text'] ?? label)).join(''));
    assert.ok(labels.every((label: string) => label.length > 0), `labels: ${labels.join(', ')}`);
    assert.notEqual(labels[0], labels[1]);
  });

  it('passes vidpipe validate', async () => {
    const report = await validate(join(fixture.dir, 'out', 'clip'));
    const failed = report.checks.filter((check) => check.status === 'fail');
    assert.deepEqual(failed, []);
  });
});
