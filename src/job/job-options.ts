/**
 * What every machine running part of a job knows of it, and what the graph builder learns as the
 * job runs. Plain JSON: both travel in a queue flow's spec (src/queue/protocol.ts); what each node
 * that grows the graph teaches the state is in its row of NODE_KINDS (nodes.ts).
 */
import type { JobPlan } from '../core/plan.js';
import type { InspectedSource, SourceFile } from '../ffmpeg/source-file.js';
import { shareableSettings, type JobSettings } from '../settings/job-settings.js';
import type { PackageRequest } from '../storage/publish.js';
import type { TitleAnalysis } from '../ladder/analyse.js';

export interface JobOptions {
  jobId: string;
  /** The input as given (messages, the package's vidpipe.json). */
  input: string;
  /** Where packages go (--out). */
  out: string;
  settings: JobSettings;
  /** The package asked for; the publish node chooses the final name by the rule of storage/publish.ts. */
  package: PackageRequest;
}

/**
 * The copy of a job's options that may leave this process (a queue spec): its settings without
 * their secrets. A worker that needs a secret reads it from its own environment (withOwnSecrets).
 */
export function shareableJobOptions(options: JobOptions): JobOptions {
  return { ...options, settings: shareableSettings(options.settings) };
}

/** Where a job's files are on this machine, once it holds its work folder. */
export interface JobSite {
  /** Intermediate files (chunks, assembled renditions). */
  workDir: string;
  /** The package being built, published as it is. */
  packageDir: string;
}

/** What the job has learnt so far: each field is the result of a node that grows the graph. */
export interface GraphState {
  inspected?: InspectedSource;
  /** What the stages read: the input in place, or the prepare-source copy. */
  source?: SourceFile;
  /** With `--ladder auto`, the renditions are the analysis's choice (withRenditions). */
  plan?: JobPlan;
  site?: JobSite;
  /** `--ladder auto`: the analysis node's result. */
  ladder?: TitleAnalysis;
}

/** What the builder knew when a queue flow was sent: the state without this machine's folders. */
export type SentGraphState = Omit<GraphState, 'site'>;

/** The state a queue flow carries: ffprobe's raw JSON stays here (it is only for the metadata record). */
export function sentState(state: GraphState): SentGraphState {
  const withoutRaw = <T extends InspectedSource | SourceFile>(value: T | undefined): T | undefined => value && { ...value, probe: { ...value.probe, raw: null } };
  return { inspected: withoutRaw(state.inspected), source: withoutRaw(state.source), plan: state.plan, ladder: state.ladder };
}

/** The state on a queue worker: the one sent, reading the files as this worker downloaded them, in its own folders. */
export function receivedState(sent: SentGraphState, files: { input: string; source: string }, site: JobSite): GraphState {
  const { inspected, source, plan, ladder } = sent;
  return {
    ...(inspected ? { inspected: { ...inspected, path: files.input } } : {}),
    ...(source ? { source: { ...source, path: files.source } } : inspected && !inspected.copyReason ? { source: { path: files.source, probe: inspected.probe, notes: inspected.notes } } : {}),
    ...(plan ? { plan } : {}),
    ...(ladder ? { ladder } : {}),
    site,
  };
}
