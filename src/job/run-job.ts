/**
 * Runs one job in this process: the graph of src/job/graph.ts, grown as its probe and plan
 * finish, run by runDag here or by a queue runner (src/queue/submit.ts), with its records
 * written from its events (records.ts) and its result summarised from its nodes' results
 * (summary.ts). What only happens where a job starts is here: fetching and identifying the
 * input, choosing the package before any encode, the work folder and the resume of an earlier
 * run of the same job, and the final metadata.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Dag, runDag, type DagEvent, type DagNodeSummary, type DagRunResult, type Growth, type RunDagOptions, type DagTask } from '../core/dag.js';
import type { JobEventListener } from '../core/events.js';
import { newJobId, sha256File, videoIdFromSha256 } from '../core/ids.js';
import type { JobPlan } from '../core/plan.js';
import { spaceNeeds } from '../core/preflight.js';
import { assertFreeSpace } from '../files/free-space.js';
import type { TranscodeResult } from '../core/result.js';
import { ChunkEncodeTracker } from '../core/schedule.js';
import { assertSourceCurrent, assertSourceUnchanged, sourceIdentity, type SourceVersion } from '../core/source-identity.js';
import { claimWorkDir, releaseWorkDir, removeWorkDir } from '../core/work-lock.js';
import { audioTags } from '../core/audio-report.js';
import { openMetadata } from '../db/engines.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { TaskPatch } from '../db/records.js';
import { VidpipeError, toVidpipeError } from '../errors.js';
import type { FfmpegBinaries } from '../ffmpeg/binaries.js';
import { detectCapabilities } from '../ffmpeg/capabilities.js';
import { inspectSource, type InspectedSource } from '../ffmpeg/source-file.js';
import type { MediaProbe } from '../ffmpeg/probe.js';
import { loadProtectionKeys } from '../protection/keys.js';
import { defaultWorkRoot, type JobSettings } from '../settings/job-settings.js';
import { fetchInput, inputBaseName, type FetchedInput } from '../storage/index.js';
import { packageUris, preflightPublish, type PublishTarget } from '../storage/publish.js';
import { localFolderOf } from '../storage/backends.js';
import { parseLocation, type StorageConfig } from '../storage/index.js';
import { sanitiseName } from '../storage/uri.js';
import { buildJobGraph, stageContexts, type JobEnvironment } from './graph.js';
import type { GraphState, JobOptions } from './job-options.js';
import { JobObserver } from './job-observer.js';
import { kindSpec, learnFrom, node, type NodeResultsView } from './nodes.js';
import { resultBase } from './publish.js';
import { JobRecorder } from './records.js';
import { discardStaleWorkDirs, planReuse, recordOutputsOf, resumeKeyFor, stampWorkDir, sweepFinishedWorkDirs } from './resume.js';
import { packageSummary, round3, sourceSummary, succeededResult } from './summary.js';
import { failedLater } from './webhook-events.js';

export interface JobRequest {
  /** Local path, file://, http(s):// or s3:// URI of the source. */
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
  settings: JobSettings;
  binaries: FfmpegBinaries;
  dbPath: string;
  /** Each storage backend's settings (S3 endpoint, region …), resolved by the command. */
  storage?: StorageConfig;
  /** User tags stored with the video (JSON column). */
  tags?: Record<string, string>;
  /** Where intermediate files go (default: the user's cache folder). */
  workRoot?: string;
  /** Start over: ignore (and delete) the work of an earlier unfinished run of the same job. */
  force?: boolean;
  signal?: AbortSignal;
  onEvent?: JobEventListener;
  /** Runs the graph's nodes somewhere else (queue workers, see src/queue) instead of runDag in this process. */
  runner?: GraphRunner;
  /** How long a local source must have been unchanged before publishing (default: the --source-quiet setting; see source-identity.ts). */
  sourceQuietMs?: number;
}

/** What a runner that sends nodes to other machines needs of the job, and how it reports back. */
export interface RemoteJob {
  options: JobOptions;
  /** What the graph builder knows so far: the state a worker rebuilds the graph from. */
  state(): GraphState;
  /** The submitter's storage settings (workers use their own first). */
  storage?: StorageConfig;
  /** Writes task fields the events do not carry (attempts, worker) to the job's task rows. */
  updateTask(taskId: string, patch: TaskPatch): void;
  /** The graph was handed over and this process does not wait for it: the result is 'queued'. */
  markQueued(): void;
}

