import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ladderSampleRate, planJob as planJobWith, type JobPlan } from '../../src/core/plan.js';
import { parseProbe } from '../../src/ffmpeg/probe.js';
import { buildAudioFilter, parseLoudnormReport, SILENCE_FLOOR } from '../../src/ffmpeg/args/audio.js';
import { planGain } from '../../src/core/stages/loudness.js';
import { correctGain } from '../../src/core/stages/encode-audio.js';
import { toPresentationTimeline } from '../../src/media/edit-list.js';
import { DEFAULT_SETTINGS, parseTranscodeOptions, type JobSettings } from '../../src/settings/job-settings.js';
import { audioTags } from '../../src/core/audio-report.js';

const settings: JobSettings = { ...DEFAULT_SETTINGS, concurrency: 2 };
const planJob = (probe: Parameters<typeof planJobWith>[0], with_: JobSettings): JobPlan => planJobWith(probe, with_, { av1Encoder: 'libsvtav1' });
/** The settings commander's values would give. */
const toTranscodeSettings = (raw: Record<string, unknown>) => parseTranscodeOptions(raw).settings;

function probeOf(streams: object[], formatTags: Record<string, string> = {}) {
  return parseProbe('/x.flac', 1000, { streams: streams as never, format: { format_name: 'flac', duration: '8.0', start_time: '0', tags: formatTags } });
}
const audio = (channels: number, rate: string, extra: object = {}) => ({ index: 0, codec_type: 'audio', codec_name: 'flac', channels, sample_rate: rate, ...extra });

describe('audio-only plan', () => {
  it('makes the 64/128/256 stereo AAC ladder at the source rate, 128k first (default)', () => {
    const plan = planJob(probeOf([audio(1, '44100')]), settings);
    assert.equal(plan.kind, 'audio');
    assert.deepEqual(plan.audio.map((r) => [r.id, r.codec, r.channels, r.sampleRate, r.isDefault]), [
      ['aac-64k', 'aac', 2, 44100, false],
      ['aac-128k', 'aac', 2, 44100, true],
      ['aac-256k', 'aac', 2, 44100, false],
    ]);
    assert.equal(plan.loudnessTarget, -14, 'music loudness by default');
  });

  it('adds a 5.1 rendition only with --surround and a 6-channel source, and Opus at 48 kHz with --opus', () => {
    const surround = planJob(probeOf([audio(6, '48000')]), { ...settings, surround: ['aac'], opus: true });
    assert.deepEqual(surround.audio.map((r) => `${r.id}/${r.channels}/${r.sampleRate}`), [
      'aac-64k/2/48000', 'aac-128k/2/48000', 'aac-256k/2/48000', 'aac-5.1-384k/6/48000', 'opus-64k/2/48000', 'opus-96k/2/48000', 'opus-160k/2/48000',
    ]);
    const stereo = planJob(probeOf([audio(2, '44100')]), { ...settings, surround: ['aac'] });
    assert.ok(!stereo.audio.some((r) => r.channels === 6), 'a stereo source has no 5.1 to keep');
    assert.match(stereo.notes?.join('\n') ?? '', /--surround: no audio input has 6 or more channels \(the widest has 2\)/);
    const eac3 = planJob(probeOf([audio(6, '44100')]), { ...settings, surround: ['eac3'] });
    assert.deepEqual(eac3.audio.filter((r) => r.channels === 6).map((r) => `${r.id}/${r.codec}/${r.sampleRate}/${r.name}`), ['eac3-5.1-192k/eac3/48000/5.1 E-AC-3 192k']);
  });

  it('keeps 44.1/48 kHz, maps other rates to their family, honours --sample-rate', () => {
    assert.equal(ladderSampleRate(44100), 44100);
    assert.equal(ladderSampleRate(48000), 48000);
    assert.equal(ladderSampleRate(88200), 44100);
    assert.equal(ladderSampleRate(96000), 48000);
    assert.equal(ladderSampleRate(22050), 44100);
    assert.equal(ladderSampleRate(44100, 48000), 48000);
  });

  it('rejects an audio stream ffmpeg cannot decode as bad input', () => {
    assert.throws(() => planJob(probeOf([{ index: 0, codec_type: 'audio', channels: 2, sample_rate: '44100' }]), settings), { code: 'INPUT_INVALID' });
  });

  it('video jobs keep one AAC per source stream, loudness off unless asked', () => {
    const video = { index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 180, avg_frame_rate: '30', r_frame_rate: '30', duration: '8', start_time: '0' };
    const plan = planJob(probeOf([video, { ...audio(2, '44100'), index: 1 }]), settings);
    assert.deepEqual(plan.audio.map((r) => `${r.id}/${r.sampleRate}`), ['aac-128k/48000']);
    assert.equal(plan.loudnessTarget, undefined);
    assert.equal(planJob(probeOf([video, { ...audio(2, '44100'), index: 1 }]), { ...settings, loudness: -16 }).loudnessTarget, -16);
  });
});

