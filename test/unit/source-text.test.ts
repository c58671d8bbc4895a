/**
 * Text from the source (stream titles, language tags) on its way into names, folders and the
 * formats vidpipe writes: what enters is one line of text and a well-formed tag or nothing,
 * and each format's writer makes the rest safe (HLS in manifest-hls, XML in manifest-dash).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planJob } from '../../src/core/plan.js';
import { planSubtitles } from '../../src/core/stages/subtitles.js';
import { parseProbe, type MediaProbe } from '../../src/ffmpeg/probe.js';
import { MAX_TITLE_CHARS, containerLanguage, manifestLanguage, sourceLanguage, titleName } from '../../src/manifest/language.js';
import { escapeHtml } from '../../src/report/html.js';
import { DEFAULT_SETTINGS } from '../../src/settings/job-settings.js';

const NOT_TAGS = ['e"n', 'english', 'English (US)', '../../evil', 'en\nfr', 'en"', '', 'x-klingon', 'und', 'UND', 'und-Latn', '1234', 'e'];

describe('source language tags', () => {
  it('keeps a well-formed ISO 639 tag as it stands, and nothing else', () => {
    for (const tag of ['eng', 'en', 'fre', 'pt-BR', 'zh-Hant-TW', 'ENG']) assert.equal(sourceLanguage(tag), tag);
    for (const tag of [...NOT_TAGS, undefined]) assert.equal(sourceLanguage(tag), undefined, JSON.stringify(tag));
  });

  it('makes every tag a BCP 47 language for the manifests: "und" for the rest', () => {
    assert.deepEqual(['eng', 'fre', 'ENG', 'pt-br'].map(manifestLanguage), ['en', 'fr', 'en', 'pt-BR']);
    for (const tag of NOT_TAGS) assert.equal(manifestLanguage(tag), 'und', JSON.stringify(tag));
  });

  it('gives an MP4 track header the ISO 639-2/T code of the manifest language: "und" for the rest', () => {
    assert.deepEqual(
      ['en', 'fr', 'fre', 'de', 'ger', 'pt-BR', 'zh-Hant-TW', 'gsw', 'bo', 'nb'].map(containerLanguage),
      ['eng', 'fra', 'fra', 'deu', 'deu', 'por', 'zho', 'gsw', 'bod', 'nob'],
    );
    for (const tag of [...NOT_TAGS, undefined]) assert.equal(containerLanguage(tag), 'und', JSON.stringify(tag));
  });

  it('is read from the probe that way, so no junk tag reaches a plan', () => {
    const probe = parseProbe('/x.mkv', 1, {
      streams: NOT_TAGS.map((language, index) => ({ index, codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000', tags: { language } })) as never,
      format: { format_name: 'matroska,webm', duration: '1' },
    });
    assert.deepEqual(probe.audioStreams.map((s) => s.language), NOT_TAGS.map(() => undefined));
  });
});

describe('stream titles as rendition names', () => {
  it('makes one line of text: line breaks, tabs and control characters become one space', () => {
    assert.equal(titleName('Director\'s "cut"'), 'Director\'s "cut"');
    assert.equal(titleName('  line\r\nbreak\tand\x01\x1b[2Jmore\u2028end  '), 'line break and [2Jmore end');
    assert.equal(titleName('a\uD800b'), 'a b', 'a lone surrogate');
    assert.equal(titleName('日本語 🎬 <b>&amp;'), '日本語 🎬 <b>&amp;');
    assert.equal(titleName(' \r\n\x00 '), undefined);
    assert.equal(titleName(undefined), undefined);
  });

  it('cuts a very long title at a character, never inside a surrogate pair', () => {
    const name = titleName('🎬'.repeat(500))!;
    assert.equal([...name].length, MAX_TITLE_CHARS);
    assert.ok(name.endsWith('🎬…'));
    assert.doesNotMatch(name, /\p{Cs}/u, 'no lone surrogate');
  });

  it('names audio renditions and subtitles from cleaned titles, and subtitle folders from tags only', () => {
    const audio = (index: number, title: string, language: string) => ({ index, codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000', tags: { title, language } });
    const probe = parseProbe('/x.mkv', 1000, {
      streams: [
        { index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 180, avg_frame_rate: '25', r_frame_rate: '25', duration: '10', start_time: '0' },
        audio(1, 'Director\'s "cut"\r\n', 'e"n'),
        audio(2, '\x07', 'english'),
        audio(3, 'Director\'s "cut"', 'eng'),
      ] as never,
      format: { format_name: 'matroska,webm', duration: '10', start_time: '0' },
    });
    const plan = planJob(probe, { ...DEFAULT_SETTINGS, concurrency: 2, audioSampleRate: 48000 }, { av1Encoder: 'libsvtav1' });
    assert.deepEqual(plan.audio.map((a) => [a.language, a.name]), [['und', 'Director\'s "cut"'], ['und', 'Audio 2'], ['eng', 'Director\'s "cut" 3']]);

    const subtitles = planSubtitles({
      path: 'in.mkv', sizeBytes: 1, container: 'matroska', durationSeconds: 10, startSeconds: 0, tags: {}, videoStreams: [], audioStreams: [], raw: {},
      subtitleStreams: [
        { index: 1, codec: 'subrip', language: '../../../evil', title: 'Sub\n"1"', isDefault: false },
        { index: 2, codec: 'subrip', language: 'e"n/..', isDefault: false },
        { index: 3, codec: 'subrip', language: 'fre', isDefault: false },
      ],
    } satisfies MediaProbe);
    assert.deepEqual(subtitles.map((s) => [s.id, s.language, s.name]), [['sub-und', 'und', 'Sub "1"'], ['sub-und-2', 'und', 'Subtitles'], ['sub-fre', 'fre', 'Français']]);
  });
});

describe('escapeHtml', () => {
  it('escapes markup and drops what HTML forbids: control characters and lone surrogates', () => {
    assert.equal(escapeHtml('<script>alert("x")</script> & \'y\''), '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;');
    assert.equal(escapeHtml('a\x00b\x1b[2Jc\x7f\x85d\uDC00e'), 'ab[2Jcde');
    assert.equal(escapeHtml('tab\tline\nfeed\r 日本 🎬'), 'tab\tline\nfeed\r 日本 🎬');
  });
});