export type GraphRunner = (dag: Dag, options: RunDagOptions, job: RemoteJob) => Promise<DagRunResult>;

/** What `--plan` shows: the graph that would run, without running it. */
export interface TranscodePlanView {
  input: string;
  probe: MediaProbe;
  plan: JobPlan;
  tasks: DagNodeSummary[];
}

/** Downloaded inputs (s3://, http(s)://) and copies of inputs go where the job's other big files go. */
function inputsFolder(workRoot: string): string {
  return join(workRoot, 'inputs');
}

/** A download that makes no progress is given up like a stalled ffmpeg, and after two minutes at most. */
function downloadIdleMs(settings: JobSettings): number {
  return Math.min(settings.stallTimeoutSeconds > 0 ? settings.stallTimeoutSeconds * 1000 : Infinity, 120_000);
}

/** The manifests at a package's top level (see stages/manifests.ts); the preflight checks those names are free. */
function entryManifestNames(plan: JobPlan): string[] {
  return plan.hlsSegments === 'both' ? ['master.m3u8', 'master-ts.m3u8', 'manifest.mpd'] : ['master.m3u8', 'manifest.mpd'];
}

/** Identity of an input that could not be read: derived from its path so its failed job is still recorded. */
function videoIdForUnreadable(input: string): string {
  return `v${createHash('sha256').update(`unreadable:${resolve(input)}`).digest('hex').slice(0, 12)}`;
}

/**
 * What identifying the input found: its content hash, and the version that was hashed. A source
 * that changes later (still being written, replaced, an object overwritten) fails before
 * publishing instead of giving a package of some of it, or of an older version.
 */
interface Identified extends SourceVersion {
  videoId: string;
  sha256: string;
  sizeBytes: number;
}

/** Hashes the fetched input: the video's identity is its content; an unreadable input still gets an id. */
async function identify(input: string, fetched: FetchedInput, signal?: AbortSignal): Promise<Identified> {
  const path = fetched.localPath;
  const file = await sourceIdentity(path);
  let sha256 = '';
  try {
    if (file) sha256 = await sha256File(path, signal);
  } catch (error) {
    // Hashing a large input takes a while: a signal meanwhile ends the job here.
    if (signal?.aborted) throw new VidpipeError('INTERRUPTED', `${input}: interrupted while reading it`, { cause: error });
    // The probe reports the precise reason.
  }
  // A download does not change; the object it came from may.
  const version = fetched.inPlace ? (file ? { file } : {}) : fetched.object ? { object: { uri: input, ...fetched.object } } : {};
  return { videoId: sha256 ? videoIdFromSha256(sha256) : videoIdForUnreadable(input), sha256, sizeBytes: file?.size ?? 0, ...version, path };
}

/**
 * The contexts of a job's nodes in this process: progress throttled to 4 a second, a chunk
 * encode's threads following the chunk encodes `encodes` counts as unfinished.
 */
function contextsFor(binaries: FfmpegBinaries, settings: JobSettings, state: GraphState, scratchDir: string, encodes: ChunkEncodeTracker, onProgress: (id: string, fraction: number, eta?: number) => void) {
  const lastProgress = new Map<string, number>();
  return stageContexts({
    binaries,
    settings,
    concurrency: settings.concurrency,
    plan: () => state.plan,
    workDir: () => state.site?.workDir ?? scratchDir,
    unfinishedChunkEncodes: () => encodes.count,
    onProgress: (id, fraction, etaSeconds) => {
      const now = Date.now();
      if (fraction < 1 && now - (lastProgress.get(id) ?? 0) < 250) return;
      lastProgress.set(id, now);
      onProgress(id, fraction, etaSeconds);
    },
  });
}

