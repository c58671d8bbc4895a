/**
 * What `vidpipe add-track` changes in a published package, decided from the package's model
 * (vidpipe.json's `contents`, src/core/package-summary.ts) before anything is encoded: the
 * renditions of each added audio file, made with the settings the package's own audio was made
 * with; the added subtitle renditions; the tracks removed; and the DEFAULT and role of every
 * track by the rules of a transcode (planAudio, planSubtitles): one default per group, a file
 * given as `main` is the default, a description or commentary never is.
 */
import { VidpipeError } from '../errors.js';
import type { MediaProbe } from '../ffmpeg/probe.js';
import type { AudioTrack, PackageModel, SubtitleTrack } from '../manifest/model.js';
import { languageName, sourceLanguage } from '../manifest/language.js';
import { audioSignalling, withRoleSuffix } from '../manifest/roles.js';
import type { SidecarSubtitle } from '../settings/job-settings.js';
import { DEFAULT_SETTINGS } from '../settings/job-settings.js';
import { audioStreamOf, DEFAULT_OPUS_KBPS, SURROUND_EAC3_KBPS, SURROUND_KBPS, uniqueName, type AudioRendition, type ProbedAudioTrack } from './plan.js';
import type { RenditionSummary } from './result.js';
import { planSubtitles, type SubtitlePlan } from './stages/subtitles.js';

/** One kind of rendition the package's audio inputs have: codec, bit rate, rate, channels. */
export interface AudioRecipe {
  codec: AudioRendition['codec'];
  bitrateKbps: number;
  sampleRate: number;
  /** 2, or 6 for the 5.1 renditions of `--surround`, made only of an input with 6 or more channels. */
  channels: number;
}

/**
 * The renditions each audio input of the package was given (AAC at --audio-bitrate, Opus at each
 * --opus rate, and with --surround the 5.1 AAC or E-AC-3 of an input that has the channels), from
 * its tracks and the bit rates the encoders were asked for. A package without audio gets the
 * defaults of a transcode.
 */
export function audioRecipes(audios: readonly AudioTrack[], recorded: readonly RenditionSummary[]): AudioRecipe[] {
  const recipes = new Map<string, AudioRecipe>();
  for (const track of audios) {
    const channels = track.channels > 2 ? 6 : 2;
    const target = recorded.find((r) => r.name === track.id)?.targetBitrate;
    const bitrateKbps = target ? Math.round(target / 1000) : track.codec === 'opus' ? DEFAULT_OPUS_KBPS.video[0] : track.codec === 'eac3' ? SURROUND_EAC3_KBPS : channels === 6 ? SURROUND_KBPS : DEFAULT_SETTINGS.audioBitrateKbps;
    recipes.set(`${track.codec}-${channels}-${bitrateKbps}`, { codec: track.codec, bitrateKbps, sampleRate: track.sampleRate, channels });
  }
  if (recipes.size === 0) return [{ codec: 'aac', bitrateKbps: DEFAULT_SETTINGS.audioBitrateKbps, sampleRate: DEFAULT_SETTINGS.audioSampleRate ?? 48000, channels: 2 }];
  // In planAudio's order: stereo AAC, the 5.1 renditions, then Opus from the lowest rate.
  const rank = (recipe: AudioRecipe) => (recipe.codec === 'opus' ? 3 : recipe.channels > 2 ? (recipe.codec === 'aac' ? 1 : 2) : 0);
  return [...recipes.values()].sort((a, b) => rank(a) - rank(b) || a.bitrateKbps - b.bitrateKbps);
}

export interface AddedAudio {
  /** The new renditions, in the order the files were given. */
  renditions: AudioRendition[];
  /** The package's audio tracks as they are to be signalled now (a new main file takes the default). */
  existing: AudioTrack[];
}

