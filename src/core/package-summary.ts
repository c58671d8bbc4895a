import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { PackageModel } from '../manifest/model.js';
import type { HlsSegments } from '../settings/job-settings.js';
import type { DagEvent } from './dag.js';
import type { TranscodeResult } from './result.js';

/**
 * `vidpipe.json` in a package root: the job's JSON result plus its task timeline, so a
 * package served or copied anywhere can show its report without the database it came from.
 */
export const PACKAGE_SUMMARY_FILE = 'vidpipe.json';
export const PACKAGE_SUMMARY_FORMAT = 'vidpipe-package/1';

export interface TimelineTask {
  id: string;
  kind: string;
  label: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  worker: string | null;
}

export interface PackageSummary {
  format: typeof PACKAGE_SUMMARY_FORMAT;
  name: string;
  source: string;
  /** Written before publishing: `status` is the package's (complete), timings cover the work up to here. */
  result: TranscodeResult;
  tasks: TimelineTask[];
  /** What the release holds, for a later job that adds or removes a track without re-encoding (vidpipe add-track); absent in packages of older versions. */
  contents?: ReleaseContents;
  writtenAt: string;
}

/**
 * A release as the manifests describe it: the measured model they were written from (so a later
 * job writes new manifests from a model, not by editing text), and every file but vidpipe.json.
 */
export interface ReleaseContents {
  model: PackageModel;
  /** Keys relative to the release folder, '/'-separated, with their sizes. */
  files: { key: string; bytes: number }[];
  /** Which HLS the release offers (master-ts.m3u8 with 'both'). */
  hlsSegments: HlsSegments;
}

/**
 * Collects start/end times of the DAG's tasks from the runner's events, the same events
 * that update the task rows, for a summary written before the final database transaction.
 */
export class TaskTimeline {
  private readonly tasks = new Map<string, TimelineTask>();
  private readonly worker: string;

  constructor(worker = `${hostname()}:${process.pid}`) {
    this.worker = worker;
  }

  declare(specs: { id: string; kind: string; label: string }[]): void {
    for (const { id, kind, label } of specs) {
      const known = this.tasks.get(id);
      if (known) Object.assign(known, { kind, label });
      else this.tasks.set(id, { id, kind, label, status: 'pending', startedAt: null, finishedAt: null, worker: null });
    }
  }

  observe(event: DagEvent): void {
    if (event.type === 'task-progress') return;
    if (event.type === 'tasks-added') return this.declare(event.tasks);
    const task = this.tasks.get(event.id) ?? { id: event.id, kind: event.id, label: event.id, status: 'pending', startedAt: null, finishedAt: null, worker: null };
    this.tasks.set(event.id, task);
    const at = new Date(event.at).toISOString();
    if (event.type === 'task-start') {
      Object.assign(task, { status: 'running', startedAt: at, finishedAt: null, worker: this.worker });
    } else {
      Object.assign(task, { status: event.type.slice('task-'.length), finishedAt: at });
    }
  }

  entries(): TimelineTask[] {
    return [...this.tasks.values()].map((t) => ({ ...t }));
  }
}

export async function writePackageSummary(packageDir: string, summary: Omit<PackageSummary, 'format' | 'writtenAt'>): Promise<void> {
  const full: PackageSummary = { format: PACKAGE_SUMMARY_FORMAT, ...summary, writtenAt: new Date().toISOString() };
  await writeFile(join(packageDir, PACKAGE_SUMMARY_FILE), `${JSON.stringify(full, null, 2)}\n`);
}

/** The package's summary, or undefined when it has none (or not one vidpipe can read). */
export async function readPackageSummary(packageDir: string): Promise<PackageSummary | undefined> {
  let text: string;
  try {
    text = await readFile(join(packageDir, PACKAGE_SUMMARY_FILE), 'utf8');
  } catch {
    return undefined;
  }
  return parsePackageSummary(text);
}

/** A vidpipe.json's text as a PackageSummary; undefined when it is not one (another format, not JSON). */
export function parsePackageSummary(text: string): PackageSummary | undefined {
  try {
    const parsed = JSON.parse(text) as PackageSummary;
    return parsed.format === PACKAGE_SUMMARY_FORMAT ? parsed : undefined;
  } catch {
    return undefined;
  }
}
