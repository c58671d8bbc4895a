import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clipCues, parseWebVtt, planSubtitles, vttTime, writeSubtitleSegments } from '../../src/core/stages/subtitles.js';
import { parseSidecarSubtitle } from '../../src/settings/job-settings.js';
import type { MediaProbe } from '../../src/ffmpeg/probe.js';
import { tempDir } from '../helpers/media.js';

/** Any file that exists stands in for a sidecar: planning only checks that it is there. */
const SIDECAR = fileURLToPath(import.meta.url);

function probeWith(subtitleStreams: MediaProbe['subtitleStreams']): MediaProbe {
  return { path: 'in.mkv', sizeBytes: 1, container: 'matroska', durationSeconds: 10, startSeconds: 0, tags: {}, videoStreams: [], audioStreams: [], subtitleStreams, raw: {} };
}

describe('--subtitles values', () => {
  it('splits file:lang at the last colon, defaulting to und', () => {
    assert.deepEqual(parseSidecarSubtitle('subs/en.srt:en'), { path: 'subs/en.srt', language: 'en' });
    assert.deepEqual(parseSidecarSubtitle('a:b/c.srt:pt-BR'), { path: 'a:b/c.srt', language: 'pt-BR' });
    assert.deepEqual(parseSidecarSubtitle('captions.vtt'), { path: 'captions.vtt', language: 'und' });
    assert.throws(() => parseSidecarSubtitle(''), /--subtitles/);
  });
});

describe('planSubtitles', () => {
  it('keeps text streams, drops bitmap ones, adds sidecars, and makes ids and names unique', () => {
    const plans = planSubtitles(
      probeWith([
        { index: 2, codec: 'subrip', language: 'eng', isDefault: true },
        { index: 3, codec: 'hdmv_pgs_subtitle', language: 'eng', isDefault: false },
        { index: 4, codec: 'ass', language: 'eng', title: 'Signs', isDefault: true },
        { index: 5, codec: 'mov_text', isDefault: false },
      ]),
      [{ path: SIDECAR, language: 'eng' }],
    );
    assert.deepEqual(plans.map((p) => p.id), ['sub-eng', 'sub-eng-2', 'sub-und', 'sub-eng-3']);
    assert.deepEqual(plans.map((p) => p.name), ['English', 'Signs', 'Subtitles', 'English 2']);
    assert.deepEqual(plans.map((p) => p.isDefault), [true, false, false, false], 'one default per HLS group');
    assert.deepEqual(plans[3]!.from, { file: SIDECAR });
    assert.throws(() => planSubtitles(probeWith([]), [{ path: '/nonexistent/x.srt', language: 'en' }]), /does not exist/);
    assert.deepEqual(plans[0]!.from, { streamIndex: 2 });
  });
});

describe('WebVTT', () => {
  const text = 'WEBVTT\n\n00:00.500 --> 00:02.500\nHello <i>world</i>\n\n1\n01:00:03.000 --> 01:00:04.250 line:90%\nTwo\nlines\n';
  it('parses cues with and without hours, identifiers and settings', () => {
    assert.deepEqual(parseWebVtt(text), [
      { start: 0.5, end: 2.5, settings: '', text: 'Hello <i>world</i>' },
      { start: 3603, end: 3604.25, settings: 'line:90%', text: 'Two\nlines' },
    ]);
  });

  it('prints hh:mm:ss.mmm', () => {
    assert.equal(vttTime(3723.0456), '01:02:03.046');
  });

  it('clips cues to the presentation', () => {
    assert.deepEqual(clipCues([{ start: -1, end: 1, settings: '', text: 'a' }, { start: 9, end: 12, settings: '', text: 'b' }, { start: 10, end: 11, settings: '', text: 'c' }], 10).map((c) => [c.start, c.end]), [[0, 1], [9, 10]]);
  });

  it('segments on the video grid, repeating boundary-spanning cues, with the timestamp map', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const cues = [
        { start: 0.5, end: 2.5, settings: '', text: 'spans the first boundary' },
        { start: 4.2, end: 4.9, settings: '', text: 'last segment' },
      ];
      const written = await writeSubtitleSegments({
        packageDir: dir,
        track: { plan: { id: 'sub-en', from: { file: 'x' }, language: 'en', name: 'English', isDefault: false }, cues },
        segmentDurationSeconds: 2,
        durationSeconds: 5,
        mpegtsAtZero: 900000,
      });
      assert.deepEqual(written.segments.map((s) => [s.uri, s.durationSeconds]), [
        ['subtitles/sub-en/seg_00001.vtt', 2], ['subtitles/sub-en/seg_00002.vtt', 2], ['subtitles/sub-en/seg_00003.vtt', 1],
      ]);
      const texts = await Promise.all(written.segments.map((s) => readFile(join(dir, s.uri), 'utf8')));
      for (const segment of texts) assert.match(segment, /^WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:900000,LOCAL:00:00:00\.000\n/);
      assert.deepEqual(texts.map((t) => parseWebVtt(t).map((c) => c.text)), [['spans the first boundary'], ['spans the first boundary'], ['last segment']]);
      assert.deepEqual(parseWebVtt(await readFile(join(dir, written.vttUri), 'utf8')), cues);
      assert.deepEqual((await readdir(join(dir, 'subtitles', 'sub-en'))).sort(), ['full.vtt', 'seg_00001.vtt', 'seg_00002.vtt', 'seg_00003.vtt']);
    } finally {
      await cleanup();
    }
  });
});