/** Renditions of each added file, with the package's recipes; unique ids and names; one default per group. */
export function planAddedAudio(existing: readonly AudioTrack[], recipes: readonly AudioRecipe[], tracks: readonly ProbedAudioTrack[]): AddedAudio {
  const usedIds = new Set(existing.map((track) => track.id));
  const usedNames = new Set(existing.map((track) => track.name));
  const idFor = (base: string) => {
    let id = base;
    for (let n = 2; usedIds.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    return id;
  };
  const hasDefault = existing.some((track) => track.isDefault);
  // A file said to be main is the programme's own sound: the default, as in a transcode.
  const main = tracks.findIndex(({ track }) => track.role === 'main');
  const defaultIndex = main >= 0 ? main : hasDefault ? -1 : tracks.findIndex(({ track }) => track.role !== 'description' && track.role !== 'commentary');
  const opusCount = recipes.filter((recipe) => recipe.codec === 'opus').length;
  // A 5.1 rendition is named like its stereo one (as in a transcode), its id says the layout.
  const idBase = (recipe: AudioRecipe) => (recipe.channels > 2 ? `${recipe.codec}-5.1-${recipe.bitrateKbps}k` : `${recipe.codec}-${recipe.bitrateKbps}k`);
  const opusDefault = recipes.filter((recipe) => recipe.codec === 'opus').reduce((best, recipe) => (Math.abs(recipe.bitrateKbps - 96) < Math.abs(best - 96) ? recipe.bitrateKbps : best), Infinity);
  const renditions = tracks.flatMap(({ track, probe }, i) => {
    const language = sourceLanguage(track.language) ?? 'und';
    const name = uniqueName(withRoleSuffix(language === 'und' ? 'Audio' : languageName(language), audioSignalling(track.role, false)), usedNames);
    const isDefault = i === defaultIndex;
    const role = track.role ?? (isDefault ? 'main' : undefined);
    const suffix = `-${language.toLowerCase()}${track.role ? `-${track.role}` : ''}`;
    const stream = audioStreamOf(probe)!;
    return recipes.filter((recipe) => recipe.channels <= 2 || stream.channels >= 6).map((recipe): AudioRendition => ({
      id: idFor(`${idBase(recipe)}${suffix}`),
      streamIndex: stream.index,
      codec: recipe.codec,
      bitrateKbps: recipe.bitrateKbps,
      channels: recipe.channels,
      // Opus and E-AC-3 code at 48 kHz whatever the input.
      sampleRate: recipe.codec === 'aac' ? recipe.sampleRate : 48000,
      language,
      name: recipe.codec === 'opus' && opusCount > 1 ? `${name} ${recipe.bitrateKbps}k` : name,
      // Stereo stays the default; a 5.1 group's own default is the default input's 5.1 (signalledDefault).
      isDefault: isDefault && recipe.channels <= 2 && (recipe.codec === 'aac' || recipe.bitrateKbps === opusDefault),
      ...(role ? { role } : {}),
      file: track.path,
      ...(track.offsetSeconds ? { offsetSeconds: track.offsetSeconds } : {}),
    }));
  });
  // The old default stands down for a new main file: no longer default, nor main unless a file said so.
  const demote = defaultIndex >= 0 && hasDefault;
  const adjusted = existing.map((track) => {
    if (!demote || !track.isDefault) return track;
    const { role, ...rest } = track;
    return { ...rest, isDefault: false, ...(role && role !== 'main' ? { role } : {}) };
  });
  return { renditions, existing: adjusted };
}

/** planSubtitles reads only the source's subtitle streams: here there is no source, only files. */
const NO_SOURCE_SUBTITLES = { subtitleStreams: [] } as Pick<MediaProbe, 'subtitleStreams'> as MediaProbe;

/**
 * Whether an added rendition is its group's DEFAULT=YES: the default stereo renditions, and the
 * 5.1 renditions of the default input in their own groups, as the manifests node of a transcode
 * signals them.
 */
export function signalledDefault(rendition: AudioRendition, added: readonly AudioRendition[]): boolean {
  return rendition.isDefault || (rendition.channels > 2 && added.some((other) => other.isDefault && other.file === rendition.file));
}

/** The added subtitle files as renditions whose ids and names no track of the package has. */
export function planAddedSubtitles(existing: readonly SubtitleTrack[], sidecars: readonly SidecarSubtitle[]): SubtitlePlan[] {
  const usedIds = new Set(existing.map((track) => track.id));
  const usedNames = new Set(existing.map((track) => track.name));
  return planSubtitles(NO_SOURCE_SUBTITLES, sidecars).map((plan) => {
    let id = plan.id;
    for (let n = 2; usedIds.has(id); n++) id = `${plan.id}-${n}`;
    usedIds.add(id);
    return { ...plan, id, name: uniqueName(plan.name, usedNames) };
  });
}

/**
 * The model without the tracks named (audio or subtitle ids): a removed default hands the
 * default to the first remaining track of its group that is neither a description nor a
 * commentary. Video renditions are not tracks to remove; an unknown id is a usage error.
 */
export function withoutTracks(model: PackageModel, ids: readonly string[]): PackageModel {
  const known = new Set([...model.audios, ...model.subtitles].map((track) => track.id));
  for (const id of ids) {
    if (model.videos.some((video) => video.id === id)) throw new VidpipeError('USAGE', `--remove-track ${id}: a video rendition; only audio and subtitle tracks can be removed`);
    if (!known.has(id)) {
      throw new VidpipeError('USAGE', `--remove-track ${id}: the package has no such track`, { hint: `its tracks: ${[...known].join(', ') || 'none'}` });
    }
  }
  const removed = new Set(ids);
  const audios = model.audios.filter((track) => !removed.has(track.id));
  for (const group of new Set(audios.map((track) => track.groupId))) {
    const members = audios.filter((track) => track.groupId === group);
    if (members.some((track) => track.isDefault)) continue;
    const heir = members.find((track) => track.role !== 'description' && track.role !== 'commentary');
    if (heir) audios[audios.indexOf(heir)] = { ...heir, isDefault: true };
  }
  return { ...model, audios, subtitles: model.subtitles.filter((track) => !removed.has(track.id)) };
}
