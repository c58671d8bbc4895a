import { audioInputOf, buildLoudnessMeasureArgs, parseLoudnormReport, type GainPlan, type LoudnessMeasurement } from '../../ffmpeg/args/audio.js';
import { VidpipeError, tailLines } from '../../errors.js';
import { countDecodeErrors } from '../../ffmpeg/decode-errors.js';
import type { AudioRendition } from '../plan.js';
import type { StageContext } from '../stage.js';

/** The contract: no rendition's true peak above this (EBU R128 / AES TD1008 for lossy delivery). */
export const TRUE_PEAK_LIMIT_DBTP = -1;
/**
 * The ceilings the gain is planned against. Lossy coding adds inter-sample overshoot: about
 * 0.1–0.3 dB for AAC at 64–256 kb/s on tonal material, up to ~0.6 dB on limited, dense material.
 * Planning below -1 keeps the encoded output under it, mostly without the corrective re-encode
 * encode-audio does when it does not.
 */
export const PLANNING_CEILING_DBTP = -1.5;
export const LIMITER_CEILING_DBTP = -2;

export interface LoudnessInput {
  source: string;
  renditions: AudioRendition[];
  /** LUFS; undefined: measure only (the decode check and the "before" values still matter). */
  target?: number;
  durationSeconds: number;
  /**
   * Decoder errors per stream before the source is refused: 0 for audio-only jobs, the plan's
   * allowance for the audio of a video job (JobPlan.maxAudioDecodeErrors; undefined: any).
   */
  maxDecodeErrors: number | undefined;
}

/** What one source stream, converted to one channel layout, measured and what is done about it. */
export interface LoudnessSourcePlan {
  /** The `--audio-track` file the stream is in; absent: the source. */
  file?: string;
  streamIndex: number;
  channels: number;
  measured: LoudnessMeasurement;
  /** Absent: no normalisation (off, or silence with no loudness to normalise). */
  gain?: GainPlan;
}

export interface LoudnessAnalysis {
  target?: number;
  sources: LoudnessSourcePlan[];
}

function layoutKey(of: { file?: string; streamIndex: number; channels: number }): string {
  return `${of.file ?? ''}\u0000${of.streamIndex}/${of.channels}`;
}

/**
 * Linear gain when the measured true peak leaves room for it: the track keeps its dynamics and
 * only its level changes. Otherwise the same gain followed by a true-peak limiter at the ceiling.
 */
export function planGain(measured: LoudnessMeasurement, target: number): GainPlan | undefined {
  // Below the absolute gate (-70 LUFS) there is nothing BS.1770 can measure: digital silence.
  if (measured.integrated <= -70) return undefined;
  const gainDb = target - measured.integrated;
  if (measured.truePeak + gainDb <= PLANNING_CEILING_DBTP) return { mode: 'linear', gainDb };
  return { mode: 'limited', gainDb, ceilingDb: LIMITER_CEILING_DBTP };
}

export function gainFor(analysis: LoudnessAnalysis | undefined, rendition: AudioRendition): GainPlan | undefined {
  return analysis?.sources.find((s) => layoutKey(s) === layoutKey(rendition))?.gain;
}

/** Decoder complaints mean damaged frames: ffmpeg conceals them with silence and carries on. */
function decodeErrors(stderr: string): string[] {
  return stderr.split(/\r?\n/).filter((line) => /\[(error|fatal)\]/.test(line)).map((line) => line.replace(/^.*\[(error|fatal)\]\s*/, ''));
}

/**
 * Measures, in one pass per source stream and channel layout the renditions use, the EBU R128
 * integrated loudness, loudness range and true peak as the encoder will hear them (after the
 * same downmix), and plans each one's gain. The pass decodes every frame, so it is also where a
 * file with corrupt frames is rejected, before anything is encoded or published.
 */
export async function analyseLoudness(input: LoudnessInput, ctx: StageContext): Promise<LoudnessAnalysis> {
  const layouts = new Map<string, AudioRendition>();
  for (const rendition of input.renditions) layouts.set(layoutKey(rendition), rendition);
  const sources: LoudnessSourcePlan[] = [];
  let done = 0;
  for (const rendition of layouts.values()) {
    const { streamIndex, channels, file } = rendition;
    const path = audioInputOf(rendition, input.source);
    const args = buildLoudnessMeasureArgs({ input: path, streamIndex, channels });
    const { stderr } = await ctx.ffmpeg.run(args, {
      label: `loudness of stream ${streamIndex}`,
      durationSeconds: input.durationSeconds,
      span: [done / layouts.size, (done + 1) / layouts.size],
    }).catch((error: unknown) => {
      // ffmpeg gives up on the source itself: no decoder, or nothing decodable.
      if (error instanceof VidpipeError && error.code === 'FFMPEG_FAILED') {
        const reason = decodeErrors(error.stderrTail ?? '')[0] ?? tailLines(error.stderrTail, 1);
        throw new VidpipeError('INPUT_INVALID', `${path}: audio stream ${streamIndex} cannot be decoded: ${reason || 'ffmpeg failed'}`, { stderrTail: error.stderrTail });
      }
      throw error;
    });
    const errors = decodeErrors(stderr);
    // Damaged frames (each skipped frame's "Error while decoding"), and at least one for any complaint.
    const damaged = Math.max(countDecodeErrors(stderr).count, errors.length > 0 ? 1 : 0);
    if (input.maxDecodeErrors !== undefined && damaged > input.maxDecodeErrors) {
      throw new VidpipeError(
        'INPUT_INVALID',
        `${path}: audio stream ${streamIndex} has corrupt data (${damaged} damaged frame${damaged > 1 ? 's' : ''}${input.maxDecodeErrors > 0 ? `, more than the ${input.maxDecodeErrors} allowed` : ''}, first: ${errors[0]})`,
        {
          stderrTail: [...new Set(errors)].slice(0, 3).join('\n'),
          ...(input.maxDecodeErrors > 0 ? { hint: 'pass --allow-decode-errors to package it anyway, with silence where the frames were damaged' } : {}),
        },
      );
    }
    const measured = parseLoudnormReport(stderr);
    if (!measured) throw new VidpipeError('FFMPEG_FAILED', `loudness of stream ${streamIndex}: ffmpeg printed no loudnorm report`, { stderrTail: tailLines(stderr) });
    sources.push({ ...(file ? { file } : {}), streamIndex, channels, measured, gain: input.target === undefined ? undefined : planGain(measured, input.target) });
    done++;
  }
  ctx.onProgress(1);
  return { target: input.target, sources };
}

/** Measures an encoded rendition (its priming hidden by the edit list, as players hide it). */
export async function measureLoudness(path: string, ctx: StageContext, label: string): Promise<LoudnessMeasurement> {
  const { stderr } = await ctx.ffmpeg.run(buildLoudnessMeasureArgs({ input: path }), { label });
  const measured = parseLoudnormReport(stderr);
  if (!measured) throw new VidpipeError('FFMPEG_FAILED', `${label}: ffmpeg printed no loudnorm report`, { stderrTail: tailLines(stderr) });
  return measured;
}
