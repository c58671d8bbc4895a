export interface SampleInput {
  output: string;
  durationSeconds: number;
  width: number;
  height: number;
  frameRate: number;
}

/**
 * A synthetic clip: moving test pattern with a frame counter, a little noise so the encoder
 * has real work, and a tone that changes pitch every second. Encoded with a long GOP and
 * scene cuts, like a typical upload (vidpipe must re-key it onto its own grid).
 */
export function buildSampleArgs(input: SampleInput): string[] {
  const { width, height, frameRate, durationSeconds } = input;
  return [
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${frameRate}:duration=${durationSeconds},noise=alls=8:allf=t`,
    '-f', 'lavfi', '-i', `sine=frequency=440:beep_factor=2:sample_rate=48000:duration=${durationSeconds}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-g', String(Math.round(frameRate * 5)),
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-metadata', 'title=vidpipe sample', '-movflags', '+faststart', '-shortest',
    input.output,
  ];
}
