import type { TrackBase } from '../manifest/model.js';
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import { programLabel, type MediaProbe } from '../ffmpeg/probe.js';
import { readSource } from '../ffmpeg/integrity.js';
import { assertSourceUnchanged, sourceIdentity } from './source-identity.js';
import { assertEncoders, detectCapabilities, pickAv1Encoder } from '../ffmpeg/capabilities.js';
import { openDatabase, type VidpipeDb } from '../db/database.js';
import { fetchInput, inputBaseName } from '../storage/index.js';
import { packageUris, preflightPublish, publishRelease, type ChosenPackage, type PackageRequest, type PackageUris, type PublishTarget } from '../storage/publish.js';
import { parseLocation, sanitiseName } from '../storage/uri.js';
import type { S3Options } from '../storage/s3.js';
import type { PublishedFile } from '../storage/storage.js';
import type { TaskPatch } from '../db/records.js';
import { runDag, type DagEvent, type DagNodeSummary } from './dag.js';
import { VidpipeError, toVidpipeError } from '../errors.js';
import type { JobEventListener } from './events.js';
import { hashTree, newJobId, sha256File, videoIdFromSha256 } from './ids.js';
import { planJob, type JobPlan, type TranscodeSettings } from './plan.js';
import type { RenditionSummary, SourceSummary, TranscodeResult } from './result.js';
import type { StageContext } from './stage.js';
import { assertFreeSpace, spaceNeeds } from './preflight.js';
import { buildTranscodeDag, nodeId } from './transcode-dag.js';
import type { EncodedChunk } from './stages/encode-video.js';
import { audioTags, loudnessReport } from './audio-report.js';
import { planReuse, recordOutputsOf, resumeKeyFor, sweepFinishedWorkDirs } from './resume.js';
import { claimWorkDir, releaseWorkDir, removeWorkDir } from './work-lock.js';
import type { ManifestsOutput } from './stages/manifests.js';
import type { QualityMetrics } from '../metrics/quality.js';
import { TaskTimeline, writePackageSummary } from '../report/package-summary.js';
import { listPackageFiles } from '../storage/package-files.js';

export interface TranscodeRequest {
  /** Local path or s3:// URI of the source. */
  input: string;
  /** Parent destination (local folder or s3:// prefix); the package goes to <out>/<name>/. */
  out: string;
  /**
   * Package name given on purpose (--name, a watch sidecar): the package is written there even
   * if it holds another video (see docs/publishing.md).
   */
  name?: string;
  /**
   * Package name when none is given, used as it is (watch: from the object key); default: from
   * the input file name. A package of another video is never replaced: see candidateNames.
   */
  defaultName?: string;
  settings: TranscodeSettings;
  binaries: FfmpegBinaries;
  dbPath: string;
  s3?: S3Options;
  stallTimeoutMs: number;
  /** Poster and storyboard (video) or cover art (audio). */
  thumbnails: boolean;
  /** User tags stored with the video (JSON column). */
  tags?: Record<string, string>;
  /** Measure PSNR/SSIM of each video rendition against the source (a `metrics` task). */
  metrics?: boolean;
  /** Where intermediate files go (default: the user's cache folder). */
  workRoot?: string;
  /** Start over: ignore (and delete) the work of an earlier unfinished run of the same job. */
  force?: boolean;
  signal?: AbortSignal;
  onEvent?: JobEventListener;
  /** Runs the task graph somewhere else (queue workers, see src/queue) instead of runDag in this process. */
  runner?: (job: RunnerJob) => typeof runDag;
}

/** What a remote runner needs to run this job's graph, and how it reports back. */
export interface RunnerJob {
  jobId: string;
  /** Package name below `request.out`, as the preflight chose it. */
  name: string;
  /** The package asked for: the publish node chooses the final name by the same rule (publish.ts). */
  package: PackageRequest;
  probe: MediaProbe;
  plan: JobPlan;
  av1Encoder: ReturnType<typeof pickAv1Encoder>;
  request: TranscodeRequest;
  /** Writes task fields the DAG events do not carry (attempts, worker) to the job's task rows. */
  updateTask: (taskId: string, patch: TaskPatch) => void;
  /** The graph was handed over and this process does not wait for it: the result is 'queued'. */
  markQueued: () => void;
}

