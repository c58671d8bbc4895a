/**
 * `vidpipe add-track`: a new release of a published package with audio or subtitle tracks added
 * (or removed), without re-encoding what it holds. The live release's files are copied into a
 * new package folder byte for byte (video and existing audio segments, their playlists, the
 * pictures); the added files are encoded with the settings the package's own audio was made
 * with (src/core/added-tracks.ts), aligned to the video's duration and packaged on its grid by
 * the stages a transcode runs (encodeAudio, packageTrack, extractSubtitles); the multivariant
 * playlist and the MPD are written again from the package's model (vidpipe.json's `contents`)
 * with the new tracks in it; and the folder is published as a release of its own through the
 * same protocol as a transcode (publishPackage), so the previous release keeps serving until the
 * new one is complete, and a killed run leaves it live. The job is recorded in the metadata store
 * as a job of the video, with the package's renditions.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { audioRecipes, planAddedAudio, planAddedSubtitles, signalledDefault, withoutTracks } from '../core/added-tracks.js';
import { newJobId } from '../core/ids.js';
import { PACKAGE_SUMMARY_FILE, PACKAGE_SUMMARY_FORMAT, writePackageSummary, type PackageSummary, type ReleaseContents, type TimelineTask } from '../core/package-summary.js';
import { probeAudioTracks, type AudioRendition } from '../core/plan.js';
import type { RenditionSummary, TranscodeResult } from '../core/result.js';
import type { StageContext } from '../core/stage.js';
import { encodeAudio } from '../core/stages/encode-audio.js';
import { analyseLoudness, gainFor } from '../core/stages/loudness.js';
import { measuredAudioTrack, segmentedSubtitleTrack } from '../core/stages/manifests.js';
import { packageTrack } from '../core/stages/package.js';
import { extractSubtitles } from '../core/stages/subtitles.js';
import { openMetadata } from '../db/index.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { TaskSpec } from '../db/records.js';
import { isVidpipeError, toVidpipeError, VidpipeError } from '../errors.js';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import { FfmpegRunner } from '../ffmpeg/runner.js';
import { commonTargetDuration, writeMediaPlaylist, writeMultivariantPlaylist, writeSubtitlePlaylist } from '../manifest/hls.js';
import { writeMpd } from '../manifest/dash.js';
import type { AudioTrack, PackageModel, SubtitleTrack } from '../manifest/model.js';
import { defaultWorkRoot, DEFAULT_SETTINGS, type SidecarAudio, type SidecarSubtitle } from '../settings/job-settings.js';
import { connectTo, locationBelow, parseLocation } from '../storage/backends.js';
import type { Location, StorageConfig } from '../storage/backend.js';
import { forEachLimit, listPackageFiles } from '../storage/package-files.js';
import { parseRecord, RECORD_KEY, type VideoIdentity } from '../storage/package-record.js';
import { packageUris } from '../storage/publish.js';
import { node } from './nodes.js';
import { publishPackage } from './publish.js';
import { round3 } from './summary.js';

export interface AddTrackRequest {
  /** The package root: a local folder or an s3:// prefix holding vidpipe-record.json. */
  packageRoot: string;
  audioTracks: readonly SidecarAudio[];
  subtitles: readonly SidecarSubtitle[];
  /** Audio or subtitle track ids (DASH Representation ids, e.g. aac-128k-fr-dub) to leave out. */
  removeTracks: readonly string[];
  binaries: FfmpegBinaries;
  /** The metadata store's target (--db). */
  db: string;
  storage?: StorageConfig;
  /** Folder for intermediate files (--work-dir); default the user cache folder. */
  workRoot?: string;
  signal: AbortSignal;
  /** A line for the user as each step starts. */
  onStep?: (line: string) => void;
}

/** One track that was added, as `--json` and the human summary list it. */
export interface AddedTrack {
  id: string;
  kind: 'audio' | 'subtitle';
  language: string;
  name: string;
  role?: string;
  isDefault: boolean;
}

export interface AddTrackResult {
  status: 'succeeded';
  /** The video's id. */
  id: string;
  jobId: string;
  package: { name: string; root: string };
  /** The release this job replaced (left serving until the new one went live). */
  previousRelease: string;
  outputs: TranscodeResult['outputs'];
  added: AddedTrack[];
  removed: string[];
  timings: Record<string, number>;
}

/** The package as it is published now: where, which release is live, and what it holds. */
interface PublishedPackage {
  parent: Location;
  name: string;
  root: string;
  video: VideoIdentity;
  live: string;
  summary: PackageSummary;
  contents: ReleaseContents;
}

