import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { XMLParser } from 'fast-xml-parser';
import { parse as parseMpd, type ParsedManifest, type ParsedPlaylist } from 'mpd-parser';
import { escapeXml, writeMpd } from '../../src/manifest/dash.js';
import type { PackageModel, TrackBase } from '../../src/manifest/model.js';
import {
  AUDIO_TIMESCALE,
  DURATION_SECONDS,
  VIDEO_TIMESCALE,
  audioTrack,
  sampleModel,
  videoTrack,
} from '../helpers/manifest-model.js';

const BASE = 'http://x/';

/** Attribute values stay strings, so tests compare exactly what was written. */
interface XmlNode {
  [key: string]: string | XmlNode[] | undefined;
}

const REPEATED = new Set(['Period', 'AdaptationSet', 'Representation', 'Role', 'S', 'SegmentURL']);
const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => REPEATED.has(name) });

function parseXml(text: string): XmlNode {
  return (xml.parse(text) as { MPD: XmlNode }).MPD;
}

function children(node: XmlNode, name: string): XmlNode[] {
  return (node[name] as XmlNode[] | undefined) ?? [];
}

function child(node: XmlNode, name: string): XmlNode {
  const value = node[name] as XmlNode | undefined;
  assert.ok(value, `expected <${name}>`);
  return value;
}

function adaptationSets(mpd: XmlNode): XmlNode[] {
  return children(children(mpd, 'Period')[0], 'AdaptationSet');
}

function parseWithMpdParser(text: string): ParsedManifest {
  const warnings: string[] = [];
  const manifest = parseMpd(text, {
    manifestUri: `${BASE}manifest.mpd`,
    eventHandler: (event) => warnings.push(`${event.type}: ${event.message}`),
  });
  assert.deepEqual(warnings, []);
  return manifest;
}

/** Every Representation mpd-parser found, video and audio, by id. */
function parsedPlaylists(manifest: ParsedManifest): Map<string, ParsedPlaylist> {
  const audio = Object.values(manifest.mediaGroups.AUDIO).flatMap((group) =>
    Object.values(group).flatMap((rendition) => rendition.playlists),
  );
  return new Map([...manifest.playlists, ...audio].map((playlist) => [playlist.attributes.NAME, playlist]));
}

function assertExpandsToTrackFiles(playlist: ParsedPlaylist | undefined, track: TrackBase): void {
  assert.ok(playlist, `Representation ${track.id}`);
  assert.deepEqual(
    playlist.segments.map((segment) => segment.resolvedUri),
    track.segments.map((segment) => `${BASE}${segment.uri}`),
  );
  assert.deepEqual(
    playlist.segments.map((segment) => segment.duration),
    track.segments.map((segment) => segment.duration / track.timescale),
  );
  assert.ok(playlist.segments.every((segment) => segment.map?.resolvedUri === `${BASE}${track.initUri}`));
}

/** Σ S@d·(r+1) / timescale: the time a SegmentTimeline covers. */
function timelineSeconds(addressing: XmlNode): number {
  const entries = children(child(addressing, 'SegmentTimeline'), 'S');
  const units = entries.reduce((sum, s) => sum + Number(s.d) * (Number(s.r ?? 0) + 1), 0);
  return units / Number(addressing.timescale);
}

/** The sample package plus an AV1 ladder next to the H.264 one. */
function twoCodecModel(): PackageModel {
  const model = sampleModel();
  model.videos.push(
    videoTrack('av1-720p', 'av1', 1280, 720, 2_000_000, 1_700_000),
    videoTrack('av1-1080p', 'av1', 1920, 1080, 3_600_000, 3_100_000, { frameRate: { num: 60, den: 2 } }),
  );
  return model;
}