/** What the publish node returns (plain JSON, it may come from a queue worker): the package written, its files and their SHA-256 by key. */
export interface PublishOutput extends ChosenPackage {
  files: PublishedFile[];
  hashes: Record<string, string>;
}

/**
 * Publishes the package folder as release `target.release`. `prepare` runs once the package
 * name is final and before anything is sent (files it writes are published and hashed too).
 */
export async function publishPackage(
  target: PublishTarget,
  packageDir: string,
  signal: AbortSignal,
  prepare?: (chosen: ChosenPackage) => Promise<void>,
): Promise<PublishOutput> {
  let hashes: Record<string, string> = {};
  const published = await publishRelease(target, packageDir, {
    signal,
    beforeTransfer: async (chosen) => {
      await prepare?.(chosen);
      hashes = Object.fromEntries(await hashTree(packageDir, signal));
    },
  });
  return { ...published, hashes };
}

/** The manifests at a package's top level (see stages/manifests.ts); the preflight checks those names are free. */
function entryManifestNames(plan: JobPlan): string[] {
  return plan.hlsSegments === 'both' ? ['master.m3u8', 'master-ts.m3u8', 'manifest.mpd'] : ['master.m3u8', 'manifest.mpd'];
}

/** The result's view of the package actually written. */
function packageSummary(chosen: ChosenPackage, uris: PackageUris): NonNullable<TranscodeResult['package']> {
  return { name: chosen.name, root: uris.root, ...(chosen.note ? { note: chosen.note } : {}) };
}

export function defaultWorkRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VIDPIPE_WORK_DIR) return env.VIDPIPE_WORK_DIR;
  const cache = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : tmpdir());
  return join(cache, 'vidpipe', 'work');
}

/** Downloaded inputs (s3://, http(s)://) go where the job's other big files go. */
function inputsFolder(request: TranscodeRequest): string {
  return join(request.workRoot ?? defaultWorkRoot(), 'inputs');
}

/** A download that makes no progress is given up like a stalled ffmpeg, and after two minutes at most. */
function downloadIdleMs(request: TranscodeRequest): number {
  return Math.min(request.stallTimeoutMs > 0 ? request.stallTimeoutMs : Infinity, 120_000);
}

/** What `--plan` shows: the graph that would run, without running it. */
export interface TranscodePlanView {
  input: string;
  probe: MediaProbe;
  plan: JobPlan;
  tasks: DagNodeSummary[];
}

const PRE_TASKS: DagNodeSummary[] = [
  { id: 'probe', kind: 'probe', label: 'Probe input', dependsOn: [] },
  { id: 'plan', kind: 'plan', label: 'Plan ladder and chunks', dependsOn: ['probe'] },
];

/** The main graph's roots hang off `plan`, so the whole job reads as one DAG. */
function withPreTasks(tasks: DagNodeSummary[]): DagNodeSummary[] {
  return [...PRE_TASKS, ...tasks.map((t) => (t.dependsOn.length === 0 ? { ...t, dependsOn: ['plan'] } : t))];
}

async function prepare(request: TranscodeRequest, localPath: string, signal?: AbortSignal) {
  const reading = await readSource(request.binaries, localPath, { audioOnly: request.settings.audioOnly, workRoot: request.workRoot ?? defaultWorkRoot(), signal });
  try {
    const { probe } = reading;
    const capabilities = await detectCapabilities(request.binaries);
    const plan = planJob(probe, request.settings);
    assertEncoders(capabilities, plan.kind === 'video' ? request.settings.codecs : [], plan.audio.length > 0);
    return { probe, plan, av1Encoder: pickAv1Encoder(capabilities), reading };
  } catch (error) {
    await reading.cleanup();
    throw error;
  }
}

