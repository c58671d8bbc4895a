/**
 * Stream titles and language tags from the source are strangers' text: an MKV whose audio and
 * subtitle titles hold double quotes, line breaks, control characters, markup, and whose
 * language tags are not BCP 47, must make a package every strict parser reads, with nothing
 * written outside it. Before, the first double quote failed the job with INTERNAL after every
 * encode, and a subtitle language became a folder name.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { XMLParser } from 'fast-xml-parser';
import { startServer } from '../../src/serve/server.js';
import { readPlaylist, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { failed, validate } from '../helpers/validate-package.js';

const exec = promisify(execFile);

/** Rendition names are cut at this many characters (MAX_TITLE_CHARS). */
const MAX_TITLE_CHARS = 120;
const LONG = `${'Très long titre 🎬 '.repeat(20)}end`;
/** [title, language] of each audio stream, as the container holds them. */
const AUDIO: [string, string][] = [
  [`Director's "cut"`, 'e"n'],
  [`line\r\nbreak\x01\x1b]0;pwned\x07 <script>alert(1)</script> & co`, 'english'],
  // What the first title becomes in HLS: the two must still get different NAMEs.
  ['Director’s “cut”', 'eng'],
  [LONG, 'und'],
];
const SUBTITLE: [string, string][] = [
  ['Sub "1"\n</Label>', '../../../evil'],
  ['', 'fre'],
];
/** Characters XML 1.0 allows (§2.2 Char). */
const XML_CHARS = /^[\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

describe('hostile stream titles and language tags (end to end)', { timeout: 300_000 }, () => {
  let fixture: TranscodeFixture;
  let root: string;

  before(async () => {
    fixture = await transcodeFixture(async (dir) => {
      const srt = join(dir, 'cue.srt');
      await writeFile(srt, '1\n00:00:00,000 --> 00:00:01,000\nhello\n');
      const source = join(dir, 'film.mkv');
      await exec('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=10:duration=2',
        ...AUDIO.flatMap((_, i) => ['-f', 'lavfi', '-i', `sine=frequency=${300 + 100 * i}:sample_rate=48000:duration=2`]),
        ...SUBTITLE.flatMap(() => ['-i', srt]),
        ...Array.from({ length: 1 + AUDIO.length + SUBTITLE.length }, (_, i) => ['-map', String(i)]).flat(),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '48k', '-c:s', 'srt',
        ...AUDIO.flatMap(([title, language], i) => [`-metadata:s:a:${i}`, `title=${title}`, `-metadata:s:a:${i}`, `language=${language}`]),
        ...SUBTITLE.flatMap(([title, language], i) => [...(title ? [`-metadata:s:s:${i}`, `title=${title}`] : []), `-metadata:s:s:${i}`, `language=${language}`]),
        source,
      ]);
      return source;
    }, ['--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2', '--name', 'Film "x" <b>&amp;']);
    root = fixture.result.outputs?.root ?? join(fixture.dir, 'out', 'Film "x" <b>&amp;');
  });
  after(async () => fixture.cleanup());

  it('finishes the job (exit 0) and vidpipe validate passes', async () => {
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
    const report = await validate(root);
    assert.deepEqual(failed(report), []);
  });

  it('writes every title as an HLS NAME that strict parsers read whole: one line, no double quote, each rendition with its URI', async () => {
    const master = await readPlaylist(join(root, 'master.m3u8'));
    const text = await readFile(join(root, 'master.m3u8'), 'utf8');
    for (const line of text.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:'))) {
      assert.doesNotMatch(line.replace(/="[^"]*"/g, '='), /"/, line); // quotes only around whole values
      assert.doesNotMatch(line, /[\x00-\x1f\x7f]/, line);
    }
    const audio = master.variants[0].audio;
    const subtitles = master.variants[0].subtitles;
    assert.equal(audio.length, AUDIO.length);
    assert.equal(subtitles.length, SUBTITLE.length);
    for (const rendition of [...audio, ...subtitles]) assert.ok(rendition.uri, `${rendition.name} lost its URI`);
    const names = audio.map((a: any) => a.name);
    assert.equal(new Set(names).size, names.length, names.join(' | '));
    assert.equal(names[0], 'Director’s “cut”');
    assert.equal(names[1], 'line break ]0;pwned <script>alert(1)</script> & co');
    assert.match(names[2], /^Director’s “cut” \d$/);
    assert.ok([...names[3]].length <= MAX_TITLE_CHARS && names[3].startsWith('Très long titre 🎬') && names[3].endsWith('…'), names[3]);
    // Tags that are not BCP 47 are undetermined; ISO 639-2 becomes the shortest code.
    assert.deepEqual(audio.map((a: any) => a.language), ['und', 'und', 'en', 'und']);
    assert.deepEqual(subtitles.map((s: any) => [s.name, s.language]), [['Sub “1” </Label>', 'und'], ['Français', 'fr']]);
  });

  it('keeps every file inside the package: a language tag is no path', async () => {
    const files = await filesUnder(fixture.dir);
    assert.ok(!files.some((f) => f.includes('evil')), files.filter((f) => f.includes('evil')).join(', '));
    const subtitleFolders = files.filter((f) => f.includes('/subtitles/')).map((f) => f.split('/subtitles/')[1]!.split('/')[0]);
    assert.deepEqual([...new Set(subtitleFolders)].sort(), ['sub-fre', 'sub-und']);
  });

  it('writes an MPD of legal XML characters, with BCP 47 languages only', async () => {
    const text = await readFile(join(root, 'manifest.mpd'), 'utf8');
    assert.match(text, XML_CHARS);
    const mpd = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(text).MPD;
    const sets = [mpd.Period.AdaptationSet].flat();
    for (const set of sets.filter((s: any) => s.lang !== undefined)) assert.match(set.lang, /^(und|en|fr)$/);
  });

  it('serves the index, the player page and the report as HTML without markup or control characters from the names', async () => {
    const server = await startServer({ dir: join(root, '..'), port: 0, host: '127.0.0.1' });
    try {
      const index = await (await fetch(server.url)).text();
      const href = /<a href="([^"]+)"/.exec(index)?.[1];
      assert.ok(href, index);
      for (const page of [index, await (await fetch(new URL(href, server.url))).text(), await (await fetch(new URL(`${href}_vidpipe/report.html`, server.url))).text()]) {
        assert.doesNotMatch(page, /<b>|<script>alert|"x"/);
        assert.doesNotMatch(page, /[\x00-\x08\x0b\x0e-\x1f\x7f]/);
      }
    } finally {
      await server.close();
    }
  });
});
