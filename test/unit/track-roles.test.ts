/**
 * Track roles (#26): what `--audio-track` and `--subtitles FILE:LANG:ROLE` parse to, how the plan
 * names and defaults sidecar audio, how the HLS and DASH writers signal each role, and the
 * `vidpipe validate` checks that hold packages to it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import HLS from 'hls-parser';
import { XMLParser } from 'fast-xml-parser';
import { writeMultivariantPlaylist } from '../../src/manifest/hls.js';
import { writeMpd } from '../../src/manifest/dash.js';
import { AUDIO_ROLE_SIGNALLING, SUBTITLE_ROLE_SIGNALLING } from '../../src/manifest/roles.js';
import { AUDIO_ROLES, DEFAULT_SETTINGS, SUBTITLE_ROLES, parseSidecarAudio, parseSidecarSubtitle, parseTranscodeOptions } from '../../src/settings/job-settings.js';
import { planJob, type ProbedAudioTrack } from '../../src/core/plan.js';
import { parseProbe } from '../../src/ffmpeg/probe.js';
import { buildAudioEncodeArgs } from '../../src/ffmpeg/args/audio.js';
import { parseMaster } from '../../src/validate/hls-playlist.js';
import { checkRenditionRoles } from '../../src/validate/hls-master-checks.js';
import { channelsOfConfiguration, checkDashRoles, loadDash } from '../../src/validate/dash.js';
import { PackageReader } from '../../src/validate/source.js';
import type { HlsPackage } from '../../src/validate/hls-load.js';
import { audioTrack, sampleModel, subtitleTrack } from '../helpers/manifest-model.js';

const ROLE = 'urn:mpeg:dash:role:2011';
const AUDIO_PURPOSE = 'urn:tva:metadata:cs:AudioPurposeCS:2007';

function mediaTags(text: string): Record<string, string>[] {
  return parseMaster(text).media.map((media) => media.attributes);
}

function adaptationSets(mpd: string): any[] {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['AdaptationSet', 'Role', 'Accessibility', 'Label', 'Representation'].includes(name) });
  return parser.parse(mpd).MPD.Period.AdaptationSet;
}

/** A model with the source's English, a French dub, English audio description and commentary, SDH and forced subtitles. */
function rolesModel() {
  const model = sampleModel();
  model.audios = [
    audioTrack('aac-en', 'aac', 'en', 'English', 140_000, 130_000, { isDefault: true }),
    audioTrack('aac-fr-dub', 'aac', 'fr', 'Français', 140_000, 130_000, { role: 'dub' }),
    audioTrack('aac-en-description', 'aac', 'en', 'English (AD)', 140_000, 130_000, { role: 'description' }),
    audioTrack('aac-en-commentary', 'aac', 'en', 'English (commentary)', 140_000, 130_000, { role: 'commentary' }),
  ];
  model.subtitles = [
    { ...subtitleTrack('sub-en', 'en', 'English (SDH)', false), role: 'sdh' },
    { ...subtitleTrack('sub-en-2', 'en', 'English (forced)', false), role: 'forced' },
    subtitleTrack('sub-fr', 'fr', 'Français', false),
  ];
  return model;
}

describe('track specs on the command line', () => {
  it('reads FILE[:LANG[:ROLE]] from the right, a role winning over a look-alike language code', () => {
    assert.deepEqual(parseSidecarAudio('dub.m4a:fr:dub'), { path: 'dub.m4a', language: 'fr', role: 'dub' });
    assert.deepEqual(parseSidecarAudio('C:/media/ad.wav:en:description@1.5'), { path: 'C:/media/ad.wav', language: 'en', role: 'description', offsetSeconds: 1.5 });
    assert.deepEqual(parseSidecarAudio('a:b.wav:de'), { path: 'a:b.wav', language: 'de' });
    assert.deepEqual(parseSidecarAudio('track.wav'), { path: 'track.wav', language: 'und' });
    assert.deepEqual(parseSidecarSubtitle('cc.srt:en:sdh'), { path: 'cc.srt', language: 'en', role: 'sdh' });
    assert.deepEqual(parseSidecarSubtitle('signs.srt:forced'), { path: 'signs.srt', language: 'und', role: 'forced' });
    assert.deepEqual(parseSidecarSubtitle('plain.srt:fr'), { path: 'plain.srt', language: 'fr' });
    assert.throws(() => parseSidecarAudio(' '), /--audio-track/);
  });

  it('takes --audio-track repeated on the command line, and refuses it from an upload', () => {
    const { settings } = parseTranscodeOptions({ audioTrack: ['fr.m4a:fr:dub', 'ad.m4a:en:description'] });
    assert.deepEqual(settings.audioTracks.map((t) => [t.path, t.language, t.role]), [['fr.m4a', 'fr', 'dub'], ['ad.m4a', 'en', 'description']]);
  });

  it('lists the same roles where users write them and where manifests signal them', () => {
    assert.deepEqual(Object.keys(AUDIO_ROLE_SIGNALLING).sort(), [...AUDIO_ROLES].sort());
    assert.deepEqual(Object.keys(SUBTITLE_ROLE_SIGNALLING).filter((role) => role !== 'subtitle').sort(), [...SUBTITLE_ROLES].sort());
  });
});

