import type { VideoCodec } from '../settings/job-settings.js';

/**
 * After the encodes, for fixed and auto ladders alike: every ladder must rise with resolution.
 * VBR on easy content undershoots by a different amount at each size (an 18 s slide deck: the
 * 1080p rung measured 291 kb/s, the 720p rung 543), and a player that sees the lower rung at the
 * higher rate settles on it. This rule says, from the measured rates, what to do with each rung.
 */
export interface EncodedRung {
  id: string;
  codec: VideoCodec;
  /** Short-side size class. */
  size: number;
  /** Average rate measured on the encoded rung (segments' bytes over duration), kb/s. */
  measuredKbps: number;
}

export type RiseAction =
  | { id: string; action: 'keep' }
  /** Encode again as VBR with this average and a cap of 1.1× it. */
  | { id: string; action: 'reencode'; targetKbps: number; reason: string }
  | { id: string; action: 'drop'; reason: string };

export interface RiseOptions {
  /** A rung must measure at most 1 / minSpacing of the rung above it. */
  minSpacing: number;
  /** Below this target a re-encode is pointless (the picture would fall apart): drop instead. */
  minKbps: number;
  /** Rungs already re-encoded once (their second measure still too high): drop them now. */
  reencoded?: ReadonlySet<string>;
}

/**
 * 1.2: a lower rung must measure at least ~17 % under the rung above. Closer than that, a player's
 * switch down saves next to nothing, and Apple's ±10 % measuring tolerance can swap the two.
 * (The per-title choice spaces its rungs 1.5x; after the encodes this only guards the order.)
 */
export const DEFAULT_RISE: RiseOptions = { minSpacing: 1.2, minKbps: 64 };

/**
 * Per codec, from the biggest size down: a rung measuring more than (the kept rung above) /
 * minSpacing is re-encoded at that limit — it still serves viewers between the two rates, and on
 * content easy enough to undershoot, the lower rate costs it little quality — unless the limit
 * is under minKbps or the rung was already re-encoded once, in which case it is dropped. The top
 * rung of each codec is always kept: it is the quality ceiling the ladder was made for.
 */
export function planRise(rungs: EncodedRung[], options: RiseOptions = DEFAULT_RISE): RiseAction[] {
  const actions = new Map<string, RiseAction>();
  for (const codec of [...new Set(rungs.map((r) => r.codec))]) {
    const ordered = rungs.filter((r) => r.codec === codec).sort((a, b) => b.size - a.size || b.measuredKbps - a.measuredKbps);
    let ceiling = Infinity;
    let above: EncodedRung | undefined;
    for (const rung of ordered) {
      if (rung.measuredKbps <= ceiling) {
        actions.set(rung.id, { id: rung.id, action: 'keep' });
        ceiling = rung.measuredKbps / options.minSpacing;
        above = rung;
        continue;
      }
      const why = `measured ${Math.round(rung.measuredKbps)} kb/s, more than ${above!.id}'s ${Math.round(above!.measuredKbps)} / ${options.minSpacing}`;
      if (ceiling < options.minKbps || options.reencoded?.has(rung.id)) {
        actions.set(rung.id, { id: rung.id, action: 'drop', reason: `${why}${ceiling < options.minKbps ? `, and ${Math.round(ceiling)} kb/s is under ${options.minKbps}` : ', again after a re-encode'}` });
        continue;
      }
      const target = Math.floor(ceiling);
      actions.set(rung.id, { id: rung.id, action: 'reencode', targetKbps: target, reason: `${why}: re-encode at ${target} kb/s` });
      // The re-encoded rung will measure at most about its target: the rungs below space from that.
      ceiling = target / options.minSpacing;
      above = { ...rung, measuredKbps: target };
    }
  }
  return rungs.map((r) => actions.get(r.id)!);
}
