import { probeFile, type AudioStreamInfo, type MediaProbe, type Rational, type VideoStreamInfo } from '../ffmpeg/probe.js';
import { VidpipeError, isVidpipeError } from '../errors.js';
import { buildLadder, chooseFrameRate, type Rendition } from './ladder.js';
import { hdrTransferOf, type HdrTransfer } from '../ffmpeg/hdr.js';
import type { Av1Encoder } from '../ffmpeg/args/encoders.js';
import { displaySizeAtWidth } from '../ffmpeg/args/images.js';
import { planSubtitles, type SubtitlePlan } from './stages/subtitles.js';
import type { AudioRole, HlsSegments, JobSettings, SidecarAudio, SurroundCodec } from '../settings/job-settings.js';
import { languageName, sourceLanguage, titleName } from '../manifest/language.js';
import { audioSignalling, withRoleSuffix } from '../manifest/roles.js';
import { balancedChunks, fixedChunks, type Chunk } from './schedule.js';

export type { Chunk } from './schedule.js';

export interface AudioRendition {
  id: string;
  /** Index of the source stream (ffprobe's stream index). */
  streamIndex: number;
  codec: 'aac' | 'opus' | 'eac3';
  bitrateKbps: number;
  channels: number;
  sampleRate: number;
  language: string;
  name: string;
  isDefault: boolean;
  /** What the track is for (main, dub, description, commentary); absent: none said. */
  role?: AudioRole;
  /** A `--audio-track` file the stream is read from instead of the source (streamIndex is then the file's). */
  file?: string;
  /** Where the file's first sample plays on the video's timeline, seconds. */
  offsetSeconds?: number;
}

export interface VideoPlan {
  streamIndex: number;
  frameRate: Rational;
  gopFrames: number;
  segmentFrames: number;
  totalFrames: number;
  chunks: Chunk[];
  renditions: Rendition[];
  /** Deinterlace before scaling (the source is interlaced). */
  deinterlace: boolean;
  /** The source's HDR transfer: HEVC/AV1 renditions keep it (10-bit), H.264 is tone-mapped to SDR. */
  hdr?: HdrTransfer;
  /** Corrupt frames the decoder may report before the source is refused; absent: any (`--allow-decode-errors`). */
  maxDecodeErrors?: number;
  /** CMAF fragment length of the video tracks: one GOP, so every fragment starts with a key frame. */
  fragmentSeconds: number;
}

/**
 * The package's pictures: a poster and a storyboard read from a small rendition (same timeline,
 * upright, square pixels, 2 s GOPs, a fraction of the pixels), or an audio file's cover art.
 */
export type ThumbnailPlan =
  | {
      kind: 'poster-storyboard';
      fromRendition: string;
      /**
       * A rendition at the poster's own size (upright, square pixels, no padding, SDR) to decode
       * the chosen frame from: at most one of its 2 s GOPs, where a long GOP of a large source
       * cost seconds of decoding at the end of the job. Absent: the frame comes from the source.
       */
      posterFrameFrom?: string;
    }
  | { kind: 'cover' };

/** MPEG-TS variants for legacy players: each H.264 rendition muxed with one AAC rendition. */
export interface TsPlan {
  renditions: string[];
  audio?: string;
}

/**
 * download.mp4 (`--download`): the largest H.264 rendition the rise check keeps, remuxed with
 * one AAC rendition. H.264 + AAC in MP4 is what every device and editor opens.
 */
export interface DownloadPlan {
  /** The H.264 renditions, largest first: the first one packaged is the one copied. */
  renditions: string[];
  /** The default AAC rendition (else the first); absent for a source without audio. */
  audio?: string;
}

/**
 * Everything the job will make, decided before any of it runs: the graph (src/job/graph.ts) is
 * built from this and the job's options alone, on this machine or on a queue worker.
 */
