import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import fs, { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clipCues, extractSubtitles, parseWebVtt, planSubtitles, vttTime, writeSubtitleSegments } from '../../src/core/stages/subtitles.js';
import { FfmpegRunner } from '../../src/ffmpeg/runner.js';
import { checkSubtitleFile } from '../../src/core/stages/subtitle-file.js';
import { isVidpipeError } from '../../src/errors.js';
import { parseSidecarSubtitle } from '../../src/settings/job-settings.js';
import type { MediaProbe } from '../../src/ffmpeg/probe.js';
import { tempDir } from '../helpers/media.js';

/** A valid SRT beside this test's compiled file (test/fixtures is not copied to dist). */
const SIDECAR = fileURLToPath(new URL('./subtitles-sidecar.srt', import.meta.url));
writeFileSync(SIDECAR, '1\n00:00:01,000 --> 00:00:02,000\nHello\n');

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

describe('sidecar subtitle files are read strictly', () => {
  const GOOD = '1\n00:00:00,500 --> 00:00:01,000\nGood one\n\n';
  const GOOD_TWO = '9\n00:00:01,600 --> 00:00:01,900\nGood two\n';

  async function withFile<T>(content: string | Buffer, body: (file: string) => T): Promise<T> {
    const { dir, cleanup } = await tempDir();
    try {
      const file = join(dir, 'captions.srt');
      await writeFile(file, content);
      return body(file);
    } finally {
      await cleanup();
    }
  }

  /** Refused with exit 2, the message naming the file and matching `pattern`. */
  function refused(pattern: RegExp) {
    return (error: unknown) => {
      assert.ok(isVidpipeError(error), String(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /^--subtitles \S+captions\.srt: /);
      assert.match(error.message, pattern);
      return true;
    };
  }

  it('refuses what is not subtitles at all, naming the file (and the line where there is one)', async () => {
    const garbage = Buffer.alloc(3000);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 256;
    const cases: [string | Buffer, RegExp][] = [
      [garbage, /not text \(binary data\)/],
      ['', /the file is empty/],
      ['\n \r\n\n', /the file is empty/],
      ['just some words\nno cues here\n', /no valid cue; line 1: text without a timing line/],
      ['1\n00:00:61,000 --> 00:00:62,000\nBad\n\n2\nxx --> yy\nBad\n', /no valid cue; line 2: "00:00:61,000" has seconds past 59/],
      [Buffer.from('1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9\n', 'latin1'), /not UTF-8 text \(line 3 has a byte UTF-8 does not allow there\)/],
      [Buffer.from('1\n00:00:01,000 --> 00:00:02,000\nHi\n', 'utf16le'), /UTF-16 text without a byte-order mark/],
    ];
    for (const [content, pattern] of cases) await withFile(content, (file) => assert.throws(() => checkSubtitleFile(file), refused(pattern)));
  });

  it('leaves out each bad cue among good ones with a note naming its line, never as text', async () => {
    const srt =
      GOOD +
      '2\n00:00:61,000 --> 00:00:62,000\nBad seconds\n\n' +
      '3\n00:61:00,000 --> 00:62:00,000\nBad minutes\n\n' +
      '4\nxx --> 00:00:01,500\nBad xx\n\n' +
      '5\n00:00:01,500 --> 00:00:01,200\nBackwards\n\n' +
      '6\n00:00:01,200 00:00:01,600\nNo arrow\n\n' +
      GOOD_TWO;
    const checked = await withFile(srt, checkSubtitleFile);
    assert.equal(checked.cues, 2);
    assert.equal(checked.text, '1\n00:00:00,500 --> 00:00:01,000\nGood one\n\n9\n00:00:01,600 --> 00:00:01,900\nGood two\n');
    const lines = checked.notes.map((note) => /: line (\d+): /.exec(note)?.[1]);
    assert.deepEqual(lines, ['6', '10', '14', '18', '22']);
    assert.match(checked.notes[0]!, /seconds past 59/);
    assert.match(checked.notes[1]!, /minutes past 59/);
    assert.match(checked.notes[2]!, /"xx" is not a timestamp/);
    assert.match(checked.notes[3]!, /ends \(00:00:01,200\) before it starts/);
    assert.match(checked.notes[4]!, /no '-->'/);
    for (const note of checked.notes) assert.match(note, /^--subtitles \S+captions\.srt: line \d+: .*; the cue is left out$/);
  });

  it('keeps cue text that holds "-->": only the line in the timing place is a timing line', async () => {
    const srt =
      '1\n00:00:01,000 --> 00:00:02,000\nNext --> exit\n\n' +
      '00:00:02,000 --> 00:00:03,000\n<-- back -->\nA --> B --> C\n\n' +
      '3\nxx --> 00:00:04,000\nBroken --> still\n\n' +
      '4\n00:00:04,000 --> 00:00:05,000\nLast line\n5\n00:00:05,000 --> 00:00:06,000\nNo blank line above\n';
    const checked = await withFile(srt, checkSubtitleFile);
    assert.equal(checked.cues, 4);
    assert.match(checked.text, /^1\n00:00:01,000 --> 00:00:02,000\nNext --> exit\n\n/);
    assert.match(checked.text, /\n<-- back -->\nA --> B --> C\n/);
    assert.match(checked.text, /\nLast line\n\n5\n00:00:05,000 --> 00:00:06,000\nNo blank line above\n$/);
    assert.ok(!checked.text.includes('Broken'), checked.text);
    assert.deepEqual(checked.notes.map((note) => /line (\d+): (.*)/.exec(note)?.slice(1, 3).join(': ')), ['10: "xx" is not a timestamp (HH:MM:SS,mmm) in "xx --> 00:00:04,000"; the cue is left out']);
    const vtt = await withFile('WEBVTT\n\nintro\n00:01.000 --> 00:02.000\nGo --> there\n\n00:02.000 --> 00:03.000\nx --> y\n', checkSubtitleFile);
    assert.deepEqual([vtt.cues, vtt.notes], [2, []]);
    assert.match(vtt.text, /Go --> there\n\n00:00:02.000 --> 00:00:03.000\nx --> y\n$/);
  });

  it('reads SRT timestamps as ffmpeg does (short fields, 1-3 fraction digits, , or .) and writes them canonically; WebVTT stays strict', async () => {
    const srt =
      '1\n00:00:01,50 --> 00:00:02,00\nTwo digits\n\n' +
      '2\n0:00:01,5 --> 0:0:2,05\nShort fields\n\n' +
      '3\n00:00:03.250 --> 00:00:04.2 X1:10 X2:20 Y1:5 Y2:9\nDots\n\n' +
      '4\n123:4:5,678 --> 123:04:05,9\nLong hours\n\n' +
      '5\n00:00:01,5000 --> 00:00:02,000\nFour digits\n\n' +
      '6\n00:00:1,5 --> 00:00:61,5\nStill past 59\n\n' +
      '7\n00:00:01, --> 00:00:02,000\nNo digits\n';
    const checked = await withFile(srt, checkSubtitleFile);
    assert.equal(checked.cues, 4);
    assert.deepEqual(
      checked.text.split('\n\n').map((cue) => cue.split('\n')[1]),
      ['00:00:01,500 --> 00:00:02,000', '00:00:01,500 --> 00:00:02,050', '00:00:03,250 --> 00:00:04,200 X1:10 X2:20 Y1:5 Y2:9', '123:04:05,678 --> 123:04:05,900'],
    );
    assert.deepEqual(checked.notes.map((note) => /line (\d+): "([^"]+)"/.exec(note)?.slice(1, 3).join(' ')), ['18 00:00:01,5000', '22 00:00:61,5', '26 00:00:01,']);
    const vtt = await withFile('WEBVTT\n\n00:01.5 --> 00:02.000\nShort\n\n00:00:01,000 --> 00:00:02.000\nComma\n\n0:01.000 --> 00:02.000\nOne-digit minutes\n\n1:00:01.000 --> 1:00:02.000\nOne-digit hours\n\n00:01.000 --> 01:02:03.004\nGood\n', checkSubtitleFile);
    assert.equal(vtt.text, 'WEBVTT\n\n00:00:01.000 --> 01:02:03.004\nGood\n');
    assert.deepEqual(vtt.notes.map((note) => /line (\d+): "([^"]+)" is not a timestamp \(HH:MM:SS.mmm or MM:SS.mmm\)/.exec(note)?.slice(1, 3).join(' ')), ['3 00:01.5', '6 00:00:01,000', '9 0:01.000', '12 1:00:01.000']);
  });

  it('reads UTF-8 with a BOM, CRLF line ends, UTF-16 with a BOM and WebVTT as valid', async () => {
    const clean = await withFile('\uFEFF' + (GOOD + GOOD_TWO).replace(/\n/g, '\r\n'), checkSubtitleFile);
    assert.deepEqual([clean.cues, clean.notes], [2, []]);
    assert.ok(!clean.text.includes('\r') && !clean.text.includes('\uFEFF'));
    for (const [bom, encoding] of [[[0xff, 0xfe], 'utf16le'], [[0xfe, 0xff], 'utf16be']] as const) {
      const body = Buffer.from(GOOD.trimEnd() + '\nCafé ✓\n', 'utf16le');
      if (encoding === 'utf16be') body.swap16();
      const utf16 = await withFile(Buffer.concat([Buffer.from(bom), body]), checkSubtitleFile);
      assert.equal(utf16.cues, 1);
      assert.match(utf16.text, /Good one\nCafé ✓/);
      assert.match(utf16.notes[0]!, /read as UTF-16(LE|BE) \(byte-order mark\) and converted to UTF-8/);
    }
    const vtt = await withFile('WEBVTT - captions\n\nNOTE a comment\n\nintro\n00:00.500 --> 00:01.000 line:90%\nHello\n\n00:00:01.000 --> 00:00:00.900\nBackwards\n', checkSubtitleFile);
    assert.equal(vtt.format, 'vtt');
    assert.equal(vtt.text, 'WEBVTT\n\nintro\n00:00:00.500 --> 00:00:01.000 line:90%\nHello\n');
    assert.deepEqual(vtt.notes.map((note) => /line (\d+)/.exec(note)?.[1]), ['9']);
    // The plain header, alone on its line (LF or CRLF), with and without a BOM: WebVTT, every cue kept.
    for (const header of ['WEBVTT\n', 'WEBVTT\r\n', '\uFEFFWEBVTT\n']) {
      const plain = await withFile(`${header}\n00:00.000 --> 00:03.000\nhello\n\n00:03.000 --> 00:05.500\nworld\n`, checkSubtitleFile);
      assert.deepEqual([plain.format, plain.cues, plain.notes], ['vtt', 2, []], JSON.stringify(header));
    }
  });

  it('reads a sidecar once for planning and extraction, and again only once it has changed', async () => {
    const { dir, cleanup } = await tempDir();
    // readFileSync as the stage modules see it (their named import follows fs after syncBuiltinESMExports).
    const reads: string[] = [];
    const readFileSync = fs.readFileSync;
    mock.method(fs, 'readFileSync', (...args: Parameters<typeof readFileSync>) => (reads.push(String(args[0])), readFileSync(...args)));
    syncBuiltinESMExports();
    try {
      const file = join(dir, 'captions.srt');
      await writeFile(file, GOOD);
      const first = checkSubtitleFile(file);
      assert.equal(checkSubtitleFile(file), first, 'the same check while the file is unchanged');
      const plans = planSubtitles(probeWith([]), [{ path: file, language: 'en' }]);
      const ffmpeg = new FfmpegRunner({ binaries: { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' }, stallTimeoutMs: 0, cores: 1, parallelEncodes: 1 }, new AbortController().signal);
      const extracted = await extractSubtitles({ source: join(dir, 'unused.mp4'), tracks: plans }, { ffmpeg, signal: new AbortController().signal, onProgress: () => {}, workDir: dir });
      assert.deepEqual(extracted.tracks[0]!.cues.map((cue) => [cue.start, cue.end, cue.text]), [[0.5, 1, 'Good one']]);
      assert.deepEqual(reads.filter((path) => path === file), [file], 'checked, planned and extracted: read once');
      // Rewritten, even to the same size: read again.
      await writeFile(file, GOOD.replace('Good one', 'Good two'));
      assert.match(checkSubtitleFile(file).text, /Good two/);
      assert.equal(reads.filter((path) => path === file).length, 2);
    } finally {
      mock.restoreAll();
      syncBuiltinESMExports();
      await cleanup();
    }
  });

  it('planning refuses a bad sidecar before any encode and carries the notes of a partly bad one', async () => {
    await withFile(Buffer.from([0, 1, 2, 3, 255, 254, 0, 0, 7, 8, 0]), (file) =>
      assert.throws(() => planSubtitles(probeWith([]), [{ path: file, language: 'en' }]), refused(/binary data/)),
    );
    const plans = await withFile(GOOD + '2\n00:00:01,000 --> 00:00:0x,000\nBad\n', (file) => planSubtitles(probeWith([]), [{ path: file, language: 'en' }]));
    assert.match(plans[0]!.notes?.[0] ?? '', /line 6: "00:00:0x,000" is not a timestamp/);
  });
});
