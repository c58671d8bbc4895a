import { stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import type { ThumbnailTrack } from '../../manifest/model.js';
import type { StoryboardResult } from './storyboard.js';

/** The storyboard as the DASH model's thumbnail track, with its bandwidth measured from the sheet files. */
export async function thumbnailTrack(packageDir: string, storyboard: StoryboardResult, durationSeconds: number): Promise<ThumbnailTrack> {
  let bytes = 0;
  for (const sprite of storyboard.sprites) bytes += (await stat(sprite)).size;
  return {
    id: `thumbnails-${storyboard.thumbWidth}x${storyboard.thumbHeight}`,
    sheetUris: storyboard.sprites.map((path) => relative(packageDir, path).split(sep).join('/')),
    columns: storyboard.columns,
    rows: storyboard.rows,
    tileWidth: storyboard.thumbWidth,
    tileHeight: storyboard.thumbHeight,
    sheetDurationSeconds: storyboard.columns * storyboard.rows * storyboard.intervalSeconds,
    bandwidth: durationSeconds > 0 ? (bytes * 8) / durationSeconds : 0,
  };
}