export interface JobPlan {
  kind: 'video' | 'audio';
  /** Exact segment duration in seconds (a whole number of frames for video). */
  segmentDurationSeconds: number;
  /** Duration of the presentation: the video timeline, or the audio for audio-only jobs. */
  durationSeconds: number;
  video?: VideoPlan;
  audio: AudioRendition[];
  /** CMAF fragment length of the audio tracks. */
  audioFragmentSeconds: number;
  /**
   * Whether the loudness pass runs: always for audio-only jobs (it decodes every frame, rejecting
   * corrupt files before any encode, and records the loudness even with --loudness off), for video
   * jobs only when normalising.
   */
  measureLoudness: boolean;
  /** Integrated loudness (LUFS) every audio rendition is normalised to; absent: levels left as they are. */
  loudnessTarget?: number;
  /**
   * Damaged frames the audio decoder may report per audio stream of a video job before the source
   * is refused; absent: any (`--allow-decode-errors`), or an audio-only job, whose loudness pass
   * refuses every damaged frame before anything is encoded.
   */
  maxAudioDecodeErrors?: number;
  /** WebVTT subtitle renditions (source text streams and sidecars). */
  subtitles?: SubtitlePlan[];
  /** Which HLS flavours to write; TS renditions are the H.264 ones. */
  hlsSegments?: HlsSegments;
  ts?: TsPlan;
  /** `--download`. */
  download?: DownloadPlan;
  /** Absent with --no-thumbnails. */
  thumbnails?: ThumbnailPlan;
  /** PSNR/SSIM of every video rendition against the source (`--metrics`, video jobs). */
  metrics: boolean;
  /** What the plan changed of what was asked, one line each (an audio track cut at the video's end). */
  notes?: string[];
}

/** What the plan needs to know of the ffmpeg in use. */
export interface PlanEncoders {
  av1Encoder: Av1Encoder;
}

/** A chunk is redone whole when it fails and reused whole on resume: at most a minute of video. */
const MAX_CHUNK_SECONDS = 60;
/**
 * Each chunk restarts the encoders' rate control: chunks of one 2 s GOP lost up to 0.7 dB PSNR
 * against a single-process encode at the same rates (`npm run bench`, quality section).
 */
const MIN_CHUNK_SECONDS = 4;

/**
 * The chunks of the timeline: `--chunk-duration` as asked, else the balanced schedule of
 * schedule.ts. A source key frame counts from the first grid frame after it (by a hundredth of a
 * frame, so the seek time, printed to the microsecond, never falls before the key frame).
 */
function chooseChunks(totalFrames: number, gopFrames: number, fps: number, video: VideoStreamInfo, settings: JobSettings): Chunk[] {
  const keyFrames = sourceKeyFrames(video, fps);
  const grid = { totalFrames, gridFrames: gopFrames, prerollFrames: Math.ceil(fps), ...(keyFrames ? { keyFrames } : {}) };
  if (settings.chunkSeconds > 0) return fixedChunks(grid, settings.chunkSeconds * fps);
  return balancedChunks(grid, settings.concurrency, { maxChunkFrames: MAX_CHUNK_SECONDS * fps, minChunkFrames: MIN_CHUNK_SECONDS * fps });
}

/** The source's key frames on the output grid: each as the first grid frame after it (see chooseChunks); undefined when unknown. */
export function sourceKeyFrames(video: Pick<VideoStreamInfo, 'keyFrameSeconds'>, fps: number): number[] | undefined {
  return video.keyFrameSeconds?.map((seconds) => Math.ceil(seconds * fps + 0.01));
}

/**
 * The GOP length in frames: a divisor of the segment (so every segment starts with a key
 * frame) as close as possible to the wanted GOP duration; 2 s GOPs in 6 s segments at any
 * common frame rate.
 */
export function chooseGopFrames(segmentFrames: number, fps: number, gopSeconds: number): number {
  let best = segmentFrames;
  for (let gops = 1; gops <= segmentFrames; gops++) {
    if (segmentFrames % gops !== 0) continue;
    const frames = segmentFrames / gops;
    if (Math.abs(frames / fps - gopSeconds) < Math.abs(best / fps - gopSeconds)) best = frames;
  }
  return best;
}

