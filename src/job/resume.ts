/**
 * Crash-safe resume. A job's intermediate files live in a work folder named after everything
 * that determines them (the resume key), so a re-run of the same input with the same options
 * to the same destination lands in the same folder. Each finished task's output is recorded in
 * the task's `output` JSON (the stage's result with work-relative paths, and every file's size
 * and SHA-256) before the task counts as succeeded; a re-run after a crash, a failure or kill -9
 * reuses a task only when all its recorded files are still there with those checksums.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { DagTask } from '../core/dag.js';
import { sha256File } from '../core/ids.js';
import { REMOVING_SUFFIX, claimWorkDir, removeWorkDir } from '../core/work-lock.js';
import type { JobPlan } from '../core/plan.js';
import type { ProtectionKeys } from '../protection/model.js';
import { secretSettings, shareableSettings, type JobSettings } from '../settings/job-settings.js';
import { kindSpec } from './nodes.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { TaskRecord } from '../db/records.js';
import { failedLater } from './webhook-events.js';

/** Bumped when a stage's result shape or file layout changes: older work folders are then not reused. */
const RESUME_FORMAT = 1;

/** Tasks whose files are kept and reused (NODE_KINDS' `resumable`); the others (manifests, publish, metadata) are cheap and always re-run. */
const isResumable = (task: DagTask) => kindSpec(task.kind).resumable;

/**
 * Part of the key: another vidpipe version may plan the same command differently, so its folders
 * are never reused; discardStaleWorkDirs removes them once their process is gone.
 */