/** `<parent>/<name>` of a package root given as a path or URI. */
function splitRoot(text: string): { parent: Location; name: string } {
  const location = parseLocation(text);
  const trimmed = location.text.replace(/\/+$/, '');
  const at = trimmed.lastIndexOf('/');
  const name = trimmed.slice(at + 1);
  if (at < 0 || name === '' || /^[a-z][a-z0-9+.-]*:$/i.test(trimmed.slice(0, at))) {
    throw new VidpipeError('USAGE', `${text} is not a package folder (give the folder holding master.m3u8 and vidpipe-record.json, or a video id)`);
  }
  return { parent: parseLocation(trimmed.slice(0, at + 1)), name };
}

/** Reads the record and the live release's vidpipe.json; refuses what cannot get a track without re-encoding. */
async function readPublished(root: string, connection: Awaited<ReturnType<typeof connectTo>>, signal: AbortSignal): Promise<Omit<PublishedPackage, 'parent' | 'name'>> {
  const { parent, name } = splitRoot(root);
  const store = connection.storeAt(locationBelow(parent, name));
  const recordText = await store.readText(RECORD_KEY, signal);
  if (recordText === undefined) {
    throw new VidpipeError('USAGE', `${store.root} holds no vidpipe package (no ${RECORD_KEY})`, { hint: 'give the package folder (out/<name>), not --out itself, or the video id (vidpipe list)' });
  }
  const record = parseRecord(recordText, store.uriOf(RECORD_KEY));
  if (record.live === undefined || record.video === undefined) throw new VidpipeError('USAGE', `${store.root}: nothing is published there yet`);
  const summaryText = await store.readText(`${record.live}/${PACKAGE_SUMMARY_FILE}`, signal);
  let summary: PackageSummary | undefined;
  try {
    summary = summaryText === undefined ? undefined : (JSON.parse(summaryText) as PackageSummary);
  } catch {
    summary = undefined;
  }
  if (summary?.format !== PACKAGE_SUMMARY_FORMAT) {
    throw new VidpipeError('USAGE', `${store.root}: release ${record.live} has no ${PACKAGE_SUMMARY_FILE} (a package published through --queue, or not by vidpipe)`, {
      hint: 'transcode the video again to publish a package tracks can be added to',
    });
  }
  const contents = summary.contents;
  if (!contents) {
    throw new VidpipeError('USAGE', `${store.root}: release ${record.live} was published by an older vidpipe that did not record the package's contents`, {
      hint: 'transcode the video once more with this version; later tracks can then be added without re-encoding',
    });
  }
  const { model } = contents;
  if (summary.result.protection || [...model.videos, ...model.audios].some((track) => track.protection)) {
    throw new VidpipeError('USAGE', `${store.root} is encrypted (${summary.result.protection?.scheme ?? 'protected'}): add-track does not encrypt a new track with the package's key source, and a clear track would break the package's protection; nothing was changed`, {
      hint: 'transcode the video again with the new tracks (--audio-track, --subtitles) and the same key source',
    });
  }
  if (model.videos.length === 0) throw new VidpipeError('USAGE', `${store.root} is an audio-only package: tracks are added to video packages (an audio-only package is one programme's ladder)`);
  if (contents.hlsSegments === 'ts') {
    throw new VidpipeError('USAGE', `${store.root} has MPEG-TS HLS only (--hls-segments ts), whose audio is muxed into the video segments: a track cannot be added without re-muxing them`, {
      hint: 'transcode again with --hls-segments both or fmp4',
    });
  }
  return { root: store.root, video: record.video, live: record.live, summary, contents };
}

/** Where the package of a video id was last published, from the metadata store. */
export async function packageRootOfVideo(db: MetadataStore, id: string): Promise<string> {
  const details = await db.getVideo(id);
  const hls = details.readyJob?.outputs.hls;
  if (!hls) throw new VidpipeError('USAGE', `video ${details.video.id} has no published package`, { hint: 'give the package folder instead' });
  return hls.slice(0, hls.lastIndexOf('/'));
}

/** Runs one step of the job as a recorded task (running, then succeeded or failed) and times it. */
class Steps {
  readonly timings: Record<string, number> = {};
  readonly timeline: TimelineTask[] = [];

  constructor(
    private readonly db: MetadataStore,
    private readonly jobId: string,
    private readonly onStep?: (line: string) => void,
  ) {}