/** The end of the video on the file's timeline (relative to the container start), in seconds. */
function videoEndSeconds(probe: MediaProbe, video: VideoStreamInfo): number {
  const offset = Math.max(0, video.startSeconds - probe.startSeconds);
  if (video.durationSeconds && video.durationSeconds > 0) return offset + video.durationSeconds;
  if (video.frameCount && video.avgFrameRate) return offset + (video.frameCount * video.avgFrameRate.den) / video.avgFrameRate.num;
  return probe.durationSeconds;
}

/**
 * Corrupt frames a video may have and still be packaged without `--allow-decode-errors`: a few
 * (a capture that starts or glitches mid-GOP) are normal, more mean damaged data that would be
 * published as smeared pictures. The larger of a count and a share of the frames.
 */
export const DECODE_ERROR_ALLOWANCE = { frames: 10, fraction: 0.001 } as const;

export function maxDecodeErrorsFor(totalFrames: number, allow: boolean | undefined): number | undefined {
  if (allow) return undefined;
  return Math.max(DECODE_ERROR_ALLOWANCE.frames, Math.floor(totalFrames * DECODE_ERROR_ALLOWANCE.fraction));
}

/**
 * Audio frames a second, for the audio's share of the allowance: counted as the shortest common
 * frame (Opus, 20 ms), so AAC's 21.3 ms and MP3's 24 ms frames are never allowed fewer errors.
 */
const AUDIO_FRAMES_PER_SECOND = 50;

/** Integrated loudness target of audio-only jobs when `--loudness` is not given: streaming-music level. */
export const DEFAULT_AUDIO_ONLY_LOUDNESS = -14;
/** The AAC-LC 5.1 rendition `--surround` adds (384 kb/s is Apple's authoring figure for 5.1 AAC). */
export const SURROUND_KBPS = 384;
/** The Dolby Digital Plus 5.1 rendition of `--surround eac3` (Apple's authoring figure for 5.1 E-AC-3). */
export const SURROUND_EAC3_KBPS = 192;
/** Bit rate of each `--surround` codec's 5.1 rendition. */
const SURROUND_KBPS_BY_CODEC: Record<SurroundCodec, number> = { aac: SURROUND_KBPS, eac3: SURROUND_EAC3_KBPS };

/** The 5.1 renditions' ids: `aac-5.1-384k`, `eac3-5.1-192k`. */
function surroundId(codec: SurroundCodec): string {
  return `${codec}-5.1-${SURROUND_KBPS_BY_CODEC[codec]}k`;
}

/**
 * A note for the result when `--surround` was asked for and no input has the channels for it
 * (stereo is all there is: no 5.1 rendition is made up from it).
 */
function surroundNotes(settings: JobSettings, inputs: readonly { channels: number }[]): string[] {
  if (settings.surround.length === 0 || inputs.some((input) => input.channels >= 6)) return [];
  const widest = Math.max(0, ...inputs.map((input) => input.channels));
  return [`--surround: no audio input has 6 or more channels (the widest has ${widest}); no 5.1 rendition was made, only stereo`];
}
/** Opus ladders when `--opus` is given without bit rates. */
export const DEFAULT_OPUS_KBPS = { audio: [64, 96, 160], video: [96] } as const;

export function loudnessTargetOf(settings: JobSettings, kind: 'video' | 'audio'): number | undefined {
  if (settings.loudness === 'off') return undefined;
  if (typeof settings.loudness === 'number') return settings.loudness;
  return kind === 'audio' ? DEFAULT_AUDIO_ONLY_LOUDNESS : undefined;
}

/**
 * The source's own 44.1 or 48 kHz is kept, so music is not resampled for nothing; other rates go
 * to the family they divide into (88.2 kHz → 44.1 kHz, 96 or 32 kHz → 48 kHz).
 */
export function ladderSampleRate(sourceRate: number, requested?: number): number {
  if (requested) return requested;
  if (sourceRate === 44100 || sourceRate === 48000) return sourceRate;
  return sourceRate > 0 && sourceRate % 11025 === 0 ? 44100 : 48000;
}

