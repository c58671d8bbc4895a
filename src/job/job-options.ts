/**
 * What every machine running part of a job knows of it, and what the graph builder learns as the
 * job runs. Plain JSON: both travel in a queue flow's spec (src/queue/protocol.ts).
 */
import type { JobPlan } from '../core/plan.js';
import type { InspectedSource, SourceFile } from '../ffmpeg/integrity.js';
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
