/**
 * Every track a service ships (#26): a video with its own English stereo, a French dub (a shorter
 * mono MP3 at 44.1 kHz, padded with silence) and English audio description (a longer 5.1 WAV at
 * 32 kHz starting 0.5 s in, cut at the video's end), SDH and forced subtitles. Checked with the
 * strict parsers, ffprobe and `vidpipe validate`; a missing or audio-less `--audio-track` stops
 * the job with exit 2 before anything is written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ffprobeJson, makeClip, runCli, tempDir } from '../helpers/media.js';
import { joinCmafTrack, readMpd, readPlaylist, resolveUri, transcodeFixture, type TranscodeFixture } from '../helpers/package-files.js';
import { validate } from '../helpers/validate-package.js';

const exec = promisify(execFile);
const ffmpeg = (args: string[]) => exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);
/** One AAC frame at 48 kHz: how far an audio track may end from the video. */
const AUDIO_FRAME_SECONDS = 1024 / 48000;

describe('sidecar audio and track roles (end to end)', { timeout: 600_000 }, () => {
  let fixture: TranscodeFixture;
  let master: string;

  before(async () => {
    fixture = await transcodeFixture(
      async (dir) => {
        await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=44100:duration=3', '-ac', '1', join(dir, 'dub.mp3')]);
        await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=32000:duration=6', '-af', 'aformat=channel_layouts=5.1', join(dir, 'description.wav')]);
        await writeFile(join(dir, 'sdh.srt'), '1\n00:00:00,500 --> 00:00:02,000\n[door slams]\n');
        await writeFile(join(dir, 'signs.srt'), '1\n00:00:01,000 --> 00:00:02,000\nEXIT\n');
        return makeClip(join(dir, 'film.mp4'), { durationSeconds: 4, extraArgs: ['-metadata:s:a:0', 'language=eng'] });
      },
      (dir) => [
        '--no-thumbnails', '--ladder', '144p', '--preset', 'ultrafast', '--segment-duration', '2',
        '--audio-track', `${join(dir, 'dub.mp3')}:fr:dub`,
        '--audio-track', `${join(dir, 'description.wav')}:en:description@0.5`,
        '--subtitles', `${join(dir, 'sdh.srt')}:en:sdh`,
        '--subtitles', `${join(dir, 'signs.srt')}:en:forced`,
      ],
    );
    assert.equal(fixture.run.code, 0, fixture.run.stderr);
    master = fixture.result.outputs.hls;
  });
  after(async () => fixture.cleanup());

  it('lists the source, the dub and the description in HLS: languages, names in the language, one DEFAULT, CHARACTERISTICS', async () => {
    const playlist = await readPlaylist(master);
    const audio = playlist.variants[0].audio.map((a: any) => [a.language, a.name, a.isDefault, a.autoselect, a.characteristics]);
    assert.deepEqual(audio, [
      ['en', 'English', true, true, undefined],
      ['fr', 'Français', false, true, undefined],
      ['en', 'English (AD)', false, true, 'public.accessibility.describes-video'],
    ]);
    const subtitles = playlist.variants[0].subtitles.map((s: any) => [s.language, s.name, s.forced, s.characteristics]);
    assert.deepEqual(subtitles, [
      ['en', 'English (SDH)', false, 'public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound'],
      ['en', 'English (forced)', true, undefined],
    ]);
  });

  it('gives DASH a Role per track and the AudioPurposeCS accessibility for the description', async () => {
    const { mpd } = await readMpd(fixture.result.outputs.dash);
    const sets = mpd.Period[0].AdaptationSet.filter((s: any) => s.contentType !== 'video');
    assert.deepEqual(sets.map((s: any) => [s.contentType, s.lang, s.Role[0].value, s.Accessibility?.value]), [
      ['audio', 'en', 'main', undefined],
      ['audio', 'fr', 'dub', undefined],
      ['audio', 'en', 'description', '1'],
      ['text', 'en', 'caption', undefined],
      ['text', 'en', 'forced-subtitle', undefined],
    ]);
    assert.equal(sets[2].Accessibility.schemeIdUri, 'urn:tva:metadata:cs:AudioPurposeCS:2007');
  });

  it('makes every audio track stereo 48 kHz AAC as long as the video, to within one audio frame', async () => {
    const playlist = await readPlaylist(master);
    const video = await joinCmafTrack(resolveUri(master, playlist.variants[0].uri), join(fixture.dir, 'video.mp4'));
    const videoSeconds = Number((await ffprobeJson(['-show_entries', 'format=duration', video])).format.duration);
    assert.ok(Math.abs(videoSeconds - 4) < 0.05, `video lasts ${videoSeconds} s`);
    for (const [i, rendition] of playlist.variants[0].audio.entries()) {
      const joined = await joinCmafTrack(resolveUri(master, rendition.uri), join(fixture.dir, `audio-${i}.mp4`));
      const { streams, format } = await ffprobeJson(['-show_entries', 'stream=codec_name,channels,sample_rate:stream_tags=language:format=duration', joined]);
      assert.deepEqual([streams[0].codec_name, streams[0].channels, streams[0].sample_rate], ['aac', 2, '48000'], rendition.name);
      const seconds = Number(format.duration);
      assert.ok(Math.abs(seconds - videoSeconds) <= AUDIO_FRAME_SECONDS + 0.001, `${rendition.name}: ${seconds} s vs video ${videoSeconds} s`);
    }
  });

  it('starts the late description with silence and says that it was cut at the video\'s end', async () => {
    const playlist = await readPlaylist(master);
    const description = playlist.variants[0].audio.find((a: any) => a.name === 'English (AD)');
    const joined = await joinCmafTrack(resolveUri(master, description.uri), join(fixture.dir, 'described.mp4'));
    // Loudness of the first 0.4 s (before the track starts) and of the next second.
    const level = async (start: number, seconds: number) => {
      const { stderr } = await exec('ffmpeg', ['-hide_banner', '-ss', String(start), '-t', String(seconds), '-i', joined, '-af', 'volumedetect', '-f', 'null', '-']);
      return Number(/max_volume: (-?[\d.]+|-inf) dB/.exec(stderr)?.[1] ?? '-inf');
    };
    assert.ok(!((await level(0, 0.4)) > -60), 'silence before the offset');
    assert.ok((await level(1, 1)) > -30, 'the tone after it');
    assert.ok(fixture.result.source.notes.some((note: string) => /description\.wav: 6\.500 s long from 0\.5 s, cut at the video's end/.test(note)), JSON.stringify(fixture.result.source));
  });

  it('passes vidpipe validate, roles and channels included', async () => {
    const report = await validate(join(fixture.dir, 'out', 'film'));
    const failed = report.checks.filter((check) => check.status === 'fail');
    assert.deepEqual(failed, []);
    for (const id of ['hls-rendition-roles', 'dash-roles', 'dash-channels', 'hls-audio-groups']) {
      assert.equal(report.checks.find((check) => check.id === id)?.status, 'pass', id);
    }
  });
});

describe('a bad --audio-track', { timeout: 120_000 }, () => {
  it('stops with exit 2 naming a missing file, or a file without audio, and writes nothing', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const film = await makeClip(join(dir, 'film.mp4'), { durationSeconds: 2 });
      const silent = await makeClip(join(dir, 'pictures.mp4'), { durationSeconds: 2, audio: false });
      for (const [track, message] of [
        [join(dir, 'missing.wav'), /--audio-track: .*missing\.wav/],
        [silent, /--audio-track: .*pictures\.mp4 has no audio stream/],
      ] as const) {
        const out = join(dir, 'out');
        const run = await runCli(['transcode', film, '--out', out, '--db', join(dir, 'meta.db'), '--no-thumbnails', '--ladder', '144p', '--audio-track', `${track}:fr:dub`]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, message);
        assert.ok(!existsSync(join(out, 'film')), 'no package written');
      }
    } finally {
      await cleanup();
    }
  });
});