function assertDecodable(probe: MediaProbe, stream: AudioStreamInfo): void {
  if (stream.codec === 'unknown' || stream.codec === 'none') {
    throw new VidpipeError('INPUT_INVALID', `${probe.path}: audio stream ${stream.index} uses a codec ffmpeg cannot decode`);
  }
}

/** The rendition nearest a bit rate is the one players start with (HLS lists the default variant first). */
function nearestIndex(values: number[], target: number): number {
  return values.reduce((best, value, i) => (Math.abs(value - target) < Math.abs(values[best]! - target) ? i : best), 0);
}

function opusRendition(stream: AudioStreamInfo, kbps: number, suffix: string, language: string, name: string, isDefault: boolean): AudioRendition {
  // Opus codes at 48 kHz whatever the input; libopus' other rates are for speech bandwidths.
  return { id: `opus-${kbps}k${suffix}`, streamIndex: stream.index, codec: 'opus', bitrateKbps: kbps, channels: 2, sampleRate: 48000, language, name, isDefault };
}

/** A `--audio-track` file as the plan sees it: the setting and the file's probe. */
export interface ProbedAudioTrack {
  track: SidecarAudio;
  probe: MediaProbe;
}

/**
 * Probes every `--audio-track` file before anything is encoded: a missing or unreadable file, or
 * one without an audio stream, stops the job naming it (exit 2), with nothing written.
 */
export async function probeAudioTracks(tracks: readonly SidecarAudio[], ffprobe: string, signal?: AbortSignal): Promise<ProbedAudioTrack[]> {
  const probed: ProbedAudioTrack[] = [];
  for (const track of tracks) {
    const probe = await probeFile(ffprobe, track.path, signal, { durationOptional: true }).catch((error: unknown) => {
      if (isVidpipeError(error) && error.code !== 'INTERRUPTED') throw new VidpipeError(error.code, `--audio-track: ${error.message}`, { hint: error.hint, stderrTail: error.stderrTail });
      throw error;
    });
    const stream = audioStreamOf(probe);
    if (!stream) throw new VidpipeError('INPUT_INVALID', `--audio-track: ${track.path} has no audio stream`);
    assertDecodable(probe, stream);
    probed.push({ track, probe });
  }
  return probed;
}

/** The stream a file's audio is taken from: its default audio stream, else the first. */
export function audioStreamOf(probe: MediaProbe): AudioStreamInfo | undefined {
  const streams = probe.audioStreams.filter((s) => s.channels > 0);
  return streams.find((s) => s.isDefault) ?? streams[0];
}

/** One audio stream the renditions are made from: the source's or a sidecar file's. */
interface AudioInput {
  stream: AudioStreamInfo;
  language: string;
  name: string;
  role?: AudioRole;
  file?: string;
  offsetSeconds?: number;
}

/** A menu name nobody else in the group has: numbered on a repeat. */
export function uniqueName(base: string, used: Set<string>): string {
  let name = base;
  for (let n = 2; used.has(name); n++) name = `${base} ${n}`;
  used.add(name);
  return name;
}

/**
 * Which input is the group's default (one per group, the programme's main language): a sidecar
 * said to be `main`, else the source's default stream, else its first, else the first sidecar
 * that is neither a description nor a commentary (which nobody hears without asking).
 */
function defaultInputIndex(inputs: AudioInput[], sourceStreams: number): number {
  const main = inputs.findIndex((input) => input.file !== undefined && input.role === 'main');
  if (main >= 0) return main;
  if (sourceStreams > 0) return Math.max(0, inputs.slice(0, sourceStreams).findIndex((input) => input.stream.isDefault));
  const plain = inputs.findIndex((input) => input.role !== 'description' && input.role !== 'commentary');
  return Math.max(0, plain);
}

/**
 * Video jobs: one AAC rendition per source audio stream and per `--audio-track` file (the
 * default as defaultInputIndex says), plus Opus at each `--opus` bit rate for DASH.
 */