  async run<T>(task: TaskSpec, body: () => Promise<T>): Promise<T> {
    const started = new Date();
    this.onStep?.(task.label);
    await this.db.updateTask(this.jobId, task.id, { status: 'running', startedAt: started.toISOString(), attempts: 1 });
    const entry: TimelineTask = { id: task.id, kind: task.kind, label: task.label, status: 'running', startedAt: started.toISOString(), finishedAt: null, worker: null };
    this.timeline.push(entry);
    try {
      const result = await body();
      entry.finishedAt = new Date().toISOString();
      entry.status = 'succeeded';
      await this.db.updateTask(this.jobId, task.id, { status: 'succeeded', finishedAt: entry.finishedAt });
      return result;
    } catch (error) {
      entry.status = 'failed';
      await this.db.updateTask(this.jobId, task.id, { status: 'failed', finishedAt: new Date().toISOString(), error: toVidpipeError(error).message }).catch(() => undefined);
      throw error;
    } finally {
      this.timings[task.kind] = round3((this.timings[task.kind] ?? 0) + (Date.now() - started.getTime()) / 1000);
    }
  }
}

const task = (id: string, kind: string, label: string, dependsOn: string[] = []): TaskSpec => ({ id, kind, label, dependsOn });

/** The manifests and the playlists of the new tracks, written from the model (the existing tracks' playlists are kept as they are). */
async function writeManifestFiles(packageDir: string, model: PackageModel, added: { audios: AudioTrack[]; subtitles: SubtitleTrack[] }, contents: ReleaseContents): Promise<void> {
  const files = new Map<string, string>();
  const targetDuration = commonTargetDuration(model);
  for (const track of added.audios) files.set(track.playlistUri, writeMediaPlaylist(track, model, { targetDuration }));
  for (const track of added.subtitles) files.set(track.playlistUri, writeSubtitlePlaylist(track, model));
  files.set('master.m3u8', writeMultivariantPlaylist(model));
  if (contents.files.some((file) => file.key === 'manifest.mpd')) files.set('manifest.mpd', writeMpd(model));
  for (const [uri, text] of files) {
    const path = join(packageDir, ...uri.split('/'));
    await mkdir(dirname(path), { recursive: true });
    // A new file: never written through a name another release's file may share.
    await rm(path, { force: true });
    await writeFile(path, text);
  }
}

/** The result's outputs, moved from the old release to this one. */
function movedOutputs(outputs: TranscodeResult['outputs'], from: string, to: string): TranscodeResult['outputs'] {
  const moved = Object.entries(outputs).map(([key, uri]) => [key, typeof uri === 'string' ? uri.replace(`/${from}/`, `/${to}/`).replace(new RegExp(`/${from}$`), `/${to}`) : uri]);
  return Object.fromEntries(moved) as TranscodeResult['outputs'];
}

/** What the result says of an added track, measured from its files. */
function summaryOf(track: AudioTrack, rendition: AudioRendition, files: readonly { key: string; bytes: number }[]): RenditionSummary {
  const folder = track.playlistUri.replace(/[^/]+$/, '');
  return {
    name: track.id, kind: 'audio', codec: track.codec, codecs: track.codecs, channels: track.channels, sampleRate: track.sampleRate, language: track.language,
    averageBitrate: Math.round(track.averageBitrate), peakBitrate: Math.round(track.peakBitrate), targetBitrate: rendition.bitrateKbps * 1000,
    sizeBytes: files.filter((file) => file.key.startsWith(folder)).reduce((sum, file) => sum + file.bytes, 0),
    segments: track.segments.length, playlist: track.playlistUri,
  };
}