const VIDPIPE_VERSION = (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
/** Written into each work folder when a job takes it: which vidpipe made the files in it. */
const WORK_STAMP = 'vidpipe.work.json';

const KEY_PATTERN = /^r[0-9a-f]{24}$/;
const REMOVING_PATTERN = new RegExp(`^r[0-9a-f]{24}${REMOVING_SUFFIX.replace('.', '\\.')}[0-9a-f]{8}$`);

export interface ResumeKeyInput {
  sha256: string;
  settings: JobSettings;
  plan: JobPlan;
  ffmpeg: string;
  /** Where the package goes (local path or s3:// URI of the package root). */
  destination: string;
  /**
   * The keys an encrypted job was given, as read from their source (`--key`, a key file, a CPIX
   * document): a key file or a document may change between runs while the settings that name
   * them do not, and segments encrypted under the old keys must not be reused.
   */
  keys?: ProtectionKeys;
}

/**
 * Everything that changes a byte of the intermediate files. Concurrency is left out: it only
 * matters through the chunk layout, which is part of the plan; so are the stall timeout, the
 * source's quiet time and --metrics, which change no file an earlier run could have left.
 * Secret settings (a content key) count only through a salted hash: files encrypted under
 * another key are never reused, and the key itself is in no folder name or record. So do the
 * keys read from a key file or a CPIX document.
 */
export function resumeKeyFor(input: ResumeKeyInput): string {
  const { concurrency: _concurrency, stallTimeoutSeconds: _stall, sourceQuietSeconds: _quiet, metrics: _metrics, webhooks: _webhooks, ...settings } = shareableSettings(input.settings);
  // Webhooks change nothing in the output: a re-run with other receivers still resumes.
  const { webhookSecret: _webhookSecret, ...outputSecrets } = secretSettings(input.settings);
  const secrets = { ...outputSecrets, ...(input.keys ? { keys: input.keys } : {}) };
  const identity = JSON.stringify({
    ...(Object.keys(secrets).length > 0 ? { secrets: createHash('sha256').update(`vidpipe resume secrets\0${JSON.stringify(secrets)}`).digest('hex') } : {}),
    format: RESUME_FORMAT,
    vidpipe: VIDPIPE_VERSION,
    sha256: input.sha256,
    settings,
    plan: input.plan,
    ffmpeg: input.ffmpeg,
    destination: input.destination,
  });
  return `r${createHash('sha256').update(identity).digest('hex').slice(0, 24)}`;
}

export interface RecordedFile {
  /** Relative to the work folder, '/'-separated. */
  path: string;
  bytes: number;
  sha256: string;
}

/** What a resumable task stores in its `output` column. */
export interface RecordedOutput {
  format: number;
  /** The stage's result, with paths inside the work folder as {"$work": "<relative path>"}. */
  result: unknown;
  files: RecordedFile[];
  /** Set on a task that was not run because an earlier job's output was reused. */
  reusedFrom?: string;
}

function toWorkRelative(workDir: string, path: string): string | undefined {
  if (!isAbsolute(path)) return undefined;
  const rel = relative(workDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
  return rel.split(sep).join('/');
}

/** Hashes the files a stage result points at and returns what to store for it. */
export async function recordOutput(result: unknown, workDir: string, signal?: AbortSignal): Promise<RecordedOutput> {
  const paths = new Set<string>();
  const encoded = JSON.parse(
    JSON.stringify(result ?? null, (_key, value: unknown) => {
      if (typeof value !== 'string') return value;
      const rel = toWorkRelative(workDir, value);
      if (rel === undefined) return value;
      paths.add(rel);
      return { $work: rel };
    }),
  ) as unknown;
  const files: RecordedFile[] = [];
  for (const rel of [...paths].sort()) {
    const absolute = join(workDir, ...rel.split('/'));
    const info = await stat(absolute);
    // Folders named in a result (a track's output folder) are covered by the files listed in it.
    if (!info.isFile()) continue;
    files.push({ path: rel, bytes: info.size, sha256: await sha256File(absolute, signal) });
  }
  return { format: RESUME_FORMAT, result: encoded, files };
}

function isRecordedOutput(value: unknown): value is RecordedOutput {
  const v = value as RecordedOutput | null;
  return typeof v === 'object' && v !== null && v.format === RESUME_FORMAT && Array.isArray(v.files) && v.files.length > 0;
}

function restoreResult(encoded: unknown, workDir: string): unknown {
  return JSON.parse(JSON.stringify(encoded), (_key, value: unknown) => {
    const marker = value as { $work?: unknown } | null;
    if (typeof marker === 'object' && marker !== null && typeof marker.$work === 'string' && Object.keys(marker).length === 1) {
      return join(workDir, ...marker.$work.split('/'));
    }
    return value;
  });
}

/** True when every recorded file is inside the work folder, has its recorded size and SHA-256. */
async function filesIntact(files: RecordedFile[], workDir: string, signal?: AbortSignal): Promise<boolean> {
  for (const file of files) {
    if (file.path.split('/').includes('..') || isAbsolute(file.path)) return false;
    const absolute = join(workDir, ...file.path.split('/'));
    const info = await stat(absolute).catch(() => undefined);
    if (!info?.isFile() || info.size !== file.bytes) return false;
    if ((await sha256File(absolute, signal)) !== file.sha256) return false;
  }
  return true;
}

export interface ReusePlan {
  /** Node id → result, for runDag's `completed`: reused outputs, and undefined for nodes nobody needs. */
  completed: Map<string, unknown>;
  /** Node id → what to store for it (its verified output, marked reusedFrom). */
  reused: Map<string, RecordedOutput>;
  /** Nodes neither reused nor needed: every node that depends on them is reused. */
  notNeeded: string[];
}

/**
 * Verifies the outputs an earlier job recorded and decides what this run can skip, among
 * `tasks` (the nodes a graph just gained: their dependencies outside the list are done). A
 * resumable node runs when it has no intact output and something that runs needs it; every
 * other node runs. So a missing chunk whose renditions were already assembled is not encoded again.
 */
export async function planReuse(tasks: readonly DagTask[], previousTasks: TaskRecord[], workDir: string, signal?: AbortSignal): Promise<ReusePlan> {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const intact = new Map<string, RecordedOutput>();
  // Newest record first; an older one of the same task is only tried when the newer does not verify.
  for (const task of previousTasks) {
    const spec = byId.get(task.id);
    if (intact.has(task.id) || !spec || !isResumable(spec) || !isRecordedOutput(task.output)) continue;
    if (await filesIntact(task.output.files, workDir, signal)) {
      intact.set(task.id, { format: task.output.format, result: task.output.result, files: task.output.files, reusedFrom: task.output.reusedFrom ?? task.jobId });
    }
  }

  const order = inDependencyOrder(tasks);
  const dependents = new Map<string, string[]>(order.map((t) => [t.id, []]));
  for (const task of order) for (const dependency of task.dependsOn) dependents.get(dependency)?.push(task.id);
  const runs = new Set<string>();
  const plan: ReusePlan = { completed: new Map(), reused: new Map(), notNeeded: [] };
  for (const task of [...order].reverse()) {
    const users = dependents.get(task.id)!;
    // Other nodes' results may be read beyond their dependents (metadata reads loudness, metrics…): they always run.
    const needed = !isResumable(task) || users.length === 0 || users.some((user) => runs.has(user));
    const output = intact.get(task.id);
    if (output) {
      plan.reused.set(task.id, output);
      plan.completed.set(task.id, restoreResult(output.result, workDir));
    } else if (needed) {
      runs.add(task.id);
    } else {
      plan.notNeeded.push(task.id);
      plan.completed.set(task.id, undefined);
    }
  }
  return plan;
}

/** The tasks with each after the ones it depends on (dependencies outside the list are done already). */
function inDependencyOrder(tasks: readonly DagTask[]): DagTask[] {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const done = new Set<string>();
  const order: DagTask[] = [];
  const visit = (task: DagTask) => {
    if (done.has(task.id)) return;
    done.add(task.id);
    for (const dependency of task.dependsOn) {
      const target = byId.get(dependency);
      if (target) visit(target);
    }
    order.push(task);
  };
  tasks.forEach(visit);
  return order;
}

/**
 * Makes every resumable node record its output before it counts as succeeded: files first,
 * then their checksums in the same row update that marks the task succeeded, so after a kill
 * at any moment a task marked with an output has complete files.
 */
export function recordOutputsOf(tasks: readonly DagTask[], workDir: string, save: (taskId: string, output: RecordedOutput) => Promise<void>): void {
  for (const task of tasks) {
    if (!isResumable(task)) continue;
    const run = task.run;
    task.run = async (results, signal) => {
      const result = await run(results, signal);
      await save(task.id, await recordOutput(result, workDir, signal));
      return result;
    };
  }
}

/**
 * Removes work folders below `workRoot` whose job has since succeeded (e.g. a run killed after
 * publishing, then re-run with --force or other options) and that no live process holds.
 * Folders this database knows nothing about may belong to another database: they stay.
 */
export async function sweepFinishedWorkDirs(workRoot: string, db: MetadataStore): Promise<string[]> {
  const removed: string[] = [];
  const entries = await readdir(workRoot, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = join(workRoot, entry.name);
    // Left by a process that died while deleting it.
    if (REMOVING_PATTERN.test(entry.name)) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (!KEY_PATTERN.test(entry.name)) continue;
    if ((await db.jobsByResumeKey(entry.name))?.jobs[0]?.status !== 'succeeded') continue;
    // Held while it is deleted, so a run of the same job starting now cannot lose its folder.
    const claimed = await claimWorkDir(dir, false).then(() => true, () => false);
    if (!claimed) continue;
    await removeWorkDir(dir);
    removed.push(dir);
  }
  return removed;
}

/** Marks a work folder this job holds as made by this vidpipe (see discardStaleWorkDirs). */
export async function stampWorkDir(workDir: string): Promise<void> {
  await writeFile(join(workDir, WORK_STAMP), JSON.stringify({ vidpipe: VIDPIPE_VERSION, format: RESUME_FORMAT }));
}

/** The version that stamped a work folder; undefined for a folder of a vidpipe before the stamp. */
async function stampedVersion(workDir: string): Promise<string | undefined> {
  try {
    const stamp = JSON.parse(await readFile(join(workDir, WORK_STAMP), 'utf8')) as { vidpipe?: unknown };
    return typeof stamp.vidpipe === 'string' ? stamp.vidpipe : undefined;
  } catch {
    return undefined;
  }
}

export interface DiscardedWorkDir {
  path: string;
  /** The vidpipe version that made it, when it said. */
  madeBy?: string;
}

/**
 * Removes the work folders below `workRoot` that another vidpipe version left (a run killed
 * mid-job, then the same command run again after an upgrade): the resume key holds the version,
 * so no run of this version can reuse them, and nothing else would ever remove them. Only
 * folders vidpipe made (a key name and its lock inside), without this version's stamp, and that
 * no live process holds (claiming one fails while its owner runs; a dead owner's lock is taken
 * over) are removed; their unfinished jobs in `db` are marked interrupted.
 */
export async function discardStaleWorkDirs(workRoot: string, db: MetadataStore, byJob: string): Promise<DiscardedWorkDir[]> {
  const discarded: DiscardedWorkDir[] = [];
  const entries = await readdir(workRoot, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || !KEY_PATTERN.test(entry.name)) continue;
    const dir = join(workRoot, entry.name);
    const names = await readdir(dir).catch(() => [] as string[]);
    if (!names.some((name) => name.startsWith('vidpipe.lock'))) continue;
    const madeBy = await stampedVersion(dir);
    if (madeBy === VIDPIPE_VERSION) continue;
    const claimed = await claimWorkDir(dir, false).then(() => true, () => false);
    if (!claimed) continue;
    await removeWorkDir(dir);
    discarded.push({ path: dir, ...(madeBy ? { madeBy } : {}) });
    for (const job of (await db.jobsByResumeKey(entry.name))?.jobs ?? []) {
      if (job.status !== 'running') continue;
      await db.failJob(job.id, failedLater(job, { status: 'interrupted', code: 'INTERRUPTED', message: `the process stopped without finishing (killed?); its work folder, made by ${madeBy ? `vidpipe ${madeBy}` : 'an earlier vidpipe'}, was discarded by job ${byJob}` }));
    }
  }
  return discarded;
}