export function planAudio(probe: MediaProbe, settings: JobSettings, audioTracks: readonly ProbedAudioTrack[] = []): AudioRendition[] {
  const streams = probe.audioStreams.filter((s) => s.channels > 0);
  streams.forEach((stream) => assertDecodable(probe, stream));
  const usedNames = new Set<string>();
  const fromSource: AudioInput[] = streams.map((stream, i) => {
    const language = stream.language ?? 'und';
    const said = titleName(stream.title) || (language === 'und' ? (streams.length > 1 ? `Audio ${i + 1}` : 'Main') : withRoleSuffix(languageName(language), audioSignalling(stream.role, false)));
    let name = said;
    while (usedNames.has(name)) name = `${name} ${i + 1}`;
    usedNames.add(name);
    return { stream, language, name, ...(stream.role ? { role: stream.role } : {}) };
  });
  const fromFiles: AudioInput[] = audioTracks.map(({ track, probe: fileProbe }) => {
    const language = sourceLanguage(track.language) ?? 'und';
    const base = language === 'und' ? 'Audio' : languageName(language);
    return {
      stream: audioStreamOf(fileProbe)!,
      language,
      name: uniqueName(withRoleSuffix(base, audioSignalling(track.role, false)), usedNames),
      ...(track.role ? { role: track.role } : {}),
      file: track.path,
      ...(track.offsetSeconds ? { offsetSeconds: track.offsetSeconds } : {}),
    };
  });
  const inputs = [...fromSource, ...fromFiles];
  const defaultIndex = defaultInputIndex(inputs, fromSource.length);
  const opusKbps = settings.opus ? (settings.opusKbps ?? [...DEFAULT_OPUS_KBPS.video]) : [];
  const usedIds = new Set<string>();
  const idFor = (base: string) => {
    let id = base;
    for (let n = 2; usedIds.has(id); n++) id = `${base}-${n}`;
    usedIds.add(id);
    return id;
  };
  return inputs.flatMap((input, i) => {
    const suffix = input.file === undefined ? (streams.length > 1 ? `-${i + 1}` : '') : `-${input.language.toLowerCase()}${input.role ? `-${input.role}` : ''}`;
    const isDefault = i === defaultIndex;
    // Every rendition of the default input is the main programme (its 5.1 and Opus too), whatever the source said.
    const role = input.role ?? (isDefault ? 'main' : undefined);
    const from = { streamIndex: input.stream.index, language: input.language, ...(role ? { role } : {}), ...(input.file ? { file: input.file } : {}), ...(input.offsetSeconds ? { offsetSeconds: input.offsetSeconds } : {}) };
    const aac: AudioRendition = {
      id: idFor(`aac-${settings.audioBitrateKbps}k${suffix}`),
      ...from,
      codec: 'aac' as const,
      bitrateKbps: settings.audioBitrateKbps,
      channels: 2,
      sampleRate: settings.audioSampleRate ?? 48000,
      name: input.name,
      isDefault,
    };
    // 5.1 beside the stereo, never instead: stereo stays the default everywhere (the first HLS
    // variant, the download, the MPEG-TS variants); the same NAME, as HLS wants across groups.
    const surround: AudioRendition[] = input.stream.channels >= 6
      ? settings.surround.map((codec) => ({
          id: idFor(`${surroundId(codec)}${suffix}`),
          ...from,
          codec,
          bitrateKbps: SURROUND_KBPS_BY_CODEC[codec],
          channels: 6,
          sampleRate: codec === 'eac3' ? 48000 : (settings.audioSampleRate ?? 48000),
          name: input.name,
          isDefault: false,
        }))
      : [];
    const opusDefault = nearestIndex(opusKbps, 96);
    const opus = opusKbps.map((kbps, k) => ({
      ...opusRendition(input.stream, kbps, suffix, input.language, opusKbps.length > 1 ? `${input.name} ${kbps}k` : input.name, isDefault && k === opusDefault),
      ...from,
    }));
    return [aac, ...surround, ...opus.map((rendition) => ({ ...rendition, id: idFor(rendition.id) }))];
  });
}

/**
 * Lines for the result about the `--audio-track` files: one that runs past the video's end is cut
 * there (the package lasts as long as its video).
 */
