/**
 * `npm run build` step: copies the player page's library builds (and their licences) from
 * the devDependencies into dist/player/, which the published package ships instead of the
 * npm packages themselves (see src/serve/player-assets.ts).
 */
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILT_PLAYER_DIR, PLAYER_LIBRARIES, packageFolder, withoutSourceMapComment } from '../src/serve/player-assets.js';

await rm(BUILT_PLAYER_DIR, { recursive: true, force: true });
await mkdir(BUILT_PLAYER_DIR, { recursive: true });
for (const library of PLAYER_LIBRARIES) {
  const folder = packageFolder(library.package);
  const text = await readFile(path.join(folder, library.file), 'utf8');
  await writeFile(path.join(BUILT_PLAYER_DIR, library.served), withoutSourceMapComment(text));
  for (const licence of library.licences) await copyFile(path.join(folder, licence.from), path.join(BUILT_PLAYER_DIR, licence.to));
}
