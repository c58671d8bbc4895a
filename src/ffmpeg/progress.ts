/** One block of ffmpeg's `-progress` output, reduced to what a progress bar needs. */
export interface FfmpegProgress {
  /** Output time reached, in seconds. */
  outTimeSeconds: number;
  /** Encoding speed relative to real time (1 = real time); 0 when unknown. */
  speed: number;
  frame: number;
  done: boolean;
}

/**
 * Parses ffmpeg's `-progress pipe:1` key=value stream. ffmpeg writes a block of lines
 * ending with `progress=continue` or `progress=end`; `out_time_us` is preferred because
 * `out_time_ms` is, despite its name, also in microseconds.
 */
export class ProgressParser {
  private block = new Map<string, string>();

  /** Feeds one line; returns a progress record when the line closes a block. */
  push(line: string): FfmpegProgress | undefined {
    const eq = line.indexOf('=');
    if (eq <= 0) return undefined;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key !== 'progress') {
      this.block.set(key, value);
      return undefined;
    }
    const micro = Number(this.block.get('out_time_us') ?? this.block.get('out_time_ms'));
    const speed = Number.parseFloat((this.block.get('speed') ?? '').replace('x', ''));
    const frame = Number(this.block.get('frame'));
    this.block = new Map();
    return {
      outTimeSeconds: Number.isFinite(micro) && micro > 0 ? micro / 1e6 : 0,
      speed: Number.isFinite(speed) ? speed : 0,
      frame: Number.isFinite(frame) ? frame : 0,
      done: value === 'end',
    };
  }
}