function audioTrackNotes(audioTracks: readonly ProbedAudioTrack[], videoSeconds: number): string[] {
  return audioTracks.flatMap(({ track, probe }) => {
    const ends = (track.offsetSeconds ?? 0) + probe.durationSeconds;
    // An AAC frame (1024 samples at 48 kHz) of slack: encoder padding is not content.
    return ends > videoSeconds + 0.0214 ? [`--audio-track ${track.path}: ${ends.toFixed(3)} s long${track.offsetSeconds ? ` from ${track.offsetSeconds} s` : ''}, cut at the video's end (${videoSeconds.toFixed(3)} s)`] : [];
  });
}

/** The audio streams renditions are made from: the source's (its default first), then each `--audio-track` file's. */
function audioInputsOf(probe: MediaProbe, audioTracks: readonly ProbedAudioTrack[]): AudioStreamInfo[] {
  const streams = probe.audioStreams.filter((s) => s.channels > 0);
  const sourceFirst = [...streams.filter((s) => s.isDefault), ...streams.filter((s) => !s.isDefault)];
  return [...sourceFirst, ...audioTracks.map(({ probe: fileProbe }) => audioStreamOf(fileProbe)!)];
}

/** The plan's notes field: absent without notes, unless `always` (a job with `--audio-track` files says none were cut). */
function withNotes(notes: string[], always = false): { notes?: string[] } {
  return notes.length > 0 || always ? { notes } : {};
}

/**
 * Audio-only jobs: a stereo AAC-LC ladder of the source's main stream (downmixed or upmixed to
 * two channels), a 5.1 AAC rendition with `--surround` when the source has 6 or more channels,
 * and Opus beside it for DASH with `--opus`.
 */
export function planAudioLadder(probe: MediaProbe, settings: JobSettings): AudioRendition[] {
  const streams = probe.audioStreams.filter((s) => s.channels > 0);
  const stream = streams.find((s) => s.isDefault) ?? streams[0];
  if (!stream) return [];
  assertDecodable(probe, stream);
  const language = stream.language ?? 'und';
  const sampleRate = ladderSampleRate(stream.sampleRate, settings.audioSampleRate);
  const ladder = [...new Set(settings.audioLadderKbps)].sort((a, b) => a - b);
  const aacDefault = nearestIndex(ladder, 128);
  const renditions: AudioRendition[] = ladder.map((kbps, i) => ({
    id: `aac-${kbps}k`,
    streamIndex: stream.index,
    codec: 'aac' as const,
    bitrateKbps: kbps,
    channels: 2,
    sampleRate,
    language,
    name: `Stereo ${kbps}k`,
    isDefault: i === aacDefault,
  }));
  if (stream.channels >= 6) {
    renditions.push(...settings.surround.map((codec): AudioRendition => ({
      id: surroundId(codec),
      streamIndex: stream.index,
      codec,
      bitrateKbps: SURROUND_KBPS_BY_CODEC[codec],
      channels: 6,
      // E-AC-3 is coded at 48 kHz (32 and 44.1 kHz are not streaming rates).
      sampleRate: codec === 'eac3' ? 48000 : sampleRate,
      language,
      name: `5.1 ${codec === 'eac3' ? 'E-AC-3 ' : ''}${SURROUND_KBPS_BY_CODEC[codec]}k`,
      isDefault: false,
      // The same programme as the default stereo rendition, in its own DASH set.
      role: 'main',
    })));
  }
  const opusKbps = settings.opus ? [...new Set(settings.opusKbps ?? DEFAULT_OPUS_KBPS.audio)].sort((a, b) => a - b) : [];
  const opusDefault = nearestIndex(opusKbps, 96);
  renditions.push(...opusKbps.map((kbps, i) => opusRendition(stream, kbps, '', language, `Opus ${kbps}k`, i === opusDefault)));
  return renditions;
}

/**
 * Turns a probe and the settings into the concrete work: the frame grid, the chunks, the
 * video ladder with each rendition's encoder, the audio renditions, and which other nodes the
 * job has (thumbnails, loudness, TS variants, metrics). The grid is in frames, so a GOP is a
 * whole number of frames (2.002 s at 29.97 fps) and every chunk, segment and rendition lines up.
 */
