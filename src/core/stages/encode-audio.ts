import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildAudioEncodeArgs, type GainPlan, type LoudnessMeasurement } from '../../ffmpeg/args/audio.js';
import { VidpipeError, tailLines } from '../../errors.js';
import { countDecodeErrors } from '../../ffmpeg/decode-errors.js';
import type { AudioRendition } from '../plan.js';
import type { StageContext } from '../stage.js';
import { measureLoudness, TRUE_PEAK_LIMIT_DBTP } from './loudness.js';

export interface EncodeAudioInput {
  source: string;
  rendition: AudioRendition;
  /** The presentation duration the audio must match exactly (video jobs). */
  fitToSeconds?: number;
  /** Duration used for progress. */
  durationSeconds: number;
  /** Loudness normalisation planned by the loudness stage; undefined leaves the level alone. */
  gain?: GainPlan;
  /** Measure the encoded output's loudness (whenever the loudness stage ran). */
  measureOutput?: boolean;
  /** The loudness target, LUFS, that corrections aim for. */
  target?: number;
  /** Damaged frames the decoder may report before the source is refused (JobPlan.maxAudioDecodeErrors); absent: any. */
  maxDecodeErrors?: number;
}

export interface EncodedAudio {
  renditionId: string;
  path: string;
  /** EBU R128 values of the encoded rendition, when measured. */
  loudness?: LoudnessMeasurement;
  /** The gain actually applied, after any correction for codec overshoot. */
  gain?: GainPlan;
  /** Source frames the decoder reported damaged (it skips them: the encoder hears silence there). */
  decodeErrors?: number;
}

/** Margin below the limit a corrected re-encode aims for: the encoder's overshoot varies a little between runs. */
const CORRECTION_MARGIN_DB = 0.3;
/** A limited rendition this far off its target gets its gain corrected (the limiter took loudness away). */
const LOUDNESS_TOLERANCE_LU = 0.5;
/** Encodes at most: the first, then corrections. */
const MAX_ENCODES = 4;

/** One encode's gain and the loudness it gave. */
export interface GainAttempt {
  gain: GainPlan;
  measured: LoudnessMeasurement;
}

/**
 * The next gain when the encoded output missed: lossy coding adds inter-sample overshoot, so a
 * true peak over the limit lowers the gain (linear) or the limiter's ceiling (limited). Behind a
 * limiter more gain buys less loudness, so a loudness shortfall is corrected along the slope the
 * two latest attempts show (1 LU per dB for the first correction). `final`: the last encode
 * allowed, which only fixes the true peak, so the limit holds whatever the loudness.
 */
export function correctGain(attempts: GainAttempt[], target: number | undefined, final = false): GainPlan | undefined {
  const latest = attempts[attempts.length - 1]!;
  const { gain, measured } = latest;
  const overshoot = measured.truePeak - TRUE_PEAK_LIMIT_DBTP;
  if (gain.mode === 'linear') {
    return overshoot > 0 ? { ...gain, gainDb: gain.gainDb - overshoot - CORRECTION_MARGIN_DB } : undefined;
  }
  const shortfall = target === undefined || final ? 0 : target - measured.integrated;
  const fixLoudness = Math.abs(shortfall) > LOUDNESS_TOLERANCE_LU;
  if (overshoot <= 0 && !fixLoudness) return undefined;
  const previous = attempts[attempts.length - 2];
  const rise = previous ? measured.integrated - previous.measured.integrated : 0;
  const run = previous ? gain.gainDb - previous.gain.gainDb : 0;
  // Clamp the slope: a limiter never gives more than the gain, and a flat slope must not explode.
  const slope = previous && Math.abs(run) > 0.01 ? Math.min(1, Math.max(0.2, rise / run)) : 1;
  return {
    ...gain,
    gainDb: gain.gainDb + (fixLoudness ? shortfall / slope : 0),
    ceilingDb: overshoot > 0 ? gain.ceilingDb - overshoot - CORRECTION_MARGIN_DB : gain.ceilingDb,
  };
}

/**
 * Encodes one audio rendition for the whole timeline in one pass, refusing a source whose decoder
 * reports more damaged frames than the plan allows. With the loudness stage, the output is
 * measured, and re-encoded with a corrected gain when it missed the true-peak limit or (behind
 * the limiter) the loudness target, so the limits hold for every rendition.
 */
export async function encodeAudio(input: EncodeAudioInput, ctx: StageContext): Promise<EncodedAudio> {
  const dir = join(ctx.workDir, 'audio');
  await mkdir(dir, { recursive: true });
  const output = join(dir, `${input.rendition.id}.mp4`);
  const encode = (gain: GainPlan | undefined) =>
    ctx.ffmpeg.run(buildAudioEncodeArgs({ source: input.source, rendition: input.rendition, fitToSeconds: input.fitToSeconds, gain, output }), {
      label: `encode audio ${input.rendition.id}`,
      durationSeconds: input.durationSeconds,
      // Done once the output is measured too.
      span: [0, 0.99],
    });

  let gain = input.gain;
  const { stderr } = await encode(gain);
  const damaged = countDecodeErrors(stderr);
  if (input.maxDecodeErrors !== undefined && damaged.count > input.maxDecodeErrors) {
    throw new VidpipeError(
      'INPUT_INVALID',
      `${input.rendition.file ? `--audio-track ${input.rendition.file}: ` : ''}audio stream ${input.rendition.streamIndex} has corrupt data: the decoder reported ${damaged.count} damaged frames (more than the ${input.maxDecodeErrors} allowed for ${input.durationSeconds.toFixed(1)} s)${damaged.first ? `, first: ${damaged.first}` : ''}`,
      { hint: 'pass --allow-decode-errors to package it anyway, with silence where the frames were damaged', stderrTail: tailLines(stderr, 3) },
    );
  }
  const decodeErrors = damaged.count > 0 ? { decodeErrors: damaged.count } : {};
  if (!input.measureOutput) return { renditionId: input.rendition.id, path: output, ...decodeErrors };
  let loudness = await measureLoudness(output, ctx, `loudness of ${input.rendition.id}`);
  const attempts: GainAttempt[] = [];
  for (let encodes = 1; gain && encodes < MAX_ENCODES; encodes++) {
    attempts.push({ gain, measured: loudness });
    const corrected = correctGain(attempts, input.target, encodes === MAX_ENCODES - 1);
    if (!corrected) break;
    gain = corrected;
    await encode(gain);
    loudness = await measureLoudness(output, ctx, `loudness of ${input.rendition.id}`);
  }
  ctx.onProgress(1);
  return { renditionId: input.rendition.id, path: output, loudness, gain, ...decodeErrors };
}