/** Probes and plans one input and returns the graph, running nothing. */
export async function planTranscode(request: TranscodeRequest): Promise<TranscodePlanView> {
  const fetched = await fetchInput(request.input, inputsFolder(request), request.s3, { signal: request.signal, idleTimeoutMs: downloadIdleMs(request) });
  let cleanupReading = async () => undefined as void;
  try {
    const { probe, plan, av1Encoder, reading } = await prepare(request, fetched.localPath, request.signal);
    cleanupReading = reading.cleanup;
    const dag = buildTranscodeDag(
      {
        source: reading.path,
        probe,
        plan,
        preset: request.settings.preset,
        av1Encoder,
        packageDir: '/nonexistent',
        thumbnails: request.thumbnails,
        concurrency: request.settings.concurrency,
        metrics: request.metrics,
        publish: async () => undefined,
        recordMetadata: async () => undefined,
      },
      () => {
        throw new VidpipeError('INTERNAL', 'plan only');
      },
    );
    return { input: request.input, probe, plan, tasks: withPreTasks(dag.describe()) };
  } finally {
    await cleanupReading();
    await fetched.cleanup();
  }
}

function spanSeconds(events: { kind: string; start: number; end: number }[]): Record<string, number> {
  const byKind = new Map<string, { start: number; end: number }>();
  for (const e of events) {
    const span = byKind.get(e.kind);
    byKind.set(e.kind, span ? { start: Math.min(span.start, e.start), end: Math.max(span.end, e.end) } : { start: e.start, end: e.end });
  }
  return Object.fromEntries([...byKind].map(([kind, s]) => [kind, round3((s.end - s.start) / 1000)]));
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Identity of an input that could not be read: derived from its path so its failed job is still recorded. */
function videoIdForUnreadable(input: string): string {
  return `v${createHash('sha256').update(`unreadable:${resolve(input)}`).digest('hex').slice(0, 12)}`;
}

/**
 * Transcodes one input into a published package and records it in SQLite. Never throws:
 * a failure is returned as a result with status 'failed' or 'interrupted' (and an error),
 * after the job and its tasks were marked in the database and temporary files removed.
 */
export async function transcode(request: TranscodeRequest): Promise<TranscodeResult> {
  const jobId = newJobId();
  const startedAt = Date.now();
  const emit = request.onEvent ?? (() => undefined);
  const spans: { kind: string; start: number; end: number }[] = [];
  const taskStarts = new Map<string, { kind: string; start: number }>();
  const timeline = new TaskTimeline();
  const result: TranscodeResult = { id: '', jobId, input: request.input, status: 'failed', outputs: {}, renditions: [], timings: {} };
  // Absolute once: ffmpeg resolves some paths against other folders (a concat list against the
  // list's own), and resume records paths inside the work folder relative to it.
  const workRoot = resolve(request.workRoot ?? defaultWorkRoot());
  // Set once this process holds the job's work folder (see resume.ts); kept unless the job succeeds.
  let workDir: string | undefined;
  let db: VidpipeDb | undefined;
  let cleanupInput = async () => undefined as void;
  let cleanupReading = async () => undefined as void;
  let jobRecorded = false;

  const taskEvent = (event: DagEvent) => {
    emit({ jobId, ...event });
    timeline.observe(event);
    if (event.type === 'task-start') taskStarts.set(event.id, { kind: event.id.replace(/-\d+$|-(h264|hevc|av1|aac|opus)-.*$/, ''), start: event.at });
    if (event.type === 'task-succeeded' || event.type === 'task-failed' || event.type === 'task-cancelled') {
      const started = taskStarts.get(event.id);
      if (started) spans.push({ kind: started.kind, start: started.start, end: event.at });
    }
    if (!db || !jobRecorded) return;
    const now = new Date().toISOString();
    switch (event.type) {
      case 'task-start':
        db.updateTask(jobId, event.id, { status: 'running', startedAt: now, attempts: event.attempt ?? 1, progress: 0 });
        break;
      case 'task-succeeded':
        db.updateTask(jobId, event.id, { status: 'succeeded', finishedAt: now, progress: 1 });
        break;
      case 'task-failed':
        db.updateTask(jobId, event.id, { status: 'failed', finishedAt: now, error: event.error.message });
        break;
      case 'task-cancelled':
        db.updateTask(jobId, event.id, { status: 'cancelled', finishedAt: now });
        break;
      default:
        break;
    }
  };

  try {
    db = openDatabase(request.dbPath);
    emit({ type: 'job-start', jobId, input: request.input, tasks: PRE_TASKS });
    taskEvent({ type: 'task-start', id: 'probe', at: Date.now() });
    const fetched = await fetchInput(request.input, inputsFolder(request), request.s3, {
      signal: request.signal,
      idleTimeoutMs: downloadIdleMs(request),
      onProgress: (fraction, etaSeconds) => emit({ jobId, type: 'task-progress', id: 'probe', fraction: fraction ?? 0, etaSeconds }),
    });
    cleanupInput = fetched.cleanup;
    const source = fetched.localPath;

    // The video's identity is its content; an unreadable input still gets a failed job on record.
    let sha256 = '';
    let sizeBytes = 0;
    // What the file was when it was hashed: a file that changes later (still being written,
    // replaced) fails before publishing instead of giving a package of some of it.
    const identity = await sourceIdentity(source);
    try {
      if (identity) {
        sizeBytes = identity.size;
        sha256 = await sha256File(source, request.signal);
      }
    } catch (error) {
      // Hashing a large input takes a while: a signal meanwhile ends the job here.
      if (request.signal?.aborted) throw new VidpipeError('INTERRUPTED', `${request.input}: interrupted while reading it`, { cause: error });
      // probeFile below reports the precise reason.
    }
    result.id = sha256 ? videoIdFromSha256(sha256) : videoIdForUnreadable(request.input);
    const givenName = request.name ? sanitiseName(request.name) : undefined;
    const name = givenName ?? request.defaultName ?? sanitiseName(inputBaseName(request.input));
    const startJob = (probe?: MediaProbe, plan?: JobPlan) =>
      db!.startJob({
        jobId,
        video: {
          id: result.id,
          source: request.input,
          name,
          sha256,
          sizeBytes,
          durationSeconds: plan?.durationSeconds ?? probe?.durationSeconds ?? 0,
          kind: plan?.kind ?? 'video',
          probe: probe?.raw ?? null,
          tags: { ...(probe ? (plan?.kind === 'audio' ? audioTags(probe) : probe.tags) : {}), ...(request.tags ?? {}) },
        },
        input: request.input,
        output: request.out,
        options: request.settings,
        tasks: PRE_TASKS,
      });

    // The probe ran before the job row could exist (the video id comes from the file's hash).
    const recordProbeStart = () => {
      const started = taskStarts.get('probe')?.start;
      if (started !== undefined) db!.updateTask(jobId, 'probe', { status: 'running', startedAt: new Date(started).toISOString() });
    };
    let prepared: Awaited<ReturnType<typeof prepare>>;
    try {
      prepared = await prepare(request, source, request.signal);
    } catch (error) {
      startJob();
      jobRecorded = true;
      recordProbeStart();
      throw error;
    }
    const { probe, plan, av1Encoder, reading } = prepared;
    cleanupReading = reading.cleanup;
    result.source = sourceSummary(reading, probe);
    startJob(probe, plan);
    jobRecorded = true;
    recordProbeStart();
    // Probing and reading the packets took a while: a file still being written has grown since.
    if (identity) await assertSourceUnchanged(source, identity);
    if (request.runner && reading.path !== source) {
      throw new VidpipeError('INPUT_INVALID', `${request.input} must be copied into an indexed container before it can be encoded in chunks (${reading.remuxReason}), which queue workers do not do`, {
        hint: `remux it first (ffmpeg -i ${basename(request.input)} -c copy ${basename(request.input).replace(/\.[^.]*$/, '')}.mkv), upload that and queue it, or transcode it without --queue`,
      });
    }
    taskEvent({ type: 'task-succeeded', id: 'probe', at: Date.now(), result: undefined });
    taskEvent({ type: 'task-start', id: 'plan', at: Date.now() });
    taskEvent({ type: 'task-succeeded', id: 'plan', at: Date.now(), result: undefined });
    result.kind = plan.kind;
    result.durationSeconds = round3(plan.durationSeconds);

    const destination = parseLocation(request.out);
    await assertFreeSpace(spaceNeeds(plan, workRoot, destination.kind === 'local' ? destination.path : undefined));
    // Each job publishes into its own folder below the package; the entry manifests switch over last.
    // Before any encode: which package this video goes to, and that it can be written there.
    const publishTarget: PublishTarget = {
      location: destination,
      request: { name, given: givenName !== undefined, video: { id: result.id, sha256 } },
      release: jobId,
      s3: request.s3,
    };
    const chosen = await preflightPublish(publishTarget, entryManifestNames(plan), request.signal);
    // The publish node chooses again by the same rule; the outputs follow what it wrote.
    let uris = packageUris(destination, chosen.name, jobId);
    result.package = packageSummary(chosen, uris);
    const resumeKey = resumeKeyFor({
      sha256, settings: request.settings, plan, thumbnails: request.thumbnails, av1Encoder, ffmpeg: request.binaries.ffmpeg, destination: uris.root,
    });
    const previous = request.force ? null : db.jobsByResumeKey(resumeKey);
    const resumable = previous !== null && previous.jobs[0]!.status !== 'succeeded';
    db.setResumeKey(jobId, resumeKey);
    const jobWorkDir = join(workRoot, resumeKey);
    await claimWorkDir(jobWorkDir, !resumable);
    workDir = jobWorkDir;
    // Still 'running' although no process holds its folder: they were killed.
    for (const killed of previous?.jobs.filter((job) => job.status === 'running') ?? []) {
      db.failJob(killed.id, { status: 'interrupted', code: 'INTERRUPTED', message: `the process stopped without finishing (killed?); resumed by job ${jobId}` });
    }
    const packageDir = join(jobWorkDir, 'package');
    await mkdir(packageDir, { recursive: true });

    const progressThrottle = new Map<string, number>();
    const useName = (package_: ChosenPackage) => {
      uris = packageUris(destination, package_.name, jobId);
      result.package = packageSummary(package_, uris);
    };
    const outputsOf = (results: ReadonlyMap<string, unknown>): TranscodeResult['outputs'] => ({
      root: uris.releaseRoot,
      hls: uris.uriFor('master.m3u8'),
      dash: uris.uriFor('manifest.mpd'),
      ...(results.has('poster') ? { poster: uris.uriFor('poster.jpg'), posterSmall: uris.uriFor('poster-small.jpg') } : {}),
      ...(results.has('storyboard') ? { storyboard: uris.uriFor('storyboard/storyboard.vtt') } : {}),
      ...((results.get('manifests') as ManifestsOutput | undefined)?.tsMaster === 'master-ts.m3u8' ? { hlsTs: uris.uriFor('master-ts.m3u8') } : {}),
      // Players look for a poster; an audio package's cover art is that picture.
      ...(results.has('cover') ? { poster: uris.uriFor('cover.jpg'), cover: uris.uriFor('cover.jpg') } : {}),
    });
    const contextFor = (taskId: string, signal: AbortSignal): StageContext => ({
      binaries: request.binaries,
      signal,
      stallTimeoutMs: request.stallTimeoutMs,
      workDir: jobWorkDir,
      onProgress: (fraction, etaSeconds) => {
        const now = Date.now();
        if (fraction < 1 && now - (progressThrottle.get(taskId) ?? 0) < 250) return;
        progressThrottle.set(taskId, now);
        emit({ jobId, type: 'task-progress', id: taskId, fraction, etaSeconds });
      },
    });

    const dag = buildTranscodeDag(
      {
        source: reading.path,
        probe,
        plan,
        preset: request.settings.preset,
        av1Encoder,
        packageDir,
        thumbnails: request.thumbnails,
        concurrency: request.settings.concurrency,
        metrics: request.metrics,
        publish: async (signal, results) => {
          // Nothing is published from a source that changed under the encoders.
          if (identity) await assertSourceUnchanged(source, identity);
          result.source = withDecodeErrors(result.source, plan, results);
          return publishPackage(publishTarget, packageDir, signal, async (final) => {
            useName(final);
            // The package carries its own report (vidpipe.json) so `vidpipe serve` needs no database.
            await writePackageSummary(packageDir, {
              name,
              source: request.input,
              tasks: timeline.entries(),
              result: {
                ...result,
                status: 'succeeded',
                outputs: outputsOf(results),
                renditions: summariseRenditions(results.get('manifests') as ManifestsOutput, plan, await listPackageFiles(packageDir), results.get('metrics') as QualityByName),
                timings: spanSeconds(spans),
              },
            });
          });
        },
        recordMetadata: async (results) => {
          const publishOutput = results.get('publish') as PublishOutput;
          const { files: published, hashes } = publishOutput;
          // Where the package really went (a queue worker chose by the same rule, maybe differently).
          useName(publishOutput);
          const manifests = results.get('manifests') as ManifestsOutput;
          result.renditions = summariseRenditions(manifests, plan, published, results.get('metrics') as QualityByName);
          result.outputs = outputsOf(results);
          result.loudness = loudnessReport(results, plan);
          result.durationSeconds = round3(manifests.model.durationSeconds);
          result.status = 'succeeded';
          result.timings = { ...spanSeconds(spans), total: round3((Date.now() - startedAt) / 1000) };
          db!.completeJob(jobId, {
            video: {
              id: result.id, status: 'ready', durationSeconds: manifests.model.durationSeconds,
              ...(result.loudness || result.source ? { properties: { ...(result.loudness ? { loudness: result.loudness } : {}), ...(result.source ? { source: result.source } : {}) } } : {}),
            },
            outputs: result.outputs as Record<string, string>,
            timings: result.timings,
            renditions: result.renditions.map((r) => ({
              name: r.name, kind: r.kind, codec: r.codec, codecs: r.codecs, width: r.width, height: r.height,
              frameRate: r.frameRate, channels: r.channels, sampleRate: r.sampleRate, language: r.language,
              averageBitrate: r.averageBitrate, peakBitrate: r.peakBitrate, targetBitrate: r.targetBitrate,
              sizeBytes: r.sizeBytes, segmentCount: r.segments, playlist: r.playlist, init: initOf(manifests, r.name),
              properties: r.quality ? { quality: r.quality } : undefined,
            })),
            files: published.map((f) => ({ key: f.key, bytes: f.bytes, sha256: hashes[f.key] ?? '' })),
          });
          return true;
        },
      },
      contextFor,
    );
    const tasks = dag.describe();
    timeline.declare(withPreTasks(tasks));
    db.addTasks(jobId, tasks);
    recordOutputsOf(dag, jobWorkDir, (id, output) => db!.updateTask(jobId, id, { status: 'succeeded', output }));
    const reuse = resumable ? await planReuse(dag, previous.tasks, jobWorkDir, request.signal) : undefined;
    for (const [id, output] of reuse?.reused ?? []) db.updateTask(jobId, id, { status: 'skipped', output });
    for (const id of reuse?.notNeeded ?? []) db.updateTask(jobId, id, { status: 'skipped', output: { notNeeded: true } });
    if (reuse && previous) result.resumed = { fromJob: previous.jobs[0]!.id, reusedTasks: [...reuse.reused.keys()] };
    emit({ type: 'job-start', jobId, input: request.input, tasks: withPreTasks(tasks) });
    const run = request.runner?.({
      jobId, name: chosen.name, package: publishTarget.request, probe, plan, av1Encoder, request,
      updateTask: (taskId, patch) => db!.updateTask(jobId, taskId, patch),
      markQueued: () => void (result.status = 'queued'),
    }) ?? runDag;
    await run(dag, { concurrency: request.settings.concurrency, signal: request.signal, onEvent: taskEvent, completed: reuse?.completed });
    emit({ type: 'job-done', jobId, result });
    return result;
  } catch (caught) {
    const error = toVidpipeError(caught);
    const interrupted = error.code === 'INTERRUPTED' || request.signal?.aborted === true;
    result.status = interrupted ? 'interrupted' : 'failed';
    result.error = { code: interrupted ? 'INTERRUPTED' : error.code, message: error.message, hint: error.hint, stderrTail: error.stderrTail };
    result.timings = { ...spanSeconds(spans), total: round3((Date.now() - startedAt) / 1000) };
    if (taskStarts.has('probe') && !spans.some((s) => s.kind === 'probe')) taskEvent({ type: 'task-failed', id: 'probe', at: Date.now(), error });
    if (db && jobRecorded) {
      try {
        db.failJob(jobId, { status: result.status === 'interrupted' ? 'interrupted' : 'failed', code: result.error.code, message: error.message });
      } catch {
        // The original failure matters more than a failure to record it.
      }
    }
    emit({ type: 'job-failed', jobId, input: request.input, error, result });
    return result;
  } finally {
    // A failed or interrupted job keeps its work folder: a re-run resumes from it. A queued one
    // runs on workers with folders of their own.
    if (workDir && (result.status === 'succeeded' || result.status === 'queued')) {
      await removeWorkDir(workDir).catch(() => undefined);
      if (db) await sweepFinishedWorkDirs(workRoot, db).catch(() => undefined);
    } else if (workDir) {
      await releaseWorkDir(workDir).catch(() => undefined);
    }
    await cleanupReading().catch(() => undefined);
    await cleanupInput().catch(() => undefined);
    db?.close();
  }
}

type QualityByName = Record<string, QualityMetrics> | undefined;

/** Corrupt frames the chunk encodes reported (below the limit, or accepted with --allow-decode-errors). */
function withDecodeErrors(summary: SourceSummary | undefined, plan: JobPlan, results: ReadonlyMap<string, unknown>): SourceSummary | undefined {
  const count = (plan.video?.chunks ?? []).reduce((sum, chunk) => sum + ((results.get(nodeId.encodeChunk(chunk.index)) as EncodedChunk | undefined)?.decodeErrors ?? 0), 0);
  if (count === 0) return summary;
  const note = `the decoder concealed ${count} damaged frame${count > 1 ? 's' : ''}${plan.video?.maxDecodeErrors === undefined ? ' (--allow-decode-errors)' : ''}`;
  return { ...summary, decodeErrors: count, notes: [...(summary?.notes ?? []), note] };
}

function sourceSummary(reading: { notes: string[]; remuxReason?: string }, probe: MediaProbe): SourceSummary | undefined {
  if (reading.notes.length === 0) return undefined;
  return { ...(probe.program ? { program: programLabel(probe.program) } : {}), ...(reading.remuxReason ? { remuxed: reading.remuxReason } : {}), notes: reading.notes };
}

function summariseRenditions(manifests: ManifestsOutput, plan: JobPlan, published: { key: string; bytes: number }[], quality?: QualityByName): RenditionSummary[] {
  const bytesUnder = (prefix: string) => published.filter((f) => f.key.startsWith(prefix)).reduce((sum, f) => sum + f.bytes, 0);
  /** What every track has, measured from its files. */
  const measured = (track: TrackBase, targetKbps: number) => ({
    name: track.id,
    codecs: track.codecs,
    averageBitrate: Math.round(track.averageBitrate),
    peakBitrate: Math.round(track.peakBitrate),
    targetBitrate: targetKbps * 1000,
    sizeBytes: bytesUnder(track.playlistUri.replace(/[^/]+$/, '')),
    segments: track.segments.length,
    playlist: track.playlistUri,
  });
  const videos: RenditionSummary[] = manifests.model.videos.map((track) => ({
    ...measured(track, plan.video!.renditions.find((r) => r.id === track.id)!.bitrateKbps),
    kind: 'video',
    codec: track.codec,
    width: track.width,
    height: track.height,
    frameRate: round3(track.frameRate.num / track.frameRate.den),
    ...(quality?.[track.id] ? { quality: quality[track.id] } : {}),
  }));
  const audios: RenditionSummary[] = manifests.model.audios.map((track) => ({
    ...measured(track, plan.audio.find((r) => r.id === track.id)!.bitrateKbps),
    kind: 'audio',
    codec: track.codec,
    channels: track.channels,
    sampleRate: track.sampleRate,
    language: track.language,
  }));
  return [...videos, ...audios];
}

function initOf(manifests: ManifestsOutput, name: string): string | undefined {
  return [...manifests.model.videos, ...manifests.model.audios].find((t) => t.id === name)?.initUri;
}