export async function runAddTrack(request: AddTrackRequest): Promise<AddTrackResult> {
  const { signal } = request;
  if (request.audioTracks.length === 0 && request.subtitles.length === 0 && request.removeTracks.length === 0) {
    throw new VidpipeError('USAGE', 'nothing to do: give --audio-track, --subtitles or --remove-track');
  }
  const started = Date.now();
  const db = await openMetadata(request.db);
  const jobId = newJobId();
  const workDir = join(resolve(request.workRoot ?? defaultWorkRoot()), `add-track-${jobId}`);
  const packageDir = join(workDir, 'package');
  let recorded = false;
  try {
    const root = /^v[0-9a-f]{1,12}$/.test(request.packageRoot) && !existsSync(request.packageRoot)
      ? await packageRootOfVideo(db, request.packageRoot)
      : request.packageRoot;
    const { parent, name } = splitRoot(root);
    const connection = await connectTo(parent, request.storage);
    try {
      const published = await readPublished(root, connection, signal);
      const store = connection.storeAt(locationBelow(parent, name));
      const { contents, summary, live } = published;

      // Everything decided before anything is written or recorded: a bad file stops here (exit 2).
      const kept = withoutTracks(contents.model, request.removeTracks);
      const probed = await probeAudioTracks(request.audioTracks, request.binaries.ffprobe, signal);
      const audio = planAddedAudio(kept.audios, audioRecipes(contents.model.audios, summary.result.renditions), probed);
      const subtitlePlans = planAddedSubtitles(kept.subtitles, request.subtitles);
      const durationSeconds = contents.model.durationSeconds;
      const loudnessTarget = summary.result.loudness?.target;

      const tasks: TaskSpec[] = [
        task(node.probe.id, node.probe.kind, `Read release ${live} of ${published.root}`),
        ...(loudnessTarget !== undefined && audio.renditions.length > 0 ? [task(node.loudness.id, node.loudness.kind, `Measure loudness (target ${loudnessTarget} LUFS)`, [node.probe.id])] : []),
        ...audio.renditions.flatMap((rendition) => [
          task(node.encodeAudio(rendition.id).id, 'encode-audio', `Encode audio ${rendition.id}`, [node.probe.id]),
          task(node.package(rendition.id).id, 'package', `Package ${rendition.id}`, [node.encodeAudio(rendition.id).id]),
        ]),
        ...(subtitlePlans.length > 0 ? [task(node.subtitles.id, node.subtitles.kind, 'Subtitles', [node.probe.id])] : []),
        task(node.manifests.id, node.manifests.kind, 'Manifests'),
        task(node.publish.id, node.publish.kind, 'Publish', [node.manifests.id]),
      ];
      const known = await db.getVideo(published.video.id).catch((error: unknown) => {
        if (isVidpipeError(error) && error.code === 'NOT_FOUND') return undefined;
        throw error;
      });
      await db.startJob({
        jobId,
        video: known
          ? { id: known.video.id, source: known.video.source, name: known.video.name, sha256: known.video.sha256, sizeBytes: known.video.sizeBytes, durationSeconds: known.video.durationSeconds, kind: known.video.kind }
          : { id: published.video.id, source: summary.source, name: summary.name, sha256: published.video.sha256, durationSeconds, kind: 'video' },
        input: published.root,
        output: published.root,
        options: { command: 'add-track', from: live, audioTracks: request.audioTracks, subtitles: request.subtitles, removeTracks: request.removeTracks },
        tasks,
      });
      recorded = true;
      const steps = new Steps(db, jobId, request.onStep);
      const context = (): StageContext => ({
        ffmpeg: new FfmpegRunner({ binaries: request.binaries, stallTimeoutMs: DEFAULT_SETTINGS.stallTimeoutSeconds * 1000, cores: availableParallelism(), parallelEncodes: 1 }, signal),
        signal,
        onProgress: () => undefined,
        workDir,
      });

      // The live release, copied byte for byte: every segment is reused as it is.
      const removedFolders = [...contents.model.audios, ...contents.model.subtitles]
        .filter((track) => request.removeTracks.includes(track.id))
        .map((track) => track.playlistUri.replace(/[^/]+$/, ''));
      const copied = contents.files.filter((file) => !removedFolders.some((folder) => file.key.startsWith(folder)));
      await steps.run(tasks[0]!, async () => {
        await rm(workDir, { recursive: true, force: true });
        await mkdir(packageDir, { recursive: true });
        await forEachLimit(copied, store.concurrency, async (file) => {
          const local = join(packageDir, ...file.key.split('/'));
          await mkdir(dirname(local), { recursive: true });
          await connection.download(store.uriOf(`${live}/${file.key}`), local, { signal });
        });
      });

      const gains = loudnessTarget !== undefined && audio.renditions.length > 0
        ? await steps.run(tasks[1]!, () => analyseLoudness({ source: audio.renditions[0]!.file!, renditions: audio.renditions, target: loudnessTarget, durationSeconds, maxDecodeErrors: undefined }, context()))
        : undefined;
      const addedAudios: AudioTrack[] = [];
      for (const rendition of audio.renditions) {
        const encoded = await steps.run(tasks.find((t) => t.id === node.encodeAudio(rendition.id).id)!, () =>
          encodeAudio({ source: rendition.file!, rendition, fitToSeconds: durationSeconds, durationSeconds, gain: gainFor(gains, rendition), measureOutput: gains !== undefined, target: loudnessTarget }, context()),
        );
        addedAudios.push(
          await steps.run(tasks.find((t) => t.id === node.package(rendition.id).id)!, async () => {
            const track = await packageTrack(
              { input: encoded.path, outputDir: join(packageDir, 'audio', rendition.id), segmentSeconds: contents.model.segmentDurationSeconds, fragmentSeconds: contents.model.segmentDurationSeconds, durationSeconds, language: rendition.language },
              context(),
            );
            return measuredAudioTrack(packageDir, rendition, track, signalledDefault(rendition, audio.renditions));
          }),
        );
      }
      const addedSubtitles = subtitlePlans.length === 0
        ? []
        : await steps.run(tasks.find((t) => t.id === node.subtitles.id)!, async () => {
            const { tracks } = await extractSubtitles({ source: '', tracks: subtitlePlans }, context());
            const timeline = { segmentDurationSeconds: contents.model.segmentDurationSeconds, durationSeconds, videos: contents.model.videos };
            return Promise.all(tracks.map((track) => segmentedSubtitleTrack(packageDir, track, timeline)));
          });

      const model: PackageModel = { ...kept, audios: [...audio.existing, ...addedAudios], subtitles: [...kept.subtitles, ...addedSubtitles] };
      await steps.run(tasks.find((t) => t.id === node.manifests.id)!, () => writeManifestFiles(packageDir, model, { audios: addedAudios, subtitles: addedSubtitles }, contents));

      const target = { location: parent, request: { name, given: true, video: published.video }, release: jobId, storage: request.storage };
      const uris = packageUris(parent, name, jobId);
      const outputs = movedOutputs(summary.result.outputs, live, jobId);
      const renditionsOf = (files: readonly { key: string; bytes: number }[]): RenditionSummary[] => [
        ...summary.result.renditions.filter((r) => !request.removeTracks.includes(r.name)),
        ...addedAudios.map((track) => summaryOf(track, audio.renditions.find((r) => r.id === track.id)!, files)),
      ];
      let renditions: RenditionSummary[] = [];
      const published2 = await steps.run(tasks.find((t) => t.id === node.publish.id)!, () =>
        publishPackage(target, packageDir, signal, async () => {
          const files = (await listPackageFiles(packageDir)).filter((file) => file.key !== PACKAGE_SUMMARY_FILE).map(({ key, bytes }) => ({ key, bytes }));
          renditions = renditionsOf(files);
          const result: TranscodeResult = { ...summary.result, jobId, outputs, renditions, package: { name, root: uris.root }, timings: { ...steps.timings, total: round3((Date.now() - started) / 1000) } };
          await writePackageSummary(packageDir, { name: summary.name, source: summary.source, result, tasks: steps.timeline, contents: { model, files, hlsSegments: contents.hlsSegments } });
        }),
      );
      const timings = { ...steps.timings, total: round3((Date.now() - started) / 1000) };
      const initOf = (id: string) => [...model.videos, ...model.audios].find((track) => track.id === id)?.initUri;
      await db.completeJob(jobId, {
        video: { id: published.video.id, status: 'ready', durationSeconds },
        outputs: outputs as Record<string, string>,
        timings,
        renditions: renditions.map((r) => ({
          name: r.name, kind: r.kind, codec: r.codec, codecs: r.codecs, width: r.width, height: r.height, frameRate: r.frameRate, channels: r.channels, sampleRate: r.sampleRate,
          language: r.language, averageBitrate: r.averageBitrate, peakBitrate: r.peakBitrate, targetBitrate: r.targetBitrate, sizeBytes: r.sizeBytes, segmentCount: r.segments,
          playlist: r.playlist, init: initOf(r.name), properties: r.quality ? { quality: r.quality } : undefined,
        })),
        files: published2.files.map((file) => ({ key: file.key, bytes: file.bytes, sha256: published2.hashes[file.key] ?? '' })),
        ...(summary.result.ladder ? { ladder: summary.result.ladder } : {}),
      });
      return {
        status: 'succeeded',
        id: published.video.id,
        jobId,
        package: { name, root: uris.root },
        previousRelease: live,
        outputs,
        added: [
          ...addedAudios.map((track) => ({ id: track.id, kind: 'audio' as const, language: track.language, name: track.name, ...(track.role ? { role: track.role } : {}), isDefault: track.isDefault })),
          ...addedSubtitles.map((track) => ({ id: track.id, kind: 'subtitle' as const, language: track.language, name: track.name, ...(track.role ? { role: track.role } : {}), isDefault: track.isDefault })),
        ],
        removed: [...request.removeTracks],
        timings,
      };
    } finally {
      connection.close();
    }
  } catch (error) {
    const failure = signal.aborted ? new VidpipeError('INTERRUPTED', 'add-track was interrupted; the previous release is still live and unchanged', { cause: error }) : toVidpipeError(error);
    if (recorded) await db.failJob(jobId, { status: failure.code === 'INTERRUPTED' ? 'interrupted' : 'failed', code: failure.code, message: failure.message }).catch(() => undefined);
    throw failure;
  } finally {
    await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
    await db.close();
  }
}