describe('sidecar audio in the plan', () => {
  const video = { index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 180, avg_frame_rate: '30', r_frame_rate: '30', duration: '4', start_time: '0' };
  const sourceAudio = { index: 1, codec_type: 'audio', codec_name: 'aac', channels: 2, sample_rate: '48000', tags: { language: 'eng' }, disposition: { default: 1 } };
  const source = (streams: object[]) => parseProbe('/film.mp4', 1000, { streams: streams as never, format: { format_name: 'mov', duration: '4.0', start_time: '0' } });
  const file = (path: string, seconds: number, channels = 1): ProbedAudioTrack['probe'] =>
    parseProbe(path, 1000, { streams: [{ index: 0, codec_type: 'audio', codec_name: 'mp3', channels, sample_rate: '44100' }] as never, format: { format_name: 'mp3', duration: String(seconds), start_time: '0' } });
  const plan = (streams: object[], tracks: ProbedAudioTrack[], opus = false) => planJob(source(streams), { ...DEFAULT_SETTINGS, concurrency: 2, opus }, { av1Encoder: 'libsvtav1' }, tracks);

  it('adds each file after the source streams, named in its own language with its role, the source stream default', () => {
    const result = plan([video, sourceAudio], [
      { track: { path: '/dub.mp3', language: 'fr', role: 'dub' }, probe: file('/dub.mp3', 3) },
      { track: { path: '/ad.mp3', language: 'en', role: 'description', offsetSeconds: 0.5 }, probe: file('/ad.mp3', 6) },
    ]);
    assert.deepEqual(result.audio.map((r) => [r.id, r.name, r.language, r.role, r.file, r.isDefault]), [
      ['aac-128k', 'English', 'eng', 'main', undefined, true],
      ['aac-128k-fr-dub', 'Français', 'fr', 'dub', '/dub.mp3', false],
      ['aac-128k-en-description', 'English (AD)', 'en', 'description', '/ad.mp3', false],
    ]);
    assert.equal(result.audio[2]!.offsetSeconds, 0.5);
    assert.deepEqual(result.notes, ['--audio-track /ad.mp3: 6.500 s long from 0.5 s, cut at the video\'s end (4.000 s)']);
  });

  it('makes a file said to be main the default, else the first plain file of a silent source; Opus follows', () => {
    const main = plan([video, sourceAudio], [{ track: { path: '/m.mp3', language: 'de', role: 'main' }, probe: file('/m.mp3', 4) }]);
    assert.deepEqual(main.audio.filter((r) => r.isDefault).map((r) => r.id), ['aac-128k-de-main']);
    const silent = plan([video], [
      { track: { path: '/ad.mp3', language: 'en', role: 'description' }, probe: file('/ad.mp3', 4) },
      { track: { path: '/es.mp3', language: 'es' }, probe: file('/es.mp3', 4) },
    ], true);
    assert.deepEqual(silent.audio.map((r) => [r.id, r.isDefault]), [
      ['aac-128k-en-description', false], ['opus-96k-en-description', false], ['aac-128k-es', true], ['opus-96k-es', true],
    ]);
    assert.equal(silent.notes?.length, 0);
  });

  it('reads a file\'s rendition from that file, moved to its offset', () => {
    const [, dub] = plan([video, sourceAudio], [{ track: { path: '/late.mp3', language: 'fr', offsetSeconds: 2 }, probe: file('/late.mp3', 1) }]).audio;
    const args = buildAudioEncodeArgs({ source: '/film.mp4', rendition: dub!, fitToSeconds: 4, output: '/out.mp4' });
    assert.deepEqual(args.slice(args.indexOf('-itsoffset'), args.indexOf('-itsoffset') + 4), ['-itsoffset', '2.000000', '-i', '/late.mp3']);
    assert.match(args[args.indexOf('-af') + 1]!, /first_pts=0.*apad,atrim=end_sample=192000$/);
  });

  it('refuses sidecar audio for an audio-only job', () => {
    assert.throws(() => planJob(source([sourceAudio]), { ...DEFAULT_SETTINGS, concurrency: 2 }, { av1Encoder: 'libsvtav1' }, [{ track: { path: '/x.mp3', language: 'fr' }, probe: file('/x.mp3', 1) }]), { code: 'USAGE' });
  });
});

