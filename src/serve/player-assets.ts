/**
 * The player libraries of `vidpipe serve`'s page (hls.js, dash.js, Shaka Player). Only their minified builds are served,
 * so they are devDependencies: `npm run build` copies those files and their licences into
 * dist/player/ (scripts/player-assets.ts), and the published package carries the copies
 * instead of the npm packages (158 MB of sources, maps and other builds). A checkout built
 * with plain `tsc` has no copies; it serves the files straight from node_modules.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PlayerLibrary {
  /** The file name the page loads it by, under /_vidpipe/, and its name in dist/player/. */
  served: string;
  /** The npm package it comes from, and the file in it. */
  package: string;
  file: string;
  /** Licence files of the package, copied beside the build under these names. */
  licences: { from: string; to: string }[];
}

export const PLAYER_LIBRARIES: PlayerLibrary[] = [
  { served: 'hls.min.js', package: 'hls.js', file: 'dist/hls.min.js', licences: [{ from: 'LICENSE', to: 'hls.js.LICENSE' }] },
  {
    served: 'dash.all.min.js',
    package: 'dashjs',
    // dash.js 5's exports map hides its UMD build; it is found relative to the package root.
    file: 'dist/modern/umd/dash.all.min.js',
    licences: [
      { from: 'LICENSE.md', to: 'dashjs.LICENSE.md' },
      // The build's own header points at this file for the licences of what it bundles.
      { from: 'dist/modern/umd/dash.all.min.js.LICENSE.txt', to: 'dash.all.min.js.LICENSE.txt' },
    ],
  },
  // Its compiled build carries the licence headers of what it bundles (Closure Library, Apache-2.0).
  { served: 'shaka-player.compiled.js', package: 'shaka-player', file: 'dist/shaka-player.compiled.js', licences: [{ from: 'LICENSE', to: 'shaka-player.LICENSE' }] },
];

/** The players the page can use: which library, on which of the package's manifests. */
export const PLAYER_ENGINES = {
  hls: { name: 'hls.js', manifest: 'hls', library: 'hls.min.js' },
  dash: { name: 'dash.js', manifest: 'dash', library: 'dash.all.min.js' },
  shaka: { name: 'Shaka Player', manifest: 'dash', library: 'shaka-player.compiled.js' },
  'shaka-hls': { name: 'Shaka Player', manifest: 'hls', library: 'shaka-player.compiled.js' },
} as const satisfies Record<string, { name: string; manifest: 'hls' | 'dash'; library: string }>;

export type PlayerEngine = keyof typeof PLAYER_ENGINES;

export function isPlayerEngine(value: string | null): value is PlayerEngine {
  return value !== null && Object.hasOwn(PLAYER_ENGINES, value);
}

/** dist/player/, seen from dist/src/serve/. */
export const BUILT_PLAYER_DIR = fileURLToPath(new URL('../../player/', import.meta.url));

const require = createRequire(import.meta.url);

/** Absolute path of an npm package's folder, found from its entry point (its package.json may not be exported). */
export function packageFolder(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (path.basename(dir) !== name && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** The file to serve for a library: the build's copy, else (a checkout built with tsc only) the devDependency's. */
export function playerLibraryFile(library: PlayerLibrary): string | undefined {
  const built = path.join(BUILT_PLAYER_DIR, library.served);
  if (existsSync(built)) return built;
  try {
    const installed = path.join(packageFolder(library.package), library.file);
    return existsSync(installed) ? installed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The copy written to dist/player/: the build without its `sourceMappingURL` line, since the
 * map (as large as the build) is not shipped and a browser would ask for it in vain.
 */
export function withoutSourceMapComment(text: string): string {
  return text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
}
