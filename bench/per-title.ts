/**
 * Per-title ladder bench (issue 15): on 1080p sources of three kinds, what `--ladder auto`
 * would give against the fixed ladder.
 *
 *   node dist/bench/per-title.js [--seconds 20] [--repeat 2] [--kinds slides,moving,noisy] [--dir DIR]
 *
 * For each source: the fixed ladder (buildLadder's table rates, VBR) and the chosen per-title
 * ladder (capped CRF, or VBR at the cap) are encoded the same way the transcode encodes
 * (encodeChunk over the plan's chunks, 2 at once, preset medium), and measured from the output:
 * total video bytes, rate and PSNR/SSIM of each rung. Time: analysis + auto encodes against the
 * fixed encodes (the rest of a job — audio, packaging — is the same in both and left out, so the
 * ratio here is the worst case of the job's). The post-encode rise rule is applied to both.
 * Prints one JSON line per run and a summary; sources and outputs stay in DIR (not committed).
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { probeFile } from '../src/ffmpeg/probe.js';
import { planJob, type JobPlan } from '../src/core/plan.js';
import type { Rendition } from '../src/core/ladder.js';
import { analyseTitle, runnerFromContext } from '../src/ladder/analyse.js';
import { planRise } from '../src/ladder/rise.js';
import { CONTENT_KINDS, makeContent, type ContentKind } from '../test/helpers/content.js';
import { encodeAndMeasure, stageContext, type EncodedRungResult } from '../test/helpers/encode-rungs.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const seconds = Number(arg('seconds', '20'));
const repeat = Number(arg('repeat', '1'));
const kinds = arg('kinds', CONTENT_KINDS.join(',')).split(',') as ContentKind[];
const dir = arg('dir', '/tmp/vidpipe-bench-per-title');
const concurrency = Math.min(2, availableParallelism());

function settingsFor() {
  return { codecs: ['h264' as const], preset: 'medium' as const, segmentDurationSeconds: 6, gopSeconds: 2, chunkSeconds: 0, concurrency, audioBitrateKbps: 128, audioOnly: false };
}

const sum = (list: EncodedRungResult[]) => list.reduce((a, r) => a + r.bytes, 0);
const rateOf = (r: EncodedRungResult[]) => r.map((x) => `${x.id.replace('h264-', '')}:${Math.round(x.kbps)}${x.quality ? `@${x.quality.psnr.toFixed(1)}` : ''}`).join(' ');

async function riseReencode(source: string, plan: JobPlan, ladder: Rendition[], encoded: EncodedRungResult[], work: string) {
  const actions = planRise(encoded.map((e) => ({ id: e.id, codec: 'h264', size: ladder.find((r) => r.id === e.id)!.size, measuredKbps: e.kbps })));
  const redo = actions.flatMap((a) => (a.action === 'reencode' ? [a] : []));
  const dropped = actions.filter((a) => a.action === 'drop').map((a) => a.id);
  if (redo.length === 0) return { actions: actions.filter((a) => a.action !== 'keep'), reencoded: [], dropped };
  const renditions = redo.map((a) => {
    const r = ladder.find((x) => x.id === a.id)!;
    return { ...r, crf: undefined, bitrateKbps: a.targetKbps, maxrateKbps: Math.round(a.targetKbps * 1.1), bufsizeKbps: a.targetKbps * 2 };
  });
  const result = await encodeAndMeasure(source, plan, renditions, work, { concurrency });
  return { actions: actions.filter((a) => a.action !== 'keep'), reencoded: result.renditions, dropped };
}

async function benchOne(kind: ContentKind, run: number) {
  const source = join(dir, `${kind}-1080-${seconds}s.mp4`);
  if (!(await stat(source).catch(() => undefined))) await makeContent(source, kind, { width: 1920, height: 1080, durationSeconds: seconds });
  const probe = await probeFile('ffprobe', source);
  const plan = planJob(probe, settingsFor());
  const video = plan.video!;
  const work = join(dir, `work-${kind}-${run}`);
  await rm(work, { recursive: true, force: true });
  const top = (list: EncodedRungResult[]) => list[0]!.id;

  const fixed = await encodeAndMeasure(source, plan, video.renditions, join(work, 'fixed'), { concurrency, measure: (id) => id === top(video.renditions.map((r) => ({ id: r.id }) as EncodedRungResult)) });

  const ctx = stageContext(work);
  const analysis = await analyseTitle(source, video, video.renditions, { metric: 'psnr', av1Encoder: 'libsvtav1', workDir: join(work, 'analysis'), parallel: concurrency }, runnerFromContext(ctx));
  const chosen = analysis.choice.rungs.map((r) => r.rendition);
  const auto = await encodeAndMeasure(source, plan, chosen, join(work, 'auto'), { concurrency });
  // The other rate control, for the choice of the final encode's mode: VBR at the predicted rate.
  // (Only the capped-CRF rungs differ; rungs at the cap are VBR either way.)
  const crfRungs = chosen.filter((r) => r.crf !== undefined);
  const vbr = await encodeAndMeasure(source, plan, crfRungs.map((r) => ({ ...r, crf: undefined, maxrateKbps: Math.round(r.bitrateKbps * 1.1), bufsizeKbps: r.bitrateKbps * 2 })), join(work, 'vbr'), { concurrency });
  const fixedRise = await riseReencode(source, plan, video.renditions, fixed.renditions, join(work, 'fixed-rise'));

  const result = {
    kind,
    run,
    seconds,
    fixed: { ladder: rateOf(fixed.renditions), bytes: sum(fixed.renditions), topPsnr: fixed.renditions[0]!.quality!.psnr, encodeSeconds: fixed.encodeSeconds, rise: fixedRise },
    auto: {
      ladder: rateOf(auto.renditions),
      bytes: sum(auto.renditions),
      topPsnr: auto.renditions[0]!.quality!.psnr,
      minPsnr: Math.min(...auto.renditions.map((r) => r.quality!.psnr)),
      analysisSeconds: analysis.seconds,
      encodeSeconds: auto.encodeSeconds,
      sampledFraction: analysis.sampledFraction,
      predicted: analysis.choice.rungs.map((r) => ({ id: r.rendition.id, mode: r.mode, crf: r.rendition.crf, kbps: r.predicted.kbps, psnr: r.predicted.psnr })),
      dropped: analysis.choice.dropped.map((d) => `${d.id}: ${d.reason}`),
      rise: planRise(auto.renditions.map((e) => ({ id: e.id, codec: 'h264', size: chosen.find((r) => r.id === e.id)!.size, measuredKbps: e.kbps }))).filter((a) => a.action !== 'keep'),
    },
    vbrAtPredicted: { ladder: rateOf(vbr.renditions), minPsnr: vbr.renditions.length ? Math.min(...vbr.renditions.map((r) => r.quality!.psnr)) : null },
    processSeconds: analysis.processSeconds,
    ratios: {
      bytes: Math.round((sum(auto.renditions) / sum(fixed.renditions)) * 1000) / 1000,
      time: Math.round(((analysis.seconds + auto.encodeSeconds) / fixed.encodeSeconds) * 100) / 100,
      topPsnrDelta: Math.round((auto.renditions[0]!.quality!.psnr - fixed.renditions[0]!.quality!.psnr) * 100) / 100,
    },
  };
  console.log(JSON.stringify(result));
  await rm(work, { recursive: true, force: true });
  return result;
}

await mkdir(dir, { recursive: true });
const all = [];
for (let run = 0; run < repeat; run++) for (const kind of kinds) all.push(await benchOne(kind, run));
for (const kind of kinds) {
  const runs = all.filter((r) => r.kind === kind);
  const range = (f: (r: (typeof runs)[number]) => number) => {
    const v = runs.map(f);
    return `${Math.min(...v)}–${Math.max(...v)}`;
  };
  console.log(`${kind}: bytes ${range((r) => r.ratios.bytes)}x fixed, time ${range((r) => r.ratios.time)}x, top PSNR auto ${range((r) => r.auto.topPsnr)} vs fixed ${range((r) => r.fixed.topPsnr)} dB, min rung ${range((r) => r.auto.minPsnr)} dB`);
}