/** Probes and plans one input and returns the graph, running nothing else. */
export async function previewJob(request: JobRequest): Promise<TranscodePlanView> {
  const workRoot = resolve(request.workRoot ?? defaultWorkRoot());
  const scratchDir = join(inputsFolder(workRoot), `plan-${newJobId()}`);
  const state: GraphState = {};
  const cleanups: (() => Promise<void>)[] = [() => rm(scratchDir, { recursive: true, force: true })];
  const options: JobOptions = { jobId: 'plan', input: request.input, out: request.out, settings: request.settings, package: { name: '', given: false, video: { id: '', sha256: '' } } };
  const never = async (): Promise<never> => {
    throw new VidpipeError('INTERNAL', 'plan only');
  };
  const env: JobEnvironment = {
    options,
    contextFor: contextsFor(request.binaries, request.settings, state, scratchDir, new ChunkEncodeTracker(node.encodeVideo(0).kind), () => undefined),
    probe: async (signal) => {
      const fetched = await fetchInput(request.input, inputsFolder(workRoot), request.storage, { signal, idleTimeoutMs: downloadIdleMs(request.settings) });
      cleanups.push(fetched.cleanup);
      return inspectSource(request.binaries, fetched.localPath, { audioOnly: request.settings.audioOnly, signal });
    },
    publishing: { beforePublish: never },
    recordMetadata: never,
  };
  const dag = new Dag();
  for (const task of buildJobGraph(state, env).tasks) dag.add(task);
  try {
    await runDag(dag, {
      concurrency: 1,
      signal: request.signal,
      runsHere: (task) => kindSpec(task.kind).runsOn === 'submitter' || task.kind === node.prepareSource.kind,
      grow: async (task, result) => {
        learnFrom(state, task.kind, result);
        if (task.id === node.plan.id) state.site = { workDir: '/nonexistent', packageDir: '/nonexistent' };
        return buildJobGraph(state, env);
      },
    });
    if (!state.plan || !state.source) throw new VidpipeError('INTERNAL', 'the plan did not run');
    return { input: request.input, probe: state.source.probe, plan: state.plan, tasks: dag.describe() };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

/**
 * Transcodes one input into a published package and records it in the metadata store. Never throws:
 * a failure is returned as a result with status 'failed' or 'interrupted' (and an error),
 * after the job and its tasks were marked in the database and temporary files removed.
 *
 * The job goes through its phases as its graph runs (LocalJob): the probe node identifies the
 * source, the plan's growth claims the package's site, the graph runs to its metadata node, and
 * whatever happened is recorded and cleaned up.
 */
export async function runJob(request: JobRequest): Promise<TranscodeResult> {
  const job = new LocalJob(request);
  try {
    return await job.run();
  } catch (caught) {
    return await job.failed(caught);
  } finally {
    await job.cleanUp();
  }
}

/** Where the job's package is being built on this machine, once it holds the work folder. */
interface ClaimedSite {
  /** The job's work folder (locked by this process; see resume.ts), kept unless the job succeeds. */
  workDir: string;
  /** The tasks an unfinished earlier run of the same job recorded: their outputs are reused. */
  resumeFrom?: Parameters<typeof planReuse>[1];
}

/**
 * One job run in this process. Each phase leaves what it found in one field, once: the source's
 * identity (`identified`, by the probe node), the site the package is built in (`site`, when the
 * plan is known), and the database (`db`). Timing, events and records go through `observer`.
 */
class LocalJob {
  readonly jobId = newJobId();
  private readonly settings: JobSettings;
  /** The result as it is learnt; its status is 'failed' until the metadata node ran. */
  private readonly result: TranscodeResult;
  private readonly options: JobOptions;
  private readonly state: GraphState = {};
  private readonly dag = new Dag();
  private readonly observer: JobObserver;
  /**
   * Absolute once: ffmpeg resolves some paths against other folders (a concat list against the
   * list's own), and resume records paths inside the work folder relative to it.
   */
  private readonly workRoot: string;
  private readonly cleanups: (() => Promise<void>)[];
  private readonly env: JobEnvironment;
  private db: MetadataStore | undefined;
  private identified: Identified | undefined;
  private site: ClaimedSite | undefined;

  constructor(private readonly request: JobRequest) {
    const { jobId } = this;
    this.settings = request.settings;
    this.result = { id: '', jobId, input: request.input, status: 'failed', outputs: {}, renditions: [], timings: {} };
    this.workRoot = resolve(request.workRoot ?? defaultWorkRoot());
    const scratchDir = join(inputsFolder(this.workRoot), `copy-${jobId}`);
    this.cleanups = [() => rm(scratchDir, { recursive: true, force: true })];
    const givenName = request.name ? sanitiseName(request.name) : undefined;
    const name = givenName ?? request.defaultName ?? sanitiseName(inputBaseName(request.input));
    this.options = { jobId, input: request.input, out: request.out, settings: this.settings, package: { name, given: givenName !== undefined, video: { id: '', sha256: '' } } };
    this.observer = new JobObserver(jobId, request.onEvent ?? (() => undefined), (id) => this.dag.get(id)?.kind);
    this.env = {
      options: this.options,
      contextFor: contextsFor(request.binaries, this.settings, this.state, scratchDir, this.observer.encodes, (id, fraction, etaSeconds) => this.observer.progress(id, fraction, etaSeconds)),
      probe: (signal) => this.identifySource(signal),
      publishing: {
        storage: request.storage,
        beforePublish: async (signal) => {
          if (this.identified) await assertSourceCurrent(this.identified, { storage: request.storage, signal, quietMs: request.sourceQuietMs ?? request.settings.sourceQuietSeconds * 1000 });
        },
        report: () => ({ tasks: this.observer.tasks(), timings: this.observer.timings(), resumed: this.result.resumed }),
      },
      recordMetadata: (results) => this.recordSuccess(results),
    };
  }

  /** The graph, from the probe to the metadata, here or through the request's runner. */
  async run(): Promise<TranscodeResult> {
    this.db = await openMetadata(this.request.dbPath);
    this.observer.recordWith(new JobRecorder(this.db, this.jobId, this.settings.webhooks));
    for (const task of buildJobGraph(this.state, this.env).tasks) this.dag.add(task);
    this.observer.jobStarted(this.request.input, this.dag.describe());
    const run = this.request.runner ?? runDag;
    await run(this.dag, { concurrency: this.settings.concurrency, signal: this.request.signal, onEvent: this.observer.observe, grow: (task, value, signal) => this.grow(task, value, signal) }, {
      options: this.options,
      state: () => this.state,
      storage: this.request.storage,
      updateTask: (taskId, patch) => this.observer.records!.updateTask(taskId, patch),
      markQueued: () => void (this.result.status = 'queued'),
    });
    this.observer.emitDone(this.result);
    return this.result;
  }

  /**
   * Phase 1, the probe node: fetch the input, hash it (the video's identity) and inspect it. An
   * input that cannot be used is still on record under its identity (see failed).
   */
  private async identifySource(signal: AbortSignal): Promise<InspectedSource> {
    const { request } = this;
    const fetched = await fetchInput(request.input, inputsFolder(this.workRoot), request.storage, {
      signal,
      idleTimeoutMs: downloadIdleMs(this.settings),
      onRetry: (message) => this.observer.note(message),
      onProgress: (fraction, etaSeconds) => this.observer.progress(node.probe.id, fraction ?? 0, etaSeconds),
    });
    this.cleanups.push(fetched.cleanup);
    // The plan node's question to ffmpeg (its encoders), asked while the input is read; the answer is kept.
    detectCapabilities(request.binaries).catch(() => undefined);
    // Hashing (the video's identity) and inspecting (probe, packet scan) each read the whole
    // file: side by side, the job waits for the longer of the two instead of their sum.
    const [hashed, inspected] = await Promise.allSettled([
      identify(request.input, fetched, signal),
      inspectSource(request.binaries, fetched.localPath, { audioOnly: this.settings.audioOnly, signal }),
    ]);
    if (hashed.status === 'rejected') throw hashed.reason;
    this.identified = hashed.value;
    this.result.id = this.identified.videoId;
    this.options.package.video = { id: this.identified.videoId, sha256: this.identified.sha256 };
    if (inspected.status === 'rejected') throw inspected.reason;
    return inspected.value;
  }

  /** A node that grows the graph finished: the plan claims the site first, then the graph gains what it allows. */
  private async grow(task: DagTask, value: unknown, signal: AbortSignal): Promise<Growth> {
    learnFrom(this.state, task.kind, value);
    if (task.id === node.plan.id) await this.claimSite(this.state.plan!, signal);
    return this.extend(signal);
  }

  /**
   * Phase 2, before any encode, once the plan is known: the job is recorded, the package it goes
   * to is chosen and checked, and the job takes its work folder (resuming an unfinished earlier run).
   */
  private async claimSite(plan: JobPlan, signal: AbortSignal): Promise<void> {
    const { request, result, identified, jobId, workRoot, settings } = this;
    const db = this.db!;
    const records = this.observer.records!;
    const source = this.state.source!;
    await this.startRecord(source.probe, plan);
    // Probing and reading the packets took a while: a file still being written has grown since.
    if (identified) await assertSourceCurrent(identified, { storage: request.storage, signal });
    result.kind = plan.kind;
    result.durationSeconds = round3(plan.durationSeconds);
    const summary = sourceSummary(source);
    // Sidecar subtitle cues left out, and sidecar audio cut at the video's end, are said where the source's own decisions are.
    const subtitleNotes = [...(plan.subtitles ?? []).flatMap((track) => track.notes ?? []), ...(plan.notes ?? [])];
    if (summary || subtitleNotes.length > 0) result.source = { ...summary, notes: [...(summary?.notes ?? []), ...subtitleNotes] };

    const destination = parseLocation(request.out);
    await assertFreeSpace(spaceNeeds(plan, workRoot, localFolderOf(destination)));
    // Each job publishes into its own folder below the package; the entry manifests switch over last.
    // Before any encode: which package this video goes to, and that it can be written there.
    const target: PublishTarget = { location: destination, request: this.options.package, release: jobId, storage: request.storage };
    const chosen = await preflightPublish(target, entryManifestNames(plan), signal);
    // The publish node chooses again by the same rule; the outputs follow what it wrote.
    result.package = packageSummary(this.options, chosen);
    const keys = settings.encrypt ? await loadProtectionKeys(settings, { signal }) : undefined;
    const resumeKey = resumeKeyFor({ sha256: identified?.sha256 ?? '', settings, plan, ffmpeg: request.binaries.ffmpeg, destination: packageUris(destination, chosen.name, jobId).root, keys });
    const previous = request.force ? null : await db.jobsByResumeKey(resumeKey);
    const resumable = previous !== null && previous.jobs[0]!.status !== 'succeeded';
    const workDir = join(workRoot, resumeKey);
    await claimWorkDir(workDir, !resumable);
    // Held from here: released (or removed) by cleanUp, whatever happens next.
    this.site = resumable ? { workDir, resumeFrom: previous.tasks } : { workDir };
    // Only now: a run turned away because another holds the folder (BUSY) is no run of that work to resume.
    await records.setResumeKey(resumeKey);
    await stampWorkDir(workDir);
    // Before any encode, so the space they held is free for this job.
    const discarded = await discardStaleWorkDirs(workRoot, db, jobId);
    if (discarded.length > 0) {
      result.discardedWorkDirs = discarded.map(({ path, madeBy }) => `${path}: left by ${madeBy ? `vidpipe ${madeBy}` : 'an earlier vidpipe version'} whose process is gone; this version cannot resume it`);
    }
    // Still 'running' although no process holds its folder: they were killed.
    for (const killed of previous?.jobs.filter((job) => job.status === 'running') ?? []) {
      await db.failJob(killed.id, failedLater(killed, { status: 'interrupted', code: 'INTERRUPTED', message: `the process stopped without finishing (killed?); resumed by job ${jobId}` }));
    }
    const packageDir = join(workDir, 'package');
    await mkdir(packageDir, { recursive: true });
    this.state.site = { workDir, packageDir };
    if (resumable) result.resumed = { fromJob: previous.jobs[0]!.id, reusedTasks: [] };
  }

  /** What the graph gained since the last growth, with the outputs an unfinished earlier run left for it. */
  private async extend(signal: AbortSignal): Promise<Growth> {
    const graph = buildJobGraph(this.state, this.env);
    const added = graph.tasks.filter((task) => !this.dag.get(task.id));
    const { site, result } = this;
    if (!site) return { tasks: added, complete: graph.complete };
    recordOutputsOf(added, site.workDir, (id, output) => this.observer.records!.saveOutput(id, output));
    if (!site.resumeFrom || !result.resumed) return { tasks: added, complete: graph.complete };
    const reuse = await planReuse(added, site.resumeFrom, site.workDir, signal);
    for (const [id, output] of reuse.reused) this.observer.willSkip(id, output);
    for (const id of reuse.notNeeded) this.observer.willSkip(id, { notNeeded: true });
    result.resumed.reusedTasks.push(...reuse.reused.keys());
    return { tasks: added, complete: graph.complete, completed: reuse.completed };
  }

  /** The job and video rows, with what is known of the input so far. */
  private async startRecord(probe?: MediaProbe, plan?: JobPlan): Promise<void> {
    const { request, identified } = this;
    await this.observer.records?.start({
      video: {
        id: this.result.id,
        source: request.input,
        name: this.options.package.name,
        sha256: identified?.sha256 ?? '',
        sizeBytes: identified?.sizeBytes ?? 0,
        durationSeconds: plan?.durationSeconds ?? probe?.durationSeconds ?? 0,
        kind: plan?.kind ?? 'video',
        probe: probe?.raw ?? null,
        tags: { ...(probe ? (plan?.kind === 'audio' ? audioTags(probe) : probe.tags) : {}), ...(request.tags ?? {}) },
      },
      input: request.input,
      output: request.out,
      options: this.settings,
    });
  }

  /** Phase 3's end, the metadata node: the succeeded job's record, in one transaction. */
  private async recordSuccess(results: NodeResultsView): Promise<true> {
    const { options, state, result } = this;
    const published = results.get(node.publish);
    const done = succeededResult({ base: resultBase(options, state.source!, state.plan!, result.resumed), options, plan: state.plan!, results, chosen: published, files: published.files, timings: this.observer.finalTimings() });
    await this.observer.records!.complete(done, results.get(node.manifests), published);
    Object.assign(result, done);
    return true;
  }

  /** Phase 4 after a failure: the job's record says why, and the result is returned. */
  async failed(caught: unknown): Promise<TranscodeResult> {
    const { identified, result, request } = this;
    let error = toVidpipeError(caught);
    // A file replaced or cut while it was encoded fails in some stage (fewer frames than
    // expected, a decode error…): the change is the cause to report, not the input. (A download
    // does not change under the stages.)
    if (identified?.file && error.code !== 'INTERRUPTED' && error.code !== 'SOURCE_CHANGED') {
      error = await assertSourceUnchanged(identified.path, identified.file).then(() => error, (changed: unknown) => toVidpipeError(changed));
    }
    const interrupted = error.code === 'INTERRUPTED' || request.signal?.aborted === true;
    result.status = interrupted ? 'interrupted' : 'failed';
    result.error = { code: interrupted ? 'INTERRUPTED' : error.code, message: error.message, hint: error.hint, stderrTail: error.stderrTail };
    result.timings = this.observer.finalTimings();
    const records = this.observer.records;
    // An input that was identified is on record even when it could not be probed or planned.
    if (identified && !records?.isStarted) {
      try {
        await this.startRecord();
      } catch {
        // The original failure matters more than a failure to record it.
      }
    }
    await records?.fail(result);
    this.observer.emitFailed(request.input, error, result);
    return result;
  }

  /**
   * Phase 4, whatever happened: a failed or interrupted job keeps its work folder (a re-run
   * resumes from it) and only lets it go; a succeeded one removes it, and a queued one too (it
   * runs on workers with folders of their own). Downloads and copies go, the database closes.
   */
  async cleanUp(): Promise<void> {
    const { site, db, result } = this;
    if (site && (result.status === 'succeeded' || result.status === 'queued')) {
      await removeWorkDir(site.workDir).catch(() => undefined);
      if (db) await sweepFinishedWorkDirs(this.workRoot, db).catch(() => undefined);
    } else if (site) {
      await releaseWorkDir(site.workDir).catch(() => undefined);
    }
    for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
    // The task events' last writes (the metadata node's own row) are still queued.
    await this.observer.records?.settled().catch(() => undefined);
    await db?.close().catch(() => undefined);
  }
}