describe('role signalling in HLS', () => {
  const text = writeMultivariantPlaylist(rolesModel());
  const tags = mediaTags(text);
  const byName = (name: string, type = 'AUDIO') => tags.find((tag) => tag.NAME === name && tag.TYPE === type)!;

  it('says described audio with CHARACTERISTICS, keeps commentary out of AUTOSELECT, one DEFAULT', () => {
    assert.equal(byName('English (AD)').CHARACTERISTICS, 'public.accessibility.describes-video');
    assert.equal(byName('English (AD)').AUTOSELECT, 'YES');
    assert.equal(byName('English (commentary)').AUTOSELECT, 'NO');
    assert.equal(byName('Français').CHARACTERISTICS, undefined);
    assert.deepEqual(tags.filter((tag) => tag.TYPE === 'AUDIO' && tag.DEFAULT === 'YES').map((tag) => tag.NAME), ['English']);
  });

  it('says forced subtitles with FORCED=YES and SDH with the two accessibility characteristics', () => {
    assert.equal(byName('English (forced)', 'SUBTITLES').FORCED, 'YES');
    assert.equal(byName('English (SDH)', 'SUBTITLES').FORCED, 'NO');
    assert.equal(byName('English (SDH)', 'SUBTITLES').CHARACTERISTICS, 'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound');
    assert.equal(byName('Français', 'SUBTITLES').FORCED, 'NO');
  });

  it('parses in hls-parser strict mode and passes the validate role check', () => {
    HLS.setOptions({ strictMode: true, silent: true });
    try {
      HLS.parse(text);
    } finally {
      HLS.setOptions({ strictMode: false, silent: false });
    }
    const result = checkRenditionRoles({ name: 'master.m3u8', master: parseMaster(text) } as HlsPackage);
    assert.equal(result.status, 'pass', result.message);
  });

  it('validate fails an unknown CHARACTERISTICS value, one on the wrong type, FORCED on audio', () => {
    const broken = text
      .replace('public.accessibility.describes-video', 'public.accessibility.describes-everything')
      .replace('NAME="Français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2"', 'NAME="Français",LANGUAGE="fr",DEFAULT=NO,AUTOSELECT=YES,FORCED=YES,CHANNELS="2",CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog"');
    const result = checkRenditionRoles({ name: 'master.m3u8', master: parseMaster(broken) } as HlsPackage);
    assert.equal(result.status, 'fail');
    const problems = (result.details as { problems: string[] }).problems.join('\n');
    assert.match(problems, /describes-everything" is not one players know/);
    assert.match(problems, /transcribes-spoken-dialog" describes SUBTITLES\/CLOSED-CAPTIONS renditions, not TYPE=AUDIO/);
    assert.match(problems, /FORCED on TYPE=AUDIO/);
  });
});

describe('role signalling in DASH', () => {
  const sets = adaptationSets(writeMpd(rolesModel()));
  const audio = sets.filter((set) => set.contentType === 'audio');
  const text = sets.filter((set) => set.contentType === 'text');
  const descriptors = (set: any, name: string) => (set[name] ?? []).map((d: any) => `${d.schemeIdUri} ${d.value}`);

  it('gives each audio role its set, Role and, for description, the AudioPurposeCS accessibility', () => {
    assert.deepEqual(audio.map((set) => [set.lang, descriptors(set, 'Role'), descriptors(set, 'Accessibility')]), [
      ['en', [`${ROLE} main`], []],
      ['fr', [`${ROLE} dub`], []],
      ['en', [`${ROLE} description`], [`${AUDIO_PURPOSE} 1`]],
      ['en', [`${ROLE} commentary`], []],
    ]);
  });

  it('says SDH as Role caption and forced subtitles as Role forced-subtitle', () => {
    assert.deepEqual(text.map((set) => descriptors(set, 'Role')), [[`${ROLE} caption`], [`${ROLE} forced-subtitle`], [`${ROLE} subtitle`]]);
  });

  it('labels two audio sets of one language and role (stereo and 5.1), and signals E-AC-3 channels in Dolby\'s scheme', () => {
    const model = sampleModel();
    model.audios = [
      audioTrack('aac-en', 'aac', 'en', 'English', 140_000, 130_000, { isDefault: true, role: 'main' }),
      // A 5.1 rendition has its stereo one's name (HLS matches renditions across groups by NAME); the set's Label adds the layout.
      audioTrack('aac-en-5.1', 'aac', 'en', 'English', 400_000, 380_000, { channels: 6, role: 'main' }),
      audioTrack('eac3-en-5.1', 'aac', 'en', 'English', 400_000, 380_000, { channels: 6, codec: 'eac3', codecs: 'ec-3', role: 'main' }),
    ];
    const written = adaptationSets(writeMpd(model)).filter((set) => set.contentType === 'audio');
    assert.deepEqual(written.map((set) => [set.Label?.[0], descriptors(set, 'Role')]), [
      ['English', [`${ROLE} main`]],
      ['English 5.1', [`${ROLE} main`]],
      [undefined, [`${ROLE} main`]],
    ]);
    const channels = written.map((set) => set.Representation[0].AudioChannelConfiguration);
    assert.deepEqual(channels.map((c) => [c.schemeIdUri, c.value]), [
      ['urn:mpeg:dash:23003:3:audio_channel_configuration:2011', '2'],
      ['urn:mpeg:dash:23003:3:audio_channel_configuration:2011', '6'],
      ['tag:dolby.com,2014:dash:audio_channel_configuration:2011', 'F801'],
    ]);
  });

  it('validate counts channels in each AudioChannelConfiguration scheme', () => {
    assert.equal(channelsOfConfiguration('urn:mpeg:dash:23003:3:audio_channel_configuration:2011', '6'), 6);
    assert.equal(channelsOfConfiguration('urn:mpeg:mpegB:cicp:ChannelConfiguration', '6'), 6);
    assert.equal(channelsOfConfiguration('urn:mpeg:mpegB:cicp:ChannelConfiguration', '2'), 2);
    assert.equal(channelsOfConfiguration('tag:dolby.com,2014:dash:audio_channel_configuration:2011', 'F801'), 6);
    assert.equal(channelsOfConfiguration('tag:dolby.com,2014:dash:audio_channel_configuration:2011', 'A000'), 2);
    assert.equal(channelsOfConfiguration('tag:dolby.com,2014:dash:audio_channel_configuration:2011', 'FA01'), 8, 'Lrs/Rrs is one bit for two loudspeakers');
    assert.equal(channelsOfConfiguration('urn:example:unknown', '2'), undefined);
  });

  it('validate passes the writer\'s roles and fails a wrong scheme, an unknown value, description without accessibility', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vidpipe-roles-'));
    try {
      const good = writeMpd(rolesModel());
      const check = async (mpd: string) => {
        await writeFile(join(dir, 'manifest.mpd'), mpd);
        return checkDashRoles(await loadDash(new PackageReader(dir), join(dir, 'manifest.mpd')));
      };
      const passed = await check(good);
      assert.equal(passed.status, 'pass', passed.message);
      const broken = good
        .replace(`<Role schemeIdUri="${ROLE}" value="dub"/>`, '<Role schemeIdUri="urn:example:roles" value="dub"/>')
        .replace(`<Role schemeIdUri="${ROLE}" value="commentary"/>`, `<Role schemeIdUri="${ROLE}" value="director"/>`)
        .replace(`<Accessibility schemeIdUri="${AUDIO_PURPOSE}" value="1"/>`, '');
      const failed = await check(broken);
      assert.equal(failed.status, 'fail');
      const problems = (failed.details as { problems: string[] }).problems.join('\n');
      assert.match(problems, /Role scheme "urn:example:roles" is not urn:mpeg:dash:role:2011/);
      assert.match(problems, /Role value "director"/);
      assert.match(problems, /Role description without Accessibility/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