describe('writeMpd', () => {
  it('writes a static MPD with the live and CMAF profiles, ISO 8601 durations and one Period at 0', () => {
    const text = writeMpd(sampleModel());
    const mpd = parseXml(text);
    assert.ok(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<MPD '));
    assert.equal(mpd.xmlns, 'urn:mpeg:dash:schema:mpd:2011');
    assert.equal(mpd.type, 'static');
    assert.equal(mpd.profiles, 'urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019');
    assert.equal(mpd.mediaPresentationDuration, 'PT13.013S');
    // The longest measured segment: at peak bandwidth it downloads within its own duration.
    assert.equal(mpd.minBufferTime, 'PT6.006S');
    const periods = children(mpd, 'Period');
    assert.equal(periods.length, 1);
    assert.equal(periods[0].start, 'PT0S');
    assert.equal(parseWithMpdParser(text).duration, DURATION_SECONDS);
  });

  it('writes whole-second durations without a fraction', () => {
    const mpd = parseXml(writeMpd({ ...sampleModel(), durationSeconds: 120 }));
    assert.equal(mpd.mediaPresentationDuration, 'PT120S');
  });

  it('splits video AdaptationSets per codec and gives every set a unique id', () => {
    const sets = adaptationSets(parseXml(writeMpd(twoCodecModel())));
    const ids = sets.map((set) => set.id);
    assert.equal(new Set(ids).size, ids.length);
    const video = sets.filter((set) => set.contentType === 'video');
    assert.equal(video.length, 2);
    const [h264, av1] = video;
    assert.deepEqual(
      children(h264, 'Representation').map((r) => r.codecs),
      ['avc1.64001f', 'avc1.64001f', 'avc1.64001f'],
    );
    assert.deepEqual(
      children(av1, 'Representation').map((r) => r.codecs),
      ['av01.0.08M.08', 'av01.0.08M.08'],
    );
    for (const set of sets) {
      assert.equal(set.segmentAlignment, 'true');
      assert.equal(set.startWithSAP, '1');
    }
    assert.deepEqual(
      [h264.mimeType, h264.maxWidth, h264.maxHeight, h264.maxFrameRate],
      ['video/mp4', '1280', '720', '30000/1001'],
    );
    // 60/2 reduces to 30, which is above 29.97, so it is the set's maximum.
    assert.deepEqual([av1.maxWidth, av1.maxHeight, av1.maxFrameRate], ['1920', '1080', '30']);
  });

  it('writes video Representations with id, peak bandwidth, codecs, size, frame rate and sar, by ascending bandwidth', () => {
    const model = sampleModel();
    const [h264] = adaptationSets(parseXml(writeMpd(model)));
    const representations = children(h264, 'Representation');
    assert.deepEqual(
      representations.map((r) => [r.id, r.bandwidth, r.width, r.height, r.frameRate, r.sar]),
      [
        ['h264-360p', '500000', '640', '360', '30000/1001', '1:1'],
        ['h264-540p', '2300000', '960', '540', '30000/1001', '1:1'],
        ['h264-720p', '3500000', '1280', '720', '30000/1001', '1:1'],
      ],
    );
    const parsed = parsedPlaylists(parseWithMpdParser(writeMpd(model)));
    assert.equal(parsed.get('h264-720p')?.attributes.BANDWIDTH, 3_500_000);
    assert.deepEqual(parsed.get('h264-720p')?.attributes.RESOLUTION, { width: 1280, height: 720 });
  });

  it('addresses segments with a $Number%05d$ template that expands to the real files', () => {
    const model = twoCodecModel();
    const text = writeMpd(model);
    const template = child(children(adaptationSets(parseXml(text))[0], 'Representation')[0], 'SegmentTemplate');
    assert.equal(template.media, 'video/$RepresentationID$/seg_$Number%05d$.m4s');
    assert.equal(template.initialization, 'video/$RepresentationID$/init.mp4');
    assert.equal(template.startNumber, '1');
    assert.equal(template.timescale, String(VIDEO_TIMESCALE));
    const parsed = parsedPlaylists(parseWithMpdParser(text));
    for (const track of [...model.videos, ...model.audios]) assertExpandsToTrackFiles(parsed.get(track.id), track);
  });

  it('run-length encodes the measured timeline, covering the presentation duration', () => {
    const model = sampleModel();
    const [h264] = adaptationSets(parseXml(writeMpd(model)));
    const template = child(children(h264, 'Representation')[0], 'SegmentTemplate');
    assert.deepEqual(children(child(template, 'SegmentTimeline'), 'S'), [
      { t: '0', d: '540540', r: '1' },
      { d: '90090' },
    ]);
    assert.ok(Math.abs(timelineSeconds(template) - DURATION_SECONDS) < 1e-9);
  });

  it('restates S@t where the measured start does not follow the previous segment', () => {
    const model = sampleModel();
    const track = model.audios[0];
    // Segments 1 and 2 last equally long, but 2 (and so 3) starts 1024 units late: no shared run.
    track.segments = track.segments.map((segment, index) =>
      index === 0 ? segment : { ...segment, startTime: segment.startTime + 1024 },
    );
    const sets = adaptationSets(parseXml(writeMpd(model)));
    const audio = sets.find((set) => children(set, 'Representation')[0].id === track.id)!;
    const timeline = child(child(children(audio, 'Representation')[0], 'SegmentTemplate'), 'SegmentTimeline');
    assert.deepEqual(children(timeline, 'S'), [
      { t: '0', d: '288288' },
      { t: String(288288 + 1024), d: '288288' },
      { d: '48048' },
    ]);
  });

  it('numbers a single-segment track by its segment number, not by digits earlier in the path', () => {
    const model = sampleModel();
    const track = model.videos[0];
    track.segments = track.segments.slice(0, 1);
    const text = writeMpd(model);
    const representation = children(adaptationSets(parseXml(text))[0], 'Representation').find(
      (r) => r.id === track.id,
    )!;
    const template = child(representation, 'SegmentTemplate');
    assert.equal(template.media, 'video/$RepresentationID$/seg_$Number%05d$.m4s');
    assert.equal(template.startNumber, '1');
  });

  it('uses $Number$ without padding and the real start number when names are not zero-padded', () => {
    const model = sampleModel();
    const track = model.audios[0];
    track.segments = Array.from({ length: 12 }, (_, index) => ({
      uri: `audio/aac-en/chunk-${index}.m4s`,
      bytes: 1,
      startTime: index * AUDIO_TIMESCALE,
      duration: AUDIO_TIMESCALE,
    }));
    const text = writeMpd(model);
    const audio = adaptationSets(parseXml(text)).find((set) => set.lang === 'en' && set.contentType === 'audio')!;
    const template = child(children(audio, 'Representation')[0], 'SegmentTemplate');
    assert.equal(template.media, 'audio/$RepresentationID$/chunk-$Number$.m4s');
    assert.equal(template.startNumber, '0');
    assertExpandsToTrackFiles(parsedPlaylists(parseWithMpdParser(text)).get(track.id), track);
  });

  it('falls back to a SegmentList when the names do not follow one numbered pattern', () => {
    const model = sampleModel();
    const track = model.videos[1];
    const names = ['intro.m4s', 'seg_2.m4s', 'seg_4.m4s'];
    track.segments = track.segments.map((segment, index) => ({ ...segment, uri: `video/h264-360p/${names[index]}` }));
    const text = writeMpd(model);
    const representation = children(adaptationSets(parseXml(text))[0], 'Representation').find(
      (r) => r.id === track.id,
    )!;
    assert.equal(representation.SegmentTemplate, undefined);
    const list = child(representation, 'SegmentList');
    assert.equal(child(list, 'Initialization').sourceURL, track.initUri);
    assert.deepEqual(
      children(list, 'SegmentURL').map((url) => url.media),
      track.segments.map((segment) => segment.uri),
    );
    assertExpandsToTrackFiles(parsedPlaylists(parseWithMpdParser(text)).get(track.id), track);
  });

  it('escapes "$" in template literals so the template still expands to the real names', () => {
    const model = sampleModel();
    const track = model.videos[0];
    track.initUri = 'video/a$b/init.mp4';
    track.segments = track.segments.map((segment) => ({ ...segment, uri: segment.uri.replace('h264-720p', 'a$b') }));
    const text = writeMpd(model);
    const representation = children(adaptationSets(parseXml(text))[0], 'Representation').find(
      (r) => r.id === track.id,
    )!;
    assert.equal(child(representation, 'SegmentTemplate').media, 'video/a$$b/seg_$Number%05d$.m4s');
    assertExpandsToTrackFiles(parsedPlaylists(parseWithMpdParser(text)).get(track.id), track);
  });

  it('writes audio sets per codec and language with lang, Role main on the default (alternate on the others), sampling rate and channels', () => {
    const sets = adaptationSets(parseXml(writeMpd(sampleModel()))).filter((set) => set.contentType === 'audio');
    assert.deepEqual(
      sets.map((set) => [set.lang, set.mimeType, children(set, 'Representation').map((r) => r.id)]),
      [
        ['en', 'audio/mp4', ['aac-en']],
        ['fr', 'audio/mp4', ['aac-fr']],
        ['en', 'audio/mp4', ['opus-en']],
      ],
    );
    assert.deepEqual(
      sets.map((set) => children(set, 'Role').map((role) => [role.schemeIdUri, role.value])),
      [[['urn:mpeg:dash:role:2011', 'main']], [['urn:mpeg:dash:role:2011', 'alternate']], [['urn:mpeg:dash:role:2011', 'main']]],
    );
    const aac = children(sets[0], 'Representation')[0];
    assert.deepEqual([aac.bandwidth, aac.codecs, aac.audioSamplingRate], ['140000', 'mp4a.40.2', '48000']);
    assert.deepEqual(child(aac, 'AudioChannelConfiguration'), {
      schemeIdUri: 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011',
      value: '2',
    });
  });

  it('keeps two AAC bit rates of one language in one set, and splits a second codec', () => {
    const model = sampleModel();
    model.audios = [
      audioTrack('aac-en-64k', 'aac', 'en', 'English 64k', 70_000, 64_000),
      audioTrack('aac-en-128k', 'aac', 'en', 'English 128k', 140_000, 128_000, { isDefault: true }),
      audioTrack('opus-en', 'opus', 'en', 'English', 100_000, 96_000),
    ];
    const sets = adaptationSets(parseXml(writeMpd(model))).filter((set) => set.contentType === 'audio');
    assert.deepEqual(
      sets.map((set) => children(set, 'Representation').map((r) => r.id)),
      [['aac-en-64k', 'aac-en-128k'], ['opus-en']],
    );
    assert.deepEqual(
      sets.map((set) => children(set, 'Role').map((role) => role.value)),
      [['main'], ['alternate']],
    );
  });

  it('puts 5.1 in sets of its own, labelled apart from stereo, with the E-AC-3 layout in Dolby\'s scheme', () => {
    const model = sampleModel();
    model.audios = [
      audioTrack('aac-128k', 'aac', 'en', 'English', 140_000, 128_000, { isDefault: true, role: 'main' }),
      audioTrack('aac-5.1-384k', 'aac', 'en', 'English', 400_000, 384_000, { channels: 6, isDefault: true, role: 'main' }),
      audioTrack('eac3-5.1-192k', 'eac3', 'en', 'English', 200_000, 192_000, { channels: 6, codecs: 'ec-3', isDefault: true, role: 'main' }),
    ];
    const sets = adaptationSets(parseXml(writeMpd(model))).filter((set) => set.contentType === 'audio');
    assert.deepEqual(
      sets.map((set) => [children(set, 'Representation').map((r) => `${r.id}/${r.codecs}`).join(), set.Label, children(set, 'Role').map((role) => role.value).join()]),
      [['aac-128k/mp4a.40.2', 'English', 'main'], ['aac-5.1-384k/mp4a.40.2', 'English 5.1', 'main'], ['eac3-5.1-192k/ec-3', undefined, 'main']],
    );
    const configuration = (set: XmlNode) => child(children(set, 'Representation')[0], 'AudioChannelConfiguration');
    assert.deepEqual(configuration(sets[1]), { schemeIdUri: 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011', value: '6' });
    // DASH-IF IOP §9.2.1.2: E-AC-3 says its speakers as the ETSI TS 102 366 channel mask (L C R Ls Rs LFE).
    assert.deepEqual(configuration(sets[2]), { schemeIdUri: 'tag:dolby.com,2014:dash:audio_channel_configuration:2011', value: 'F801' });
  });

  it('writes each subtitle track as a text/vtt set whose BaseURL is the WebVTT file', () => {
    const text = writeMpd(sampleModel());
    const [set] = adaptationSets(parseXml(text)).filter((s) => s.contentType === 'text');
    assert.deepEqual([set.mimeType, set.lang], ['text/vtt', 'en']);
    const representation = children(set, 'Representation')[0];
    assert.equal(representation.id, 'sub-en');
    assert.equal(representation.BaseURL, 'subtitles/sub-en/full.vtt');
    const subtitles = Object.values(parseWithMpdParser(text).mediaGroups.SUBTITLES).flatMap((group) =>
      Object.values(group),
    );
    assert.equal(subtitles[0].playlists[0].resolvedUri, `${BASE}subtitles/sub-en/full.vtt`);
  });

  it('XML-escapes attribute values and text', () => {
    const model = sampleModel();
    model.audios[1].language = 'fr"&<x>';
    model.subtitles[0].vttUri = 'subtitles/a&b.vtt';
    const text = writeMpd(model);
    assert.match(text, /lang="fr&quot;&amp;&lt;x&gt;"/);
    const sets = adaptationSets(parseXml(text));
    assert.ok(sets.some((set) => set.lang === 'fr"&<x>'));
    const textSet = sets.find((set) => set.contentType === 'text')!;
    assert.equal(children(textSet, 'Representation')[0].BaseURL, 'subtitles/a&b.vtt');
  });

  it('drops the characters XML 1.0 forbids, which a parser would stop at', () => {
    const model = sampleModel();
    model.audios[1].language = 'fr\x00\x01\x0b\x1b\uFFFE\uD800"<';
    model.subtitles[0].vttUri = 'subtitles/a\x02b.vtt';
    const text = writeMpd(model);
    assert.match(text, /^[\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u);
    const sets = adaptationSets(parseXml(text));
    assert.ok(sets.some((set) => set.lang === 'fr"<'), JSON.stringify(sets.map((set) => set.lang)));
    assert.equal(children(sets.find((set) => set.contentType === 'text')!, 'Representation')[0].BaseURL, 'subtitles/ab.vtt');
    assert.equal(escapeXml('tab\tline\n日本 🎬 \'&\''), 'tab&#9;line&#10;日本 🎬 &apos;&amp;&apos;');
  });

  it('refuses a Representation without a measured peak bit rate', () => {
    const model = sampleModel();
    model.videos[0].peakBitrate = 0;
    assert.throws(() => writeMpd(model), /no measured peak bit rate/);
  });
});