describe('surround in video plans', () => {
  const video = { index: 0, codec_type: 'video', codec_name: 'h264', width: 320, height: 180, avg_frame_rate: '30', r_frame_rate: '30', duration: '8', start_time: '0' };
  const fiveOne = (index: number, extra: object = {}) => ({ ...audio(6, '48000'), index, ...extra });
  const stereo = (index: number, extra: object = {}) => ({ ...audio(2, '48000'), index, ...extra });

  it('adds AAC and E-AC-3 5.1 beside each 6-channel input\'s stereo, which stays the default', () => {
    const plan = planJob(probeOf([video, fiveOne(1, { tags: { language: 'eng' }, disposition: { default: 1 } }), stereo(2, { tags: { language: 'fra' } })]), { ...settings, surround: ['aac', 'eac3'] });
    assert.deepEqual(plan.audio.map((r) => `${r.id}/${r.codec}/${r.channels}/${r.bitrateKbps}/${r.isDefault}/${r.name}`), [
      'aac-128k-1/aac/2/128/true/English',
      'aac-5.1-384k-1/aac/6/384/false/English',
      'eac3-5.1-192k-1/eac3/6/192/false/English',
      'aac-128k-2/aac/2/128/false/Français',
    ]);
    assert.ok(plan.audio.filter((r) => r.channels === 6).every((r) => r.role === 'main' && r.streamIndex === 1), 'the 5.1 renditions are the main programme, from its stream');
    assert.equal(plan.notes, undefined);
    assert.equal(plan.download, undefined);
    const withDownload = planJob(probeOf([video, fiveOne(1)]), { ...settings, surround: ['aac', 'eac3'], download: true });
    assert.equal(withDownload.download?.audio, 'aac-128k', 'the download file keeps the stereo default');
  });

  it('makes no 5.1 from stereo, and says so', () => {
    const plan = planJob(probeOf([video, stereo(1)]), { ...settings, surround: ['eac3'] });
    assert.deepEqual(plan.audio.map((r) => r.id), ['aac-128k']);
    assert.deepEqual(plan.notes, ['--surround: no audio input has 6 or more channels (the widest has 2); no 5.1 rendition was made, only stereo']);
    assert.deepEqual(planJob(probeOf([video, fiveOne(1)]), settings).audio.map((r) => r.id), ['aac-128k'], 'no --surround: stereo only');
  });
});

describe('audio options', () => {
  const raw = { out: 'o', codecs: 'h264', preset: 'medium', concurrency: '2', segmentDuration: '6', audioBitrate: '128', thumbnails: true, stallTimeout: '300' };
  it('parses the ladder, Opus, sample rate and loudness', () => {
    const s = toTranscodeSettings({ ...raw, audioLadder: '96,48', opus: '64', sampleRate: '48000', loudness: '-16', surround: true });
    assert.deepEqual([s.audioLadderKbps, s.opus, s.opusKbps, s.audioSampleRate, s.loudness, s.surround], [[96, 48], true, [64], 48000, -16, ['aac']]);
    assert.deepEqual(toTranscodeSettings({ ...raw, surround: 'eac3' }).surround, ['eac3']);
    assert.deepEqual(toTranscodeSettings({ ...raw, surround: 'aac,E-AC-3' }).surround, ['aac', 'eac3']);
    assert.deepEqual(toTranscodeSettings(raw).surround, [], 'stereo only unless asked');
    assert.equal(toTranscodeSettings({ ...raw, loudness: 'off' }).loudness, 'off');
    assert.equal(toTranscodeSettings({ ...raw, opus: true }).opusKbps, undefined);
  });
  it('rejects nonsense with the flag named', () => {
    assert.throws(() => toTranscodeSettings({ ...raw, loudness: '3' }), /--loudness/);
    assert.throws(() => toTranscodeSettings({ ...raw, sampleRate: '32000' }), /--sample-rate/);
    assert.throws(() => toTranscodeSettings({ ...raw, audioLadder: '64,abc' }), /--audio-ladder/);
    assert.throws(() => toTranscodeSettings({ ...raw, surround: 'dts' }), /--surround.*"dts" is not one of aac, eac3/);
  });
});

