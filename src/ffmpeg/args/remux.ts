import { safeInputPath } from './input-path.js';

/**
 * Copies the streams a job uses, untouched, into Matroska: an indexed container (Cues mark every
 * key frame, so each chunk's seek lands on one) with a duration, on one continuous clock. Without
 * -copyts ffmpeg rebases the timeline to start at 0 and, for containers that allow timestamp
 * discontinuities (MPEG-TS, MPEG-PS), closes the jumps of files joined end to end, the same
 * offset for every stream so picture and sound stay in sync. +genpts fills in the presentation
 * times MPEG-PS and raw streams leave out (Matroska cannot store a packet without one).
 */
export function buildRemuxArgs(input: string, streamIndexes: readonly number[], output: string): string[] {
  return [
    '-fflags', '+genpts', '-i', safeInputPath(input),
    ...streamIndexes.flatMap((index) => ['-map', `0:${index}`]),
    '-c', 'copy', '-map_chapters', '-1',
    '-f', 'matroska', safeInputPath(output),
  ];
}
