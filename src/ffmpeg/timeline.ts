/**
 * The input's real timeline, read from its packets in one demux pass (ffprobe -show_packets, no
 * decoding): where each stream's data starts and ends, in time and in bytes, and where its
 * timestamps jump. Containers state durations that can be missing (browser-recorded WebM),
 * estimated (MPEG-TS), measured from another origin (an MP4 whose edit list starts at 10 s) or
 * wrong (a cut-off upload); the packets are what the source holds.
 */
import { VidpipeError, tailLines } from '../errors.js';
import { buildPacketListArgs } from './args/inspect.js';
import { runCapture } from './run.js';

/** A decode timestamp going back by more than this restarts the timeline (files joined with `cat`). */
export const RESTART_SECONDS = 0.5;

export interface TimestampJump {
  /** Decode time before the jump, seconds. */
  fromSeconds: number;
  /** Decode time of the packet after it. */
  toSeconds: number;
  /** Byte offset of that packet (-1 when the demuxer does not say). */
  byte: number;
}

export interface StreamTimeline {
  index: number;
  packets: number;
  /** Key packets among the shown ones (those of keyTimes). */
  keyPackets: number;
  /** Earliest presentation time, seconds, on the file's own clock (before any shift to zero). */
  startSeconds: number;
  /** Latest presentation time plus that packet's duration. */
  endSeconds: number;
  /** Byte offsets of the first and last packet with a known position (-1: none). */
  firstByte: number;
  lastByte: number;
  /** Packets decoded only to reach the first shown picture (before an edit list's start), not presented. */
  discardedPackets: number;
  /** Packets with neither a presentation nor a decode time. */
  untimedPackets: number;
  /** Places where the decode time goes back by more than RESTART_SECONDS (a few are kept). */
  restarts: TimestampJump[];
  restartCount: number;
  /** The largest step forward between consecutive decode times. */
  largestGap?: TimestampJump;
  /**
   * Presentation times of its shown key packets (the points a seek lands on), in file order;
   * empty when none is shown (a cut whose only key frame is in the discarded head); absent when
   * every packet is one (audio, intra-only video): a seek costs nothing there.
   */
  keyTimes?: number[];
}

export interface InputTimeline {
  streams: Map<number, StreamTimeline>;
  /** The demuxer's complaints while reading (stderr of the pass). */
  stderr: string;
}

const KEPT_RESTARTS = 4;

interface Accumulator extends StreamTimeline {
  lastDts?: number;
  /** Whether any packet, shown or not, is not a key packet. */
  notAllKey: boolean;
}

/**
 * The fields asked of ffprobe, in the order its csv writer prints them (its own order, whatever
 * the order of -show_entries; the same in ffprobe 4 and 5, which adds a trailing comma).
 */
const PACKET_FIELDS = ['stream_index', 'pts_time', 'dts_time', 'duration_time', 'pos', 'flags'] as const;

function seconds(text: string | undefined): number | undefined {
  if (text === undefined || text === '' || text === 'N/A') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Folds ffprobe's `-show_entries packet=stream_index,pts_time,dts_time,duration_time,pos,flags
 * -of csv=p=0` lines (in file order) into one summary per stream.
 */
export function parsePacketLines(text: string): Map<number, StreamTimeline> {
  const streams = new Map<number, Accumulator>();
  let from = 0;
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to < 0) to = text.length;
    const line = text.slice(from, to).trim();
    from = to + 1;
    if (line === '') continue;
    const values = line.split(',');
    const packet = Object.fromEntries(PACKET_FIELDS.map((name, i) => [name, values[i]])) as Record<(typeof PACKET_FIELDS)[number], string | undefined>;
    const index = Number(packet.stream_index);
    if (!packet.stream_index || !Number.isInteger(index)) continue;
    let s = streams.get(index);
    if (!s) {
      s = { index, packets: 0, keyPackets: 0, startSeconds: Infinity, endSeconds: -Infinity, firstByte: -1, lastByte: -1, discardedPackets: 0, untimedPackets: 0, restarts: [], restartCount: 0, keyTimes: [], notAllKey: false };
      streams.set(index, s);
    }
    s.packets++;
    const key = packet.flags?.startsWith('K') === true;
    if (!key) s.notAllKey = true;
    const pos = Number(packet.pos);
    if (Number.isFinite(pos) && pos >= 0) {
      if (s.firstByte < 0) s.firstByte = pos;
      s.lastByte = pos;
    }
    const pts = seconds(packet.pts_time);
    const dts = seconds(packet.dts_time) ?? pts;
    if (pts === undefined && dts === undefined) {
      s.untimedPackets++;
      continue;
    }
    // An edit list that starts mid-GOP (a stream-copied cut) keeps the GOP's head so it can be
    // decoded; the demuxer flags those packets discard (ffprobe's second flag, D) and players,
    // like ffmpeg's decoders, never show them: the presentation starts after them.
    const presentation = pts ?? dts!;
    if (packet.flags?.[1] === 'D') {
      s.discardedPackets++;
    } else {
      if (key) {
        s.keyPackets++;
        s.keyTimes!.push(presentation);
      }
      s.startSeconds = Math.min(s.startSeconds, presentation);
      s.endSeconds = Math.max(s.endSeconds, presentation + (seconds(packet.duration_time) ?? 0));
    }
    if (dts !== undefined) {
      if (s.lastDts !== undefined) {
        const step = dts - s.lastDts;
        const jump = { fromSeconds: s.lastDts, toSeconds: dts, byte: Number.isFinite(pos) && pos >= 0 ? pos : -1 };
        if (step < -RESTART_SECONDS) {
          s.restartCount++;
          if (s.restarts.length < KEPT_RESTARTS) s.restarts.push(jump);
        } else if (step > 0 && step > (s.largestGap ? s.largestGap.toSeconds - s.largestGap.fromSeconds : 0)) {
          s.largestGap = jump;
        }
      }
      s.lastDts = dts;
    }
  }
  const out = new Map<number, StreamTimeline>();
  for (const [index, { lastDts: _unused, notAllKey, ...summary }] of streams) {
    if (summary.startSeconds === Infinity) summary.startSeconds = summary.endSeconds = 0;
    if (!notAllKey) delete summary.keyTimes;
    out.set(index, summary);
  }
  return out;
}

/** Generous but bounded: a sequential read of the file at no less than about 10 MB/s. */
function scanTimeoutMs(sizeBytes: number): number {
  return 120_000 + Math.ceil(sizeBytes / 10_000_000) * 1000;
}

/**
 * Reads every packet of the file once. Costs one sequential read of the file and no decoding
 * (about a second per 40 000 packets: 20 minutes of 30 fps video with its audio).
 */
export async function readTimeline(ffprobe: string, path: string, sizeBytes: number, signal?: AbortSignal): Promise<InputTimeline> {
  const { stdout, stderr, exitCode } = await runCapture(
    ffprobe,
    buildPacketListArgs(path, PACKET_FIELDS),
    { signal, label: 'read packets', timeoutMs: scanTimeoutMs(sizeBytes) },
  );
  const streams = parsePacketLines(stdout);
  if (exitCode !== 0 && streams.size === 0) {
    throw new VidpipeError('INPUT_INVALID', `${path} cannot be read: ${tailLines(stderr, 1) || 'ffprobe failed'}`, { stderrTail: tailLines(stderr) });
  }
  return { streams, stderr };
}
