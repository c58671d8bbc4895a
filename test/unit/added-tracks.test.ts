/**
 * What `vidpipe add-track` decides before encoding (src/core/added-tracks.ts): the added files'
 * renditions follow the package's own audio settings, ids and names stay unique, and the
 * DEFAULT/role rules are a transcode's (a main file takes the default; a description never does).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { audioRecipes, planAddedAudio, planAddedSubtitles, signalledDefault, withoutTracks } from '../../src/core/added-tracks.js';
import type { ProbedAudioTrack } from '../../src/core/plan.js';
import type { MediaProbe } from '../../src/ffmpeg/probe.js';
import type { SidecarAudio } from '../../src/settings/job-settings.js';
import { audioTrack, sampleModel, subtitleTrack } from '../helpers/manifest-model.js';

const probed = (track: SidecarAudio): ProbedAudioTrack => ({
  track,
  probe: { audioStreams: [{ index: 0, codec: 'mp3', channels: 1, sampleRate: 44100, isDefault: true }] } as unknown as MediaProbe,
});
const english = audioTrack('aac-128k', 'aac', 'en', 'English', 140_000, 130_000, { isDefault: true, role: 'main' });
const englishOpus = audioTrack('opus-96k', 'opus', 'en', 'English', 100_000, 96_000, { isDefault: true, role: 'main' });
const recorded = [{ name: 'aac-128k', targetBitrate: 128_000 }, { name: 'opus-96k', targetBitrate: 96_000 }] as never;

describe('add-track planning', () => {
  it('makes each added file the renditions the package\'s audio has: AAC and Opus at their rates', () => {
    const recipes = audioRecipes([english, englishOpus], recorded);
    assert.deepEqual(recipes, [{ codec: 'aac', bitrateKbps: 128, sampleRate: 48000, channels: 2 }, { codec: 'opus', bitrateKbps: 96, sampleRate: 48000, channels: 2 }]);
    const { renditions, existing } = planAddedAudio([english, englishOpus], recipes, [probed({ path: 'fr.mp3', language: 'fr', role: 'dub' })]);
    assert.deepEqual(renditions.map((r) => [r.id, r.codec, r.bitrateKbps, r.name, r.isDefault, r.role, r.file]), [
      ['aac-128k-fr-dub', 'aac', 128, 'Français', false, 'dub', 'fr.mp3'],
      ['opus-96k-fr-dub', 'opus', 96, 'Français', false, 'dub', 'fr.mp3'],
    ]);
    assert.deepEqual(existing, [english, englishOpus], 'the package\'s own tracks are left as they were');
  });

  it('gives a package without audio the defaults of a transcode, and its first plain file the default', () => {
    const recipes = audioRecipes([], []);
    assert.deepEqual(recipes, [{ codec: 'aac', bitrateKbps: 128, sampleRate: 48000, channels: 2 }]);
    const { renditions } = planAddedAudio([], recipes, [probed({ path: 'ad.wav', language: 'en', role: 'description' }), probed({ path: 'en.wav', language: 'en' })]);
    assert.deepEqual(renditions.map((r) => [r.id, r.name, r.isDefault, r.role]), [
      ['aac-128k-en-description', 'English (AD)', false, 'description'],
      ['aac-128k-en', 'English', true, 'main'],
    ]);
  });

  it('lets a file said to be main take the default: the old default is no longer default nor main', () => {
    const { renditions, existing } = planAddedAudio([english], audioRecipes([english], recorded), [probed({ path: 'mix.wav', language: 'en', role: 'main' })]);
    assert.deepEqual(renditions.map((r) => [r.id, r.name, r.isDefault, r.role]), [['aac-128k-en-main', 'English 2', true, 'main']]);
    assert.deepEqual(existing.map((t) => [t.id, t.isDefault, t.role]), [['aac-128k', false, undefined]]);
  });

  it('gives a 5.1 file the package\'s 5.1 renditions (--surround), a stereo file stereo only; stereo stays the default', () => {
    const surround = audioTrack('aac-5.1-384k', 'aac', 'en', 'English', 400_000, 384_000, { channels: 6, groupId: 'audio-aac-6ch', isDefault: true, role: 'main' });
    const eac3 = audioTrack('eac3-5.1-192k', 'eac3', 'en', 'English', 200_000, 192_000, { channels: 6, groupId: 'audio-eac3-6ch', isDefault: true, role: 'main' });
    const recipes = audioRecipes([english, surround, eac3], [...(recorded as never[]), { name: 'aac-5.1-384k', targetBitrate: 384_000 }, { name: 'eac3-5.1-192k', targetBitrate: 192_000 }] as never);
    assert.deepEqual(recipes.map((r) => [r.codec, r.channels, r.bitrateKbps]), [['aac', 2, 128], ['aac', 6, 384], ['eac3', 6, 192]]);
    const wide = { ...probed({ path: 'mix.wav', language: 'en', role: 'main' }) };
    wide.probe = { audioStreams: [{ index: 0, codec: 'pcm_s16le', channels: 6, sampleRate: 48000, isDefault: true }] } as unknown as MediaProbe;
    const { renditions } = planAddedAudio([english, surround, eac3], recipes, [wide, probed({ path: 'fr.mp3', language: 'fr', role: 'dub' })]);
    assert.deepEqual(renditions.map((r) => [r.id, r.channels, r.isDefault, signalledDefault(r, renditions)]), [
      ['aac-128k-en-main', 2, true, true],
      ['aac-5.1-384k-en-main', 6, false, true],
      ['eac3-5.1-192k-en-main', 6, false, true],
      ['aac-128k-fr-dub', 2, false, false],
    ]);
  });

  it('keeps ids and names unique against the package\'s tracks', async () => {
    const dub = audioTrack('aac-128k-fr-dub', 'aac', 'fr', 'Français', 140_000, 130_000);
    const { renditions } = planAddedAudio([english, dub], audioRecipes([english], recorded), [probed({ path: 'fr2.mp3', language: 'fr', role: 'dub' })]);
    assert.deepEqual(renditions.map((r) => [r.id, r.name]), [['aac-128k-fr-dub-2', 'Français 2']]);
    const dir = await mkdtemp(join(tmpdir(), 'vidpipe-added-'));
    try {
      await writeFile(join(dir, 'en.srt'), '1\n00:00:00,500 --> 00:00:01,000\nHello\n');
      const subtitles = planAddedSubtitles([subtitleTrack('sub-en', 'en', 'English', false)], [{ path: join(dir, 'en.srt'), language: 'en' }]);
      assert.deepEqual(subtitles.map((s) => [s.id, s.name, s.isDefault]), [['sub-en-2', 'English 2', false]]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('removes audio and subtitle tracks by id, hands a removed default on, and refuses video ids and unknown ids (exit 2)', () => {
    const model = sampleModel();
    const defaultAudio = model.audios.find((t) => t.isDefault && t.codec === 'aac')!;
    const without = withoutTracks(model, [defaultAudio.id, model.subtitles[0]!.id]);
    assert.ok(!without.audios.some((t) => t.id === defaultAudio.id));
    assert.equal(without.audios.filter((t) => t.groupId === defaultAudio.groupId && t.isDefault).length, 1, 'one default in the group again');
    assert.equal(without.subtitles.length, model.subtitles.length - 1);
    assert.deepEqual(without.videos, model.videos);
    assert.throws(() => withoutTracks(model, [model.videos[0]!.id]), (e: any) => e.code === 'USAGE' && /video rendition/.test(e.message));
    assert.throws(() => withoutTracks(model, ['aac-999k']), (e: any) => e.code === 'USAGE' && /no such track/.test(e.message));
  });
});