export function planJob(probe: MediaProbe, settings: JobSettings, encoders: PlanEncoders, audioTracks: readonly ProbedAudioTrack[] = []): JobPlan {
  const video = settings.audioOnly ? undefined : probe.video;
  if (!video && audioTracks.length > 0) throw new VidpipeError('USAGE', '--audio-track needs a video: an audio-only package is one programme\'s ladder');
  const audio = video ? planAudio(probe, settings, audioTracks) : planAudioLadder(probe, settings);
  const loudnessTarget = audio.length > 0 ? loudnessTargetOf(settings, video ? 'video' : 'audio') : undefined;
  const subtitles = planSubtitles(probe, settings.subtitles);
  if (!video) {
    if (audio.length === 0) throw new VidpipeError('INPUT_INVALID', `${probe.path} has no audio stream to package`);
    if (settings.hlsSegments !== 'fmp4') throw new VidpipeError('USAGE', '--hls-segments ts|both needs video (MPEG-TS variants are H.264 + AAC)');
    if (settings.download) throw new VidpipeError('USAGE', '--download needs video: download.mp4 is the top H.264 rung with its audio (an audio-only package has no such file)');
    return {
      kind: 'audio',
      segmentDurationSeconds: settings.segmentDurationSeconds,
      durationSeconds: probe.durationSeconds,
      audio,
      audioFragmentSeconds: settings.segmentDurationSeconds,
      measureLoudness: true,
      loudnessTarget,
      subtitles,
      ...withNotes(surroundNotes(settings, audioInputsOf(probe, []).slice(0, 1))),
      ...(settings.thumbnails ? { thumbnails: { kind: 'cover' as const } } : {}),
      metrics: false,
    };
  }

  const frameRate = chooseFrameRate(video);
  const fps = frameRate.num / frameRate.den;
  const segmentFrames = Math.max(1, Math.round(settings.segmentDurationSeconds * fps));
  const gopFrames = chooseGopFrames(segmentFrames, fps, settings.gopSeconds);
  const totalFrames = Math.max(1, Math.round(videoEndSeconds(probe, video) * fps));
  // --ladder auto: the table's rungs are the candidates the per-title analysis chooses from.
  const renditions = buildLadder(video, { codecs: settings.codecs, rungs: settings.rungs === 'auto' ? undefined : settings.rungs, frameRate, preset: settings.preset, av1Encoder: encoders.av1Encoder });
  const interlaced = !!video.fieldOrder && !['progressive', 'unknown'].includes(video.fieldOrder);
  const segmentDurationSeconds = (segmentFrames * frameRate.den) / frameRate.num;
  const hlsSegments = checkHlsSegments(settings);
  if (settings.download && !settings.codecs.includes('h264')) {
    throw new VidpipeError('USAGE', '--download needs h264 in --codecs: download.mp4 is the top H.264 rung, remuxed, playable everywhere');
  }

  return {
    kind: 'video',
    segmentDurationSeconds,
    durationSeconds: (totalFrames * frameRate.den) / frameRate.num,
    video: {
      streamIndex: video.index,
      frameRate,
      gopFrames,
      segmentFrames,
      totalFrames,
      chunks: chooseChunks(totalFrames, gopFrames, fps, video, settings),
      renditions,
      deinterlace: interlaced,
      hdr: hdrTransferOf(video.colorTransfer),
      ...(settings.allowDecodeErrors ? {} : { maxDecodeErrors: maxDecodeErrorsFor(totalFrames, false) }),
      fragmentSeconds: (gopFrames * frameRate.den) / frameRate.num,
    },
    audio,
    audioFragmentSeconds: segmentDurationSeconds,
    measureLoudness: audio.length > 0 && loudnessTarget !== undefined,
    loudnessTarget,
    ...(settings.allowDecodeErrors || audio.length === 0 ? {} : { maxAudioDecodeErrors: maxDecodeErrorsFor(Math.ceil(((totalFrames * frameRate.den) / frameRate.num) * AUDIO_FRAMES_PER_SECOND), false) }),
    subtitles,
    hlsSegments,
    ...withNotes([...audioTrackNotes(audioTracks, (totalFrames * frameRate.den) / frameRate.num), ...surroundNotes(settings, audioInputsOf(probe, audioTracks))], audioTracks.length > 0),
    ...(hlsSegments === 'fmp4' ? {} : { ts: planTs(renditions, audio) }),
    ...(settings.download ? { download: planDownload(renditions, audio) } : {}),
    ...(settings.thumbnails ? { thumbnails: thumbnailPlan(video, renditions, hdrTransferOf(video.colorTransfer)) } : {}),
    metrics: settings.metrics,
  };
}

