/**
 * A section of `npm run bench` that lives in its own module (the per-title bench of issue 15,
 * for one): bench.ts runs it after its own sections, prints its lines, adds its checks to the
 * targets and its figures to the JSON. To add one: write a function of this shape and name it
 * in PLUGGED_SECTIONS below; `--only <name>` picks it like any section.
 */
import type { TargetCheck } from './report.js';
import { addTrackSection } from './add-track.js';
import type { ExecLog } from './exec-log.js';
import { encryptionSection } from './encryption.js';
import { perTitleBench } from './per-title.js';

export interface SectionContext {
  /** A folder of the bench's work folder for this section (removed afterwards unless --keep). */
  work: string;
  /** Where sources are kept between bench runs (~/.cache/vidpipe/bench). */
  cacheDir: string;
  /** `--quick`: the short variant (small sources, one round). */
  quick: boolean;
  rounds: number;
  preset: string;
  /** bin/vidpipe of this checkout. */
  vidpipe: string;
  /** `--compare`: another built checkout, whose vidpipe the section may run beside this one. */
  compare?: string;
  /** Records every ffmpeg/ffprobe child's CPU (undefined without a C compiler). */
  execLog?: ExecLog;
}

export interface SectionResult {
  /** Printed under the section's heading (already formatted). */
  lines: string[];
  /** Each figure of the issue beside its target (report.ts check()). */
  checks: TargetCheck[];
  /** Everything measured, kept in the JSON under sections.<name>. */
  figures: unknown;
}

export interface PluggedSection {
  name: string;
  /** The heading, e.g. "per-title ladder on 1080p slides, moving and noisy sources". */
  title: string;
  run(context: SectionContext): Promise<SectionResult>;
}

/** Sections other modules provide, in the order they run. */
export const PLUGGED_SECTIONS: PluggedSection[] = [
  {
    name: 'per-title',
    title: 'per-title ladder (--ladder auto) against the fixed ladder, 1080p slides, moving and noisy sources, presets veryfast and medium (the default)',
    async run(context) {
      const { lines, checks, runs } = await perTitleBench({
        dir: context.work,
        seconds: context.quick ? 8 : 20,
        presets: context.quick ? ['veryfast'] : ['veryfast', 'medium'],
        ...(context.quick ? {} : { longSeconds: 120 }),
        rounds: context.rounds,
        ...(context.compare ? { compare: context.compare } : {}),
        ...(context.execLog ? { execLog: context.execLog } : {}),
      });
      return { lines, checks, figures: { checks, runs } };
    },
  },
  {
    name: 'encryption',
    title: 'what --encrypt cbcs adds to the 20 s 1080p job (clear and cbcs alternating)',
    run: encryptionSection,
  },
  {
    name: 'add-track',
    title: 'vidpipe add-track of one audio track to the 20 s 1080p package, against that package\'s transcode',
    run: addTrackSection,
  },
];
