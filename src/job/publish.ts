/**
 * The publish node, the same code in a local run and on a queue worker: the protocol itself is
 * storage/publish.ts (one implementation above ObjectStore); this chooses the release, writes the
 * package's own report (vidpipe.json) once the name is final, and hashes what is sent.
 */
import type { JobPlan } from '../core/plan.js';
import { hashTree } from '../core/ids.js';
import type { SourceFile } from '../ffmpeg/source-file.js';
import { PACKAGE_SUMMARY_FILE, writePackageSummary, type TimelineTask } from '../core/package-summary.js';
import { listPackageFiles } from '../storage/package-files.js';
import { publishRelease, type ChosenPackage, type PublishTarget } from '../storage/publish.js';
import { parseLocation, type StorageConfig } from '../storage/index.js';
import type { JobOptions } from './job-options.js';
import { node, type NodeResultsView, type PublishOutput } from './nodes.js';
import { sourceSummary, succeededResult, type ResultBase } from './summary.js';

/** What publishing needs from the machine that does it. */
export interface PublishEnvironment {
  /** Each backend's settings, as this machine resolved them. */
  storage?: StorageConfig;
  /**
   * Runs before anything is sent and again right before the package goes live: a local run
   * checks that its input is still the version it hashed (core/source-identity.ts).
   */
  beforePublish?: (signal: AbortSignal) => Promise<void>;
  /** The task timeline for vidpipe.json, and the timings so far (what the submitting machine saw). */
  report?: () => { tasks: TimelineTask[]; timings: Record<string, number>; resumed?: ResultBase['resumed'] };
}

export interface PublishInput {
  options: JobOptions;
  source: SourceFile;
  plan: JobPlan;
  packageDir: string;
  results: NodeResultsView;
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
  beforeGoLive?: () => Promise<void>,
): Promise<PublishOutput> {
  let hashes: Record<string, string> = {};
  const published = await publishRelease(target, packageDir, {
    signal,
    beforeGoLive,
    beforeTransfer: async (chosen) => {
      await prepare?.(chosen);
      hashes = Object.fromEntries(await hashTree(packageDir, signal));
    },
  });
  return { ...published, hashes };
}

/** The base of a job's result from what every machine knows of it. */
export function resultBase(options: JobOptions, source: SourceFile, plan: JobPlan, resumed?: ResultBase['resumed']): ResultBase {
  const summary = sourceSummary(source);
  return { id: options.package.video.id, jobId: options.jobId, input: options.input, kind: plan.kind, ...(summary ? { source: summary } : {}), ...(resumed ? { resumed } : {}) };
}

/** The publish node's work. */
export async function publishJob(input: PublishInput, env: PublishEnvironment, signal: AbortSignal): Promise<PublishOutput> {
  const { options, plan, packageDir } = input;
  // Nothing is published from a source that changed under the encoders, nor an older version
  // after a newer one (whose job may publish first): checked before sending and before going live.
  const checkSource = async (): Promise<void> => env.beforePublish?.(signal);
  await checkSource();
  const target: PublishTarget = { location: parseLocation(options.out), request: options.package, release: options.jobId, storage: env.storage };
  return publishPackage(target, packageDir, signal, async (chosen) => {
    const report = env.report?.();
    const files = await listPackageFiles(packageDir);
    const manifests = input.results.find(node.manifests);
    // The package carries its own report (vidpipe.json) so `vidpipe serve` needs no database,
    // and its contents, so `vidpipe add-track` can add a track to it without re-encoding.
    await writePackageSummary(packageDir, {
      name: options.package.name,
      source: options.input,
      tasks: report?.tasks ?? [],
      result: succeededResult({
        base: resultBase(options, input.source, plan, report?.resumed),
        options,
        plan,
        results: input.results,
        chosen,
        files,
        timings: report?.timings ?? {},
      }),
      ...(manifests
        ? { contents: { model: manifests.model, files: files.filter((file) => file.key !== PACKAGE_SUMMARY_FILE).map(({ key, bytes }) => ({ key, bytes })), hlsSegments: plan.hlsSegments ?? 'fmp4' } }
        : {}),
    });
  }, checkSource);
}