/**
 * The plan with another set of video renditions (the per-title ladder's): what depends on the
 * rendition ids (the MPEG-TS variants, the rendition thumbnails are read from) follows them.
 */
export function withRenditions(plan: JobPlan, renditions: Rendition[]): JobPlan {
  if (!plan.video) return plan;
  return {
    ...plan,
    video: { ...plan.video, renditions },
    ...(plan.ts ? { ts: planTs(renditions, plan.audio) } : {}),
    ...(plan.download ? { download: planDownload(renditions, plan.audio) } : {}),
    ...(plan.thumbnails?.kind === 'poster-storyboard' ? { thumbnails: { kind: 'poster-storyboard' as const, fromRendition: thumbnailSource(renditions).id } } : {}),
  };
}

/**
 * Thumbnails are read from the smallest rendition (H.264 first among equals): decoding a 1080p
 * long-GOP source for 160-pixel thumbnails cost more CPU than a rendition's encode (measured
 * in `npm run bench`).
 */
function thumbnailSource(renditions: Rendition[]): Rendition {
  return [...renditions].sort((a, b) => a.width * a.height - b.width * b.height || Number(b.codec === 'h264') - Number(a.codec === 'h264'))[0]!;
}

function thumbnailPlan(video: VideoStreamInfo, renditions: Rendition[], hdr: HdrTransfer | undefined): ThumbnailPlan {
  const poster = displaySizeAtWidth(video);
  const posterFrame = hdr ? undefined : renditions.find((r) => r.codec === 'h264' && !r.picture && r.width === poster.width && r.height === poster.height);
  return { kind: 'poster-storyboard', fromRendition: thumbnailSource(renditions).id, ...(posterFrame ? { posterFrameFrom: posterFrame.id } : {}) };
}

/** Each H.264 rendition, muxed with the default AAC rendition (else the first AAC one). */
function planTs(renditions: Rendition[], audio: AudioRendition[]): TsPlan {
  const aac = audio.filter((r) => r.codec === 'aac');
  const tsAudio = aac.find((r) => r.isDefault) ?? aac[0];
  return { renditions: renditions.filter((r) => r.codec === 'h264').map((r) => r.id), ...(tsAudio ? { audio: tsAudio.id } : {}) };
}

/** The H.264 renditions, largest first (ties: the higher rate), with the audio the TS variants get. */
function planDownload(renditions: Rendition[], audio: AudioRendition[]): DownloadPlan {
  const h264 = renditions.filter((r) => r.codec === 'h264').sort((a, b) => b.width * b.height - a.width * a.height || b.bitrateKbps - a.bitrateKbps);
  const { audio: defaultAac } = planTs(renditions, audio);
  return { renditions: h264.map((r) => r.id), ...(defaultAac ? { audio: defaultAac } : {}) };
}

/** MPEG-TS HLS is for legacy players, which decode H.264 only. */
function checkHlsSegments(settings: JobSettings): HlsSegments {
  const { hlsSegments } = settings;
  if (hlsSegments !== 'fmp4' && !settings.codecs.includes('h264')) {
    throw new VidpipeError('USAGE', `--hls-segments ${hlsSegments} needs h264 in --codecs: MPEG-TS variants are H.264 + AAC`);
  }
  return hlsSegments;
}
