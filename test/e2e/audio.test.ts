import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeClip, runCli, tempDir } from '../helpers/media.js';
import { ffmpeg, ffprobeJson } from '../helpers/media-tools.js';
import { joinCmafTrack, readMpd, readPlaylist, resolveUri } from '../helpers/package-files.js';
import { runCapture } from '../../src/ffmpeg/run.js';
import { readTrackExtends } from '../../src/media/mp4-boxes.js';
import { readFragmentSamples } from '../../src/media/measure.js';
import { describeInit } from '../../src/media/codec-strings.js';

/** EBU R128 integrated loudness and true peak (4x oversampled) of a file, from ffmpeg's ebur128 filter. */
async function ebur128(path: string): Promise<{ integrated: number; truePeak: number }> {
  const { stderr, exitCode } = await runCapture('ffmpeg', ['-hide_banner', '-nostats', '-i', path, '-filter_complex', 'ebur128=peak=true', '-f', 'null', '-'], { label: 'ebur128' });
  assert.equal(exitCode, 0, stderr);
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const integrated = Number(/I:\s+(-?[\d.]+|-inf) LUFS/.exec(summary)?.[1]);
  const truePeak = Number(/True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary)?.[1]);
  return { integrated, truePeak };
}

/** Decoded length of a file's first audio stream, from the samples the decoder really returns. */
async function decodedSeconds(path: string): Promise<number> {
  const json = await ffprobeJson<{ frames: { nb_samples: number }[]; streams: { sample_rate: string }[] }>(path, [
    '-select_streams', 'a:0', '-show_entries', 'frame=nb_samples:stream=sample_rate',
  ]);
  return json.frames.reduce((sum, f) => sum + f.nb_samples, 0) / Number(json.streams[0]!.sample_rate);
}

function playlistSeconds(playlist: any): number {
  return playlist.segments.reduce((sum: number, s: any) => sum + s.duration, 0);
}

/**
 * Every media segment's tfdt must be where the previous one's samples ended: no gap, no overlap.
 * Returns the init's edit list media time (the hidden encoder delay) and where the samples end.
 */
async function assertGapless(playlistPath: string): Promise<{ editMediaTime: number; end: number }> {
  const playlist = await readPlaylist(playlistPath);
  const trex = readTrackExtends(await readFile(resolveUri(playlistPath, playlist.segments[0].map.uri)));
  let expected = 0;
  for (const segment of playlist.segments) {
    const fragments = readFragmentSamples(await readFile(resolveUri(playlistPath, segment.uri)), trex);
    assert.equal(fragments[0]!.baseMediaDecodeTime, expected, `${segment.uri} starts where the previous segment ended`);
    for (const fragment of fragments) for (const sample of fragment.samples) expected = sample.decodeTime + sample.duration;
  }
  const init = describeInit(await readFile(resolveUri(playlistPath, playlist.segments[0].map.uri)));
  return { editMediaTime: init.editMediaTime, end: expected };
}

/** Loudness of one packaged rendition: its init and segments joined, as a player receives them. */
async function packagedLoudness(dir: string, playlistPath: string, name: string) {
  return ebur128(await joinCmafTrack(playlistPath, join(dir, `${name}.mp4`)));
}

async function transcodeJson(args: string[], env: NodeJS.ProcessEnv) {
  const run = await runCli(['transcode', ...args, '--json', '--concurrency', '2'], { env });
  const results = run.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  return { run, results };
}