describe('loudness decisions', () => {
  const measured = (integrated: number, truePeak: number) => ({ integrated, truePeak, range: 3, threshold: integrated - 10 });
  it('uses a linear gain when the peak stays under the ceiling, a limiter when it would not', () => {
    assert.deepEqual(planGain(measured(-20, -10), -14), { mode: 'linear', gainDb: 6 });
    assert.deepEqual(planGain(measured(-20, -3), -14), { mode: 'limited', gainDb: 6, ceilingDb: -2 });
    assert.deepEqual(planGain(measured(-8, 0.5), -14), { mode: 'linear', gainDb: -6 }, 'too loud: turned down');
    assert.equal(planGain(measured(SILENCE_FLOOR, SILENCE_FLOOR), -14), undefined, 'silence is left alone');
  });

  it('corrects codec overshoot and a limiter loudness shortfall along the measured slope', () => {
    const linear = correctGain([{ gain: { mode: 'linear', gainDb: 6 }, measured: measured(-14, -0.6) }], -14);
    assert.ok(linear?.mode === 'linear' && Math.abs(linear.gainDb - (6 - 0.4 - 0.3)) < 1e-9);
    assert.equal(correctGain([{ gain: { mode: 'linear', gainDb: 6 }, measured: measured(-14, -1.2) }], -14), undefined);
    const first = { gain: { mode: 'limited' as const, gainDb: 6, ceilingDb: -2 }, measured: measured(-16, -1.8) };
    const next = correctGain([first], -14);
    assert.deepEqual(next, { mode: 'limited', gainDb: 8, ceilingDb: -2 });
    // 2 dB more gain bought only 1 LU: the next step asks twice the shortfall.
    const again = correctGain([first, { gain: next!, measured: measured(-15, -1.8) }], -14);
    assert.ok(again?.mode === 'limited' && Math.abs(again.gainDb - 10) < 1e-9);
    const final = correctGain([first, { gain: next!, measured: measured(-15, -0.8) }], -14, true);
    assert.ok(final?.mode === 'limited' && final.gainDb === 8 && Math.abs(final.ceilingDb - (-2 - 0.2 - 0.3)) < 1e-9, 'the last encode only fixes the peak');
  });

  it('parses loudnorm\'s report, silence as the floor', () => {
    const stderr = '[info] size=N/A\n[Parsed_loudnorm_0 @ 0x1] [info] \n{\n\t"input_i" : "-22.26",\n\t"input_tp" : "-10.96",\n\t"input_lra" : "1.50",\n\t"input_thresh" : "-32.26",\n\t"target_offset" : "-0.04"\n}\n';
    assert.deepEqual(parseLoudnormReport(stderr), { integrated: -22.26, truePeak: -10.96, range: 1.5, threshold: -32.26 });
    const silent = stderr.replace('"-22.26"', '"-inf"').replace('"-10.96"', '"-inf"').replace('"-32.26"', '"-70.00"');
    assert.equal(parseLoudnormReport(silent)?.integrated, SILENCE_FLOOR);
    assert.equal(parseLoudnormReport('no report'), undefined);
  });

  it('puts the downmix before the gain and keeps audio-only timing unpadded', () => {
    const rendition = { id: 'aac-128k', streamIndex: 0, codec: 'aac' as const, bitrateKbps: 128, channels: 2, sampleRate: 44100, language: 'und', name: 'x', isDefault: true };
    assert.equal(buildAudioFilter({ source: 's', output: 'o', rendition, gain: { mode: 'linear', gainDb: 3.5 } }), 'aresample=44100,aformat=channel_layouts=stereo,volume=3.50dB');
    const fitted = buildAudioFilter({ source: 's', output: 'o', rendition, fitToSeconds: 2, gain: { mode: 'limited', gainDb: 1, ceilingDb: -2 } });
    assert.match(fitted, /^aresample=44100:async=1:first_pts=0,aformat=channel_layouts=stereo,volume=1\.00dB,aresample=176400,alimiter=limit=0\.7943:.*latency=true,aresample=44100,apad,atrim=end_sample=88200$/);
  });
});

describe('AAC priming on the presentation timeline', () => {
  it('takes the edit list delay off the first segment and shifts the rest', () => {
    const segments = [
      { uri: 'a', bytes: 1, startTime: 0, duration: 289024 },
      { uri: 'b', bytes: 1, startTime: 289024, duration: 96000 },
    ];
    assert.deepEqual(toPresentationTimeline(segments, 1024), [
      { uri: 'a', bytes: 1, startTime: 0, duration: 288000 },
      { uri: 'b', bytes: 1, startTime: 288000, duration: 96000 },
    ]);
    assert.equal(toPresentationTimeline(segments, 0), segments);
  });
});

describe('audio tags', () => {
  it('merges Vorbis comments from the stream and uses common names', () => {
    const probe = probeOf([{ ...audio(2, '48000'), tags: { TITLE: 'Song', ARTIST: 'Me', TRACKNUMBER: '3', encoder: 'Lavf' } }], { TSRC: 'USRC17607839', album: 'LP' });
    assert.deepEqual(audioTags(probe), { title: 'Song', artist: 'Me', track: '3', isrc: 'USRC17607839', album: 'LP' });
  });
});
