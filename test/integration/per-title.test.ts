import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../helpers/media.js';
import { CONTENT_KINDS, makeContent, type ContentKind } from '../helpers/content.js';
import { encodeAndMeasure, stageContext, type EncodedRungResult } from '../helpers/encode-rungs.js';
import { probeFile } from '../../src/ffmpeg/probe.js';
import { planJob, type JobPlan } from '../../src/core/plan.js';
import { analyseTitleStage, type TitleAnalysis } from '../../src/ladder/analyse.js';

/**
 * The per-title method end to end on tiny sources of known, different complexity: analysis,
 * choice, then the chosen rungs encoded the way the transcode encodes (chunks, preset medium)
 * and measured from the output, not from the analysis.
 */
const RUNGS = [{ size: 360, kbps: 730 }, { size: 288, kbps: 500 }, { size: 234, kbps: 145 }];

interface Outcome {
  plan: JobPlan;
  analysis: TitleAnalysis;
  output: EncodedRungResult[];
}

let dir: string;
let cleanup: () => Promise<void>;
const outcomes = new Map<ContentKind, Outcome>();

before(async () => {
  ({ dir, cleanup } = await tempDir('vidpipe-per-title-'));
  // One source after the other: each analysis already runs two ffmpeg processes.
  for (const kind of CONTENT_KINDS) {
    const source = await makeContent(join(dir, `${kind}.mp4`), kind, { width: 640, height: 360, durationSeconds: 4 });
    const plan = planJob(await probeFile('ffprobe', source), {
      codecs: ['h264'], rungs: RUNGS, preset: 'medium', segmentDurationSeconds: 2, gopSeconds: 2, chunkSeconds: 2, concurrency: 2, audioBitrateKbps: 128, audioOnly: false,
    });
    const ctx = stageContext(join(dir, `work-${kind}`));
    const analysis = await analyseTitleStage({ source, video: plan.video!, candidates: plan.video!.renditions, settings: {}, parallel: 2 }, ctx);
    const { renditions } = await encodeAndMeasure(source, plan, analysis.choice.rungs.map((r) => r.rendition), join(dir, `encode-${kind}`));
    outcomes.set(kind, { plan, analysis, output: renditions });
  }
});

after(() => cleanup?.());

const get = (kind: ContentKind) => outcomes.get(kind)!;
const signature = (o: Outcome) => o.analysis.choice.rungs.map((r) => `${r.rendition.id}:${r.mode}:${r.rendition.crf ?? r.rendition.bitrateKbps}`).join(' ');

describe('per-title ladder on sources of different complexity', () => {
  it('probes the whole of a short title at every candidate size and each probe CRF', () => {
    const { analysis } = get('moving');
    assert.equal(analysis.sampledFraction, 1);
    assert.equal(analysis.probes.length, RUNGS.length * 2);
    for (const p of analysis.probes) assert.ok(p.kbps > 0 && p.psnr > 20 && p.ssim > 0.5 && p.displayPsnr <= p.psnr + 1e-9, JSON.stringify(p));
  });

  it('gives the three sources different ladders, spending more where the content needs more', () => {
    const [slides, moving, noisy] = CONTENT_KINDS.map(get);
    assert.equal(new Set([slides!, moving!, noisy!].map(signature)).size, 3, [slides!, moving!, noisy!].map(signature).join('\n'));
    const topRate = (o: Outcome) => o.analysis.choice.rungs[0]!.rendition.bitrateKbps;
    assert.ok(topRate(slides!) * 4 < topRate(moving!), `slides ${topRate(slides!)} vs moving ${topRate(moving!)}`);
    assert.ok(topRate(moving!) < topRate(noisy!), `moving ${topRate(moving!)} vs noisy ${topRate(noisy!)}`);
    // Slides need a fraction of the table; grain needs more than the table gives (capped, as the fixed ladder).
    assert.equal(slides!.analysis.choice.rungs[0]!.mode, 'crf');
    assert.ok(topRate(slides!) < RUNGS[0]!.kbps / 5);
    assert.equal(noisy!.analysis.choice.rungs[0]!.mode, 'cap');
    assert.equal(topRate(noisy!), RUNGS[0]!.kbps);
  });

  it('writes ladders whose rates rise with resolution, predicted and measured from the output', () => {
    for (const kind of CONTENT_KINDS) {
      const { analysis, output } = get(kind);
      const sizes = analysis.choice.rungs.map((r) => r.rendition.height);
      assert.deepEqual(sizes, [...sizes].sort((a, b) => b - a), kind);
      assert.ok(sizes.length >= 2, `${kind}: ${sizes.join(',')}`);
      for (let i = 1; i < output.length; i++) {
        assert.ok(analysis.choice.rungs[i - 1]!.rendition.bitrateKbps >= 1.5 * analysis.choice.rungs[i]!.rendition.bitrateKbps, `${kind} predicted`);
        assert.ok(output[i - 1]!.kbps > output[i]!.kbps, `${kind}: ${output.map((o) => `${o.id} ${o.kbps}`).join(', ')}`);
      }
    }
  });

  it('meets the quality target on every rung measured from the output (capped rungs: the cap holds)', () => {
    for (const kind of CONTENT_KINDS) {
      const { analysis, output } = get(kind);
      for (const [i, rung] of analysis.choice.rungs.entries()) {
        const measured = output[i]!;
        assert.equal(measured.id, rung.rendition.id);
        if (rung.mode === 'crf') {
          assert.ok(measured.quality!.psnr >= analysis.target, `${kind} ${rung.rendition.id}: ${measured.quality!.psnr} dB < ${analysis.target} (predicted ${rung.predicted.psnr})`);
        } else {
          assert.ok(rung.predicted.psnr < analysis.target, `${kind} ${rung.rendition.id} capped though predicted ${rung.predicted.psnr}`);
          assert.ok(measured.kbps <= rung.rendition.maxrateKbps, `${kind} ${rung.rendition.id}: ${measured.kbps} kb/s over the cap ${rung.rendition.maxrateKbps}`);
        }
      }
    }
  });
});