describe('audio-only packages (music and podcasts)', { timeout: 600_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: NodeJS.ProcessEnv;
  let db: string;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-audio-'));
    db = join(dir, 'meta.db');
    env = { VIDPIPE_WORK_DIR: join(dir, 'work') };
  });
  after(async () => cleanup());

  describe('music: FLAC with cover art and tags, AAC ladder + Opus', () => {
    let result: any;
    let root: string;
    let code: number | null;

    before(async () => {
      // A chord with a slow tremolo (not a constant level), plus a 64x48 embedded PNG picture.
      await ffmpeg([
        '-f', 'lavfi', '-i', "aevalsrc='0.08*(sin(2*PI*440*t)+sin(2*PI*554.37*t)+sin(2*PI*659.25*t))*(0.75+0.25*sin(2*PI*0.5*t))|0.08*(sin(2*PI*440*t)+sin(2*PI*659.25*t))':s=44100:d=5",
        '-f', 'lavfi', '-i', 'color=c=orange:s=64x48:d=1',
        '-map', '0:a', '-map', '1:v', '-frames:v', '1', '-c:v', 'png', '-disposition:v', 'attached_pic', '-c:a', 'flac',
        '-metadata', 'title=Test Song', '-metadata', 'artist=The Sines', '-metadata', 'album=Lavfi', '-metadata', 'TRACKNUMBER=3',
        '-metadata', 'date=2024', '-metadata', 'genre=Electronic', '-metadata', 'ISRC=USRC17607839',
        join(dir, 'song.flac'),
      ]);
      const out = await transcodeJson(
        [join(dir, 'song.flac'), '--out', join(dir, 'out'), '--db', db, '--audio-ladder', '64,128', '--opus', '96', '--segment-duration', '2'],
        env,
      );
      code = out.run.code;
      result = out.results[0];
      root = join(dir, 'out', 'song');
      assert.equal(code, 0, out.run.stderr);
    });

    it('packages the AAC ladder for HLS and DASH and Opus for DASH only', async () => {
      assert.equal(result.kind, 'audio');
      assert.deepEqual(result.renditions.map((r: any) => `${r.name} ${r.codecs} ${r.channels}ch ${r.sampleRate}`), [
        'aac-64k mp4a.40.2 2ch 44100', 'aac-128k mp4a.40.2 2ch 44100', 'opus-96k opus 2ch 48000',
      ]);
      const masterText = await readFile(join(root, 'master.m3u8'), 'utf8');
      assert.doesNotMatch(masterText, /opus/i);
      const master = await readPlaylist(join(root, 'master.m3u8'));
      assert.equal(master.variants.length, 2);
      assert.ok(master.variants.every((v: any) => v.codecs === 'mp4a.40.2' && !v.resolution));
      assert.match(master.variants[0].uri, /aac-128k/, 'the default (128k) variant comes first');
      const { mpd } = await readMpd(join(root, 'manifest.mpd'));
      const sets = mpd.Period[0].AdaptationSet;
      const opusSet = sets.find((s: any) => s.Representation[0].codecs === 'opus');
      assert.ok(opusSet, 'an Opus AdaptationSet');
      assert.deepEqual(opusSet.Representation.map((r: any) => r.id), ['opus-96k']);
      assert.ok(sets.find((s: any) => s.Representation[0].codecs === 'mp4a.40.2'));
      assert.ok(sets.every((s: any) => s.Representation.every((r: any) => r.codecs === s.Representation[0].codecs)), 'one codec per set');
    });

    it('lasts exactly as long as the source (AAC priming hidden), with gapless segments', async () => {
      const source = await decodedSeconds(join(dir, 'song.flac'));
      assert.ok(Math.abs(source - 5) < 1e-6);
      for (const variant of (await readPlaylist(join(root, 'master.m3u8'))).variants) {
        const path = resolveUri(join(root, 'master.m3u8'), variant.uri);
        const playlist = await readPlaylist(path);
        assert.ok(playlist.segments.length >= 3, 'several 2 s segments');
        assert.ok(Math.abs(playlistSeconds(playlist) - source) <= 1024 / 44100, `${variant.uri}: ${playlistSeconds(playlist)} s vs ${source} s`);
        // The samples hold the source plus 1024 priming samples, which the edit list hides.
        const { editMediaTime, end } = await assertGapless(path);
        assert.equal(editMediaTime, 1024);
        assert.equal(end, 5 * 44100 + 1024);
      }
      const { mpd } = await readMpd(join(root, 'manifest.mpd'));
      const mpdSeconds = Number(/^PT([\d.]+)S$/.exec(mpd.mediaPresentationDuration)?.[1]);
      assert.ok(Math.abs(mpdSeconds - 5) < 0.01, mpd.mediaPresentationDuration);
      for (const set of mpd.Period[0].AdaptationSet) {
        for (const representation of set.Representation) {
          const template = representation.SegmentTemplate;
          const s = template.SegmentTimeline.S;
          const total = s.reduce((sum: number, e: any) => sum + Number(e.d) * (1 + Number(e.r ?? 0)), 0) / Number(template.timescale);
          assert.ok(Math.abs(total - 5) <= 1024 / 44100, `${representation.id}: timeline ${total} s`);
        }
      }
    });

    it('normalises to -14 LUFS with the true peak under -1 dBTP, measured on the packaged output', async () => {
      for (const name of ['aac-64k', 'aac-128k', 'opus-96k']) {
        const rendition = result.renditions.find((r: any) => r.name === name);
        const loudness = await packagedLoudness(dir, join(result.outputs.root, rendition.playlist), name);
        assert.ok(Math.abs(loudness.integrated - -14) <= 1, `${name}: ${loudness.integrated} LUFS`);
        assert.ok(loudness.truePeak < -1, `${name}: true peak ${loudness.truePeak} dBTP`);
      }
      assert.equal(result.loudness.target, -14);
      assert.equal(result.loudness.method, 'linear');
      assert.ok(result.loudness.input.integrated < -17, `source measured at ${result.loudness.input.integrated} LUFS`);
      assert.ok(Math.abs(result.loudness.output.integrated - -14) <= 1);
    });

    it('uses the embedded picture as cover/poster and records tags and loudness in the database', async () => {
      assert.equal(result.outputs.poster, result.outputs.cover);
      const cover = await ffprobeJson<{ streams: { width: number; height: number }[] }>(result.outputs.cover, ['-show_entries', 'stream=width,height']);
      assert.deepEqual([cover.streams[0]!.width, cover.streams[0]!.height], [64, 48]);
      const show = await runCli(['show', result.id, '--db', db, '--json'], { env });
      assert.equal(show.code, 0, show.stderr);
      const details = JSON.parse(show.stdout);
      assert.deepEqual(
        [details.video.tags.title, details.video.tags.artist, details.video.tags.album, details.video.tags.track, details.video.tags.date, details.video.tags.genre, details.video.tags.isrc],
        ['Test Song', 'The Sines', 'Lavfi', '3', '2024', 'Electronic', 'USRC17607839'],
      );
      assert.deepEqual(details.video.properties.loudness, result.loudness);
      assert.ok(Math.abs(details.video.durationSeconds - 5) < 0.001);
      const text = await runCli(['show', result.id, '--db', db], { env });
      assert.match(text.stdout, /Loudness \(EBU R128, target -14 LUFS/);
      assert.match(text.stdout, /aac-128k\s+-1[345]\.\d LUFS/);
      const list = await runCli(['list', '--db', db, '--json'], { env });
      assert.equal(list.code, 0, list.stderr);
      assert.equal(JSON.parse(list.stdout).videos.find((v: any) => v.id === result.id).tags.isrc, 'USRC17607839');
    });
  });

  describe('speech and punchy material at -16 LUFS, mono and 5.1 sources', () => {
    let results: any[];

    before(async () => {
      // Speech-like: band-limited pink noise in syllable-rate bursts, mono MP3.
      await ffmpeg([
        '-f', 'lavfi', '-i', 'anoisesrc=c=pink:a=0.3:d=4:r=44100',
        '-af', "highpass=f=200,lowpass=f=3400,volume='0.2+0.8*abs(sin(2*PI*2.5*t))':eval=frame",
        '-ac', '1', '-c:a', 'libmp3lame', '-b:a', '96k', join(dir, 'speech.mp3'),
      ]);
      // Drum-like hits over a quiet bed: the linear gain would clip, so the limiter path runs.
      await ffmpeg([
        '-f', 'lavfi', '-i', 'anoisesrc=c=pink:a=0.05:d=4:r=48000',
        '-f', 'lavfi', '-i', "aevalsrc='0.9*exp(-mod(t\\,0.5)*40)*sin(2*PI*80*t)':s=48000:d=4",
        '-filter_complex', '[0][1]amix=inputs=2:normalize=0', '-c:a', 'pcm_s16le', join(dir, 'drums.wav'),
      ]);
      await ffmpeg(['-f', 'lavfi', '-i', 'anoisesrc=c=pink:a=0.1:d=3:r=48000', '-af', 'aformat=channel_layouts=5.1', '-c:a', 'aac', '-b:a', '256k', join(dir, 'surround.m4a')]);
      const out = await transcodeJson(
        [join(dir, 'speech.mp3'), join(dir, 'drums.wav'), join(dir, 'surround.m4a'), '--out', join(dir, 'out'), '--db', db, '--loudness', '-16', '--audio-ladder', '96', '--surround', '--no-thumbnails'],
        env,
      );
      assert.equal(out.run.code, 0, out.run.stderr);
      results = out.results;
    });

    it('reaches -16 LUFS ±1 with true peak < -1 dBTP on every packaged rendition', async () => {
      for (const result of results) {
        for (const rendition of result.renditions) {
          const playlist = join(result.outputs.root, rendition.playlist);
          const loudness = await packagedLoudness(dir, playlist, `${result.id}-${rendition.name}`);
          assert.ok(Math.abs(loudness.integrated - -16) <= 1, `${result.input} ${rendition.name}: ${loudness.integrated} LUFS`);
          assert.ok(loudness.truePeak < -1, `${result.input} ${rendition.name}: ${loudness.truePeak} dBTP`);
        }
      }
      const drums = results.find((r) => r.input.endsWith('drums.wav'));
      assert.equal(drums.loudness.method, 'limited', 'a linear gain would have clipped the hits');
    });

    it('downmixes mono and 5.1 to stereo and keeps 5.1 as a 6-channel rendition on request', async () => {
      const speech = results.find((r) => r.input.endsWith('speech.mp3'));
      assert.deepEqual(speech.renditions.map((r: any) => `${r.name}/${r.channels}`), ['aac-96k/2']);
      const surround = results.find((r) => r.input.endsWith('surround.m4a'));
      assert.deepEqual(surround.renditions.map((r: any) => `${r.name}/${r.channels}/${r.sampleRate}`), ['aac-96k/2/48000', 'aac-5.1-384k/6/48000']);
      const master = await readPlaylist(join(surround.outputs.root, '..', 'master.m3u8'));
      assert.equal(master.variants.length, 2);
      const speechSource = await decodedSeconds(join(dir, 'speech.mp3'));
      const playlist = await readPlaylist(join(speech.outputs.root, speech.renditions[0].playlist));
      assert.ok(Math.abs(playlistSeconds(playlist) - speechSource) <= 1024 / 44100, `${playlistSeconds(playlist)} s vs ${speechSource} s`);
    });
  });

  it('packages aiff, ogg/vorbis, opus and 22 kHz wav with the source duration', async () => {
    const inputs: [string, string[]][] = [
      ['aiff.aiff', ['-c:a', 'pcm_s16be']],
      ['vorbis.ogg', ['-c:a', 'libvorbis', '-metadata', 'title=Ogg Title']],
      ['opus.opus', ['-c:a', 'libopus', '-b:a', '64k']],
      ['wav22k.wav', ['-ar', '22050', '-c:a', 'pcm_s16le']],
    ];
    for (const [name, args] of inputs) {
      await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=48000:duration=2', '-ac', '2', ...args, join(dir, name)]);
    }
    const { run, results } = await transcodeJson(
      [...inputs.map(([name]) => join(dir, name)), '--out', join(dir, 'formats'), '--db', db, '--audio-ladder', '64', '--loudness', 'off', '--no-thumbnails'],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    for (const result of results) {
      assert.equal(result.status, 'succeeded');
      assert.equal(result.loudness.method, 'none', 'measured only');
      assert.equal(result.loudness.target, undefined);
      const [rendition] = result.renditions;
      assert.equal(rendition.codecs, 'mp4a.40.2');
      const playlist = await readPlaylist(join(result.outputs.root, rendition.playlist));
      const source = await decodedSeconds(result.input);
      assert.ok(Math.abs(playlistSeconds(playlist) - source) <= 1024 / rendition.sampleRate, `${result.input}: ${playlistSeconds(playlist)} s vs ${source} s`);
    }
    assert.equal(results.find((r) => r.input.endsWith('wav22k.wav')).renditions[0].sampleRate, 44100);
    assert.equal(results.find((r) => r.input.endsWith('opus.opus')).renditions[0].sampleRate, 48000);
    const ogg = results.find((r) => r.input.endsWith('vorbis.ogg'));
    const show = JSON.parse((await runCli(['show', ogg.id, '--db', db, '--json'], { env })).stdout);
    assert.equal(show.video.tags.title, 'Ogg Title', 'Vorbis comments live on the stream');
  });

  it('rejects corrupt, empty and undecodable audio with exit 2 and publishes nothing', async () => {
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=6', '-c:a', 'libmp3lame', '-b:a', '128k', join(dir, 'corrupt.mp3')]);
    const mp3 = await readFile(join(dir, 'corrupt.mp3'));
    for (let i = 30000; i < 38000; i++) mp3[i] = (i * 7919) & 0xff;
    await writeFile(join(dir, 'corrupt.mp3'), mp3);
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=d=0.001', '-t', '0', '-c:a', 'pcm_s16le', join(dir, 'empty.wav')]);
    // A WAV whose format tag (0x1234) names no codec ffmpeg knows.
    const header = Buffer.alloc(44);
    header.write('RIFF', 0); header.writeUInt32LE(36 + 8000, 4); header.write('WAVEfmt ', 8); header.writeUInt32LE(16, 16);
    header.writeUInt16LE(0x1234, 20); header.writeUInt16LE(2, 22); header.writeUInt32LE(44100, 24); header.writeUInt32LE(176400, 28);
    header.writeUInt16LE(4, 32); header.writeUInt16LE(16, 34); header.write('data', 36); header.writeUInt32LE(8000, 40);
    await writeFile(join(dir, 'alien.wav'), Buffer.concat([header, Buffer.alloc(8000, 0x55)]));

    const names = ['corrupt.mp3', 'empty.wav', 'alien.wav'];
    const run = await runCli(['transcode', ...names.map((name) => join(dir, name)), '--out', join(dir, 'bad'), '--db', db, '--concurrency', '2'], { env });
    assert.equal(run.code, 2, run.stderr);
    for (const name of names) {
      const lines = run.stderr.split('\n').filter((line) => line.includes(name));
      assert.ok(lines.length >= 1, `${name}: the reason names the file: ${run.stderr}`);
      assert.ok(!existsSync(join(dir, 'bad', name.replace(/\.\w+$/, ''))), `${name}: nothing published`);
    }
    assert.match(run.stderr, /corrupt\.mp3: audio stream 0 has corrupt data \(\d+ damaged frames?, first: [^)]+\)/);
    assert.match(run.stderr, /empty\.wav[^\n]*(zero|no audio|empty)/);
    assert.match(run.stderr, /alien\.wav[^\n]*(codec|decod)/);
  });

  it('normalises the audio of a video with --loudness and adds Opus for DASH', async () => {
    const clip = await makeClip(join(dir, 'clip.mp4'), { durationSeconds: 4 });
    const { run, results } = await transcodeJson(
      [clip, '--out', join(dir, 'video'), '--db', db, '--ladder', '144p', '--preset', 'superfast', '--loudness', '-16', '--opus', '--no-thumbnails'],
      env,
    );
    assert.equal(run.code, 0, run.stderr);
    const [result] = results;
    assert.deepEqual(result.renditions.filter((r: any) => r.kind === 'audio').map((r: any) => r.name), ['aac-128k', 'opus-96k']);
    const root = result.outputs.root as string;
    const video = await readPlaylist(join(root, result.renditions[0].playlist));
    const audio = await readPlaylist(join(root, 'audio', 'aac-128k', 'index.m3u8'));
    assert.ok(Math.abs(playlistSeconds(audio) - playlistSeconds(video)) < 0.001, `audio ${playlistSeconds(audio)} s, video ${playlistSeconds(video)} s`);
    const loudness = await packagedLoudness(dir, join(root, 'audio', 'aac-128k', 'index.m3u8'), 'video-aac');
    assert.ok(Math.abs(loudness.integrated - -16) <= 1 && loudness.truePeak < -1, JSON.stringify(loudness));
    assert.doesNotMatch(await readFile(join(root, '..', 'master.m3u8'), 'utf8'), /opus/);
    assert.match(await readFile(join(root, '..', 'manifest.mpd'), 'utf8'), /codecs="opus"/);
    assert.ok((await readdir(join(root, 'audio'))).includes('opus-96k'));
  });
});
