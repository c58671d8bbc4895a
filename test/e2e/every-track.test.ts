/**
 * Every track a service ships, in one job (#26): a video whose own English sound is 5.1, a French
 * dub (a 5.1 WAV beside it) and English audio description (a stereo MP3 beside it), each 5.1
 * input kept as AAC 5.1 and E-AC-3 beside its stereo (`--surround aac,eac3`), SDH and forced
 * subtitles, and `--download`. Checked with the strict parsers (hls-parser strict mode, the MPD's
 * XML), ffprobe (codecs, channel counts, languages, durations within one audio frame of the video, the
 * E-AC-3 init's dec3) and `vidpipe validate`. A stereo-only job asked for `--surround` gets no 5.1
 * and says why.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ffprobeJson, makeClip } from '../helpers/media.js';
import { joinCmafTrack, readMpd, readPlaylist, resolveUri, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { validate } from '../helpers/validate-package.js';
import { describeInit } from '../../src/media/codec-strings.js';

const exec = promisify(execFile);
const ffmpeg = (args: string[]) => exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
/** The longest audio frame of the package: E-AC-3's 1536 samples at 48 kHz (AAC's are 1024). */
const AUDIO_FRAME_SECONDS = 1536 / 48000;

describe('every track in one job (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let master: string;

  before(async () => {
    fixture = await transcodeFixture(
      async (dir) => {
        await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000:duration=3', '-af', 'aformat=channel_layouts=5.1', join(dir, 'dub.wav')]);
        await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=44100:duration=2.5', '-ac', '2', join(dir, 'description.mp3')]);
        await writeFile(join(dir, 'sdh.srt'), '1\n00:00:00,500 --> 00:00:02,000\n[door slams]\n');
        await writeFile(join(dir, 'signs.srt'), '1\n00:00:01,000 --> 00:00:02,000\nEXIT\n');
        return makeClip(join(dir, 'film.mp4'), {
          durationSeconds: 3, width: 192, height: 108, rate: '25',
          // The source's own sound in 5.1, English.
          extraArgs: ['-af', 'aformat=channel_layouts=5.1', '-b:a', '192k', '-metadata:s:a:0', 'language=eng'],
        });
      },
      (dir) => [
        '--no-thumbnails', '--ladder', '108p', '--preset', 'ultrafast', '--segment-duration', '2', '--surround', 'aac,eac3', '--download',
        '--audio-track', `${join(dir, 'dub.wav')}:fr:dub`,
        '--audio-track', `${join(dir, 'description.mp3')}:en:description`,
        '--subtitles', `${join(dir, 'sdh.srt')}:en:sdh`,
        '--subtitles', `${join(dir, 'signs.srt')}:en:forced`,
      ],
    );
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
    master = fixture.result.outputs.hls;
  });
  after(async () => fixture.cleanup());

  it('writes a stereo, an AAC 5.1 and an E-AC-3 audio group, the 5.1 ones holding each 5.1 input, stereo first', async () => {
    const playlist = await readPlaylist(master);
    const variants = playlist.variants.filter((v: any) => !v.isIFrameOnly);
    const groups = new Map<string, any[]>();
    for (const variant of variants) groups.set(variant.audio[0].groupId, variant.audio);
    const described = (id: string) => groups.get(id)!.map((a: any) => [a.language, a.name, a.isDefault, a.channels, a.characteristics]);
    assert.deepEqual(described('audio-aac'), [
      ['en', 'English', true, '2', undefined],
      ['fr', 'Français', false, '2', undefined],
      ['en', 'English (AD)', false, '2', 'public.accessibility.describes-video'],
    ]);
    for (const id of ['audio-aac-6ch', 'audio-eac3-6ch']) assert.deepEqual(described(id), [['en', 'English', true, '6', undefined], ['fr', 'Français', false, '6', undefined]], id);
    assert.equal(variants[0].audio[0].groupId, 'audio-aac', 'players start with stereo');
    const codecsOf = (id: string) => variants.find((v: any) => v.audio[0].groupId === id).codecs;
    assert.match(codecsOf('audio-aac'), /^avc1\.[0-9a-f]+,mp4a\.40\.2$/);
    assert.match(codecsOf('audio-aac-6ch'), /^avc1\.[0-9a-f]+,mp4a\.40\.2$/);
    assert.match(codecsOf('audio-eac3-6ch'), /^avc1\.[0-9a-f]+,ec-3$/);
    const subtitles = variants[0].subtitles.map((s: any) => [s.language, s.name, s.forced, s.characteristics]);
    assert.deepEqual(subtitles, [
      ['en', 'English (SDH)', false, 'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound'],
      ['en', 'English (forced)', true, undefined],
    ]);
  });

  it('gives DASH a set per codec, language, role and layout, with Role, Accessibility and AudioChannelConfiguration', async () => {
    const { mpd } = await readMpd(fixture.result.outputs.dash);
    const sets = mpd.Period[0].AdaptationSet.filter((s: any) => s.contentType !== 'video');
    const configuration = (set: any) => {
      const c = set.Representation[0].AudioChannelConfiguration;
      return c ? `${c.schemeIdUri} ${c.value}` : undefined;
    };
    assert.deepEqual(sets.map((s: any) => [s.contentType, s.lang, s.Representation[0].codecs ?? s.mimeType, s.Role[0].value, s.Accessibility?.value, configuration(s)]), [
      ['audio', 'en', 'mp4a.40.2', 'main', undefined, 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011 2'],
      ['audio', 'en', 'mp4a.40.2', 'main', undefined, 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011 6'],
      ['audio', 'en', 'ec-3', 'main', undefined, 'tag:dolby.com,2014:dash:audio_channel_configuration:2011 F801'],
      ['audio', 'fr', 'mp4a.40.2', 'dub', undefined, 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011 2'],
      ['audio', 'fr', 'mp4a.40.2', 'dub', undefined, 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011 6'],
      ['audio', 'fr', 'ec-3', 'dub', undefined, 'tag:dolby.com,2014:dash:audio_channel_configuration:2011 F801'],
      ['audio', 'en', 'mp4a.40.2', 'description', '1', 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011 2'],
      ['text', 'en', 'text/vtt', 'caption', undefined, undefined],
      ['text', 'en', 'text/vtt', 'forced-subtitle', undefined, undefined],
    ]);
    assert.deepEqual(sets.slice(0, 2).map((s: any) => s.Label), ['English', 'English 5.1'], 'stereo and 5.1 AAC of one language read apart');
  });

  it('encodes every audio rendition with its codec and channels, as long as the video to within one audio frame', async () => {
    const playlist = await readPlaylist(master);
    const variants = playlist.variants.filter((v: any) => !v.isIFrameOnly);
    const video = await joinCmafTrack(resolveUri(master, variants[0].uri), join(fixture.dir, 'video.mp4'));
    const videoSeconds = Number((await ffprobeJson(['-show_entries', 'format=duration', video])).format.duration);
    assert.ok(Math.abs(videoSeconds - 3) < 0.05, `video lasts ${videoSeconds} s`);
    const seen = new Set<string>();
    for (const variant of variants) {
      for (const rendition of variant.audio) {
        if (seen.has(rendition.uri)) continue;
        seen.add(rendition.uri);
        const joined = await joinCmafTrack(resolveUri(master, rendition.uri), join(fixture.dir, `audio-${seen.size}.mp4`));
        const { streams, format } = await ffprobeJson(['-show_entries', 'stream=codec_name,channels,sample_rate:stream_tags=language:format=duration', joined]);
        const codec = rendition.groupId.startsWith('audio-eac3') ? 'eac3' : 'aac';
        // The track header's ISO 639-2/T code names the manifest's language (ffmpeg's dash muxer alone writes "und").
        const headerLanguage = ({ en: 'eng', fr: 'fra' } as Record<string, string>)[rendition.language];
        assert.deepEqual(
          [streams[0].codec_name, streams[0].channels, streams[0].sample_rate, streams[0].tags?.language],
          [codec, Number(rendition.channels), '48000', headerLanguage],
          `${rendition.groupId} ${rendition.name}`,
        );
        const seconds = Number(format.duration);
        assert.ok(Math.abs(seconds - videoSeconds) <= AUDIO_FRAME_SECONDS + 0.001, `${rendition.groupId} ${rendition.name}: ${seconds} s vs video ${videoSeconds} s`);
      }
    }
    assert.equal(seen.size, 7, 'three stereo, two AAC 5.1, two E-AC-3');
  });

  it('writes the E-AC-3 init with a dec3 box saying 3/2 + LFE, which ffprobe decodes as 6 channels', async () => {
    const playlist = await readPlaylist(master);
    const eac3 = playlist.variants.find((v: any) => v.audio[0]?.groupId === 'audio-eac3-6ch').audio[0];
    const media = await readPlaylist(resolveUri(master, eac3.uri));
    const initPath = resolveUri(resolveUri(master, eac3.uri), media.segments[0].map.uri);
    const init = await readFile(initPath);
    const dec3 = init.indexOf('dec3');
    assert.ok(dec3 > 0, 'a dec3 box');
    // After data_rate(13) num_ind_sub(3): fscod 2, bsid 5 (16: E-AC-3), reserved, asvc, bsmod 3, acmod 3 (7: 3/2), lfeon.
    const fields = init.readUInt16BE(dec3 + 6);
    assert.deepEqual([(fields >> 9) & 0x1f, (fields >> 1) & 0x7, fields & 1], [16, 7, 1]);
    assert.deepEqual([describeInit(init).codecs, describeInit(init).channels], ['ec-3', 6]);
    const { streams } = await ffprobeJson(['-show_entries', 'stream=codec_name,channels,channel_layout', initPath]);
    assert.deepEqual([streams[0].codec_name, streams[0].channels], ['eac3', 6]);
  });

  it('makes download.mp4 from the top H.264 rung and the stereo default', async () => {
    const download = fixture.result.outputs.download;
    assert.ok(download, JSON.stringify(fixture.result.outputs));
    const { streams } = await ffprobeJson(['-show_entries', 'stream=codec_type,codec_name,channels', download]);
    assert.deepEqual(streams.map((s: any) => [s.codec_type, s.codec_name, s.channels]), [['video', 'h264', undefined], ['audio', 'aac', 2]]);
  });

  it('passes vidpipe validate, CHANNELS against the E-AC-3 init included', async () => {
    const report = await validate(join(fixture.dir, 'out', 'film'));
    assert.deepEqual(report.checks.filter((check) => check.status === 'fail'), []);
    for (const id of ['hls-parse', 'hls-audio-groups', 'hls-codecs-bitstream', 'hls-rendition-roles', 'dash-roles', 'dash-channels']) {
      assert.equal(report.checks.find((check) => check.id === id)?.status, 'pass', id);
    }
    const channels = report.checks.find((check) => check.id === 'dash-channels') as any;
    assert.ok(JSON.stringify(channels).includes('eac3-5.1-192k: 6 vs 6'), JSON.stringify(channels));
  });
});

describe('--surround without a 5.1 input (end to end)', { timeout: 300_000 }, () => {
  it('makes stereo only and says so in the result', async () => {
    const fixture = await transcodeFixture(
      (dir) => makeClip(join(dir, 'stereo.mp4'), { durationSeconds: 2, width: 160, height: 90, rate: '25' }),
      ['--no-thumbnails', '--ladder', '90p', '--preset', 'ultrafast', '--segment-duration', '2', '--surround', 'eac3'],
    );
    try {
      assert.equal(fixture.run.code, 0, fixture.run.stderr);
      const audio = fixture.result.renditions.filter((r: any) => r.kind === 'audio');
      assert.deepEqual(audio.map((r: any) => r.channels), [2]);
      assert.ok(fixture.result.source.notes.some((note: string) => /--surround: no audio input has 6 or more channels \(the widest has [12]\)/.test(note)), JSON.stringify(fixture.result.source));
    } finally {
      await fixture.cleanup();
    }
  });
});
