/**
 * What `npm publish` would upload, from `npm pack --dry-run --json` on this checkout (built by
 * `npm test` beforehand): the CLI and what it loads at run time, the licence, no tests, and no
 * source map that points at a file the package does not carry.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/media.js';
import { PLAYER_LIBRARIES } from '../../src/serve/player-assets.js';

const run = promisify(execFile);

interface PackResult {
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

/** npm itself: the one running `npm test` when there is one, else the npm beside this node. */
async function npmPackDryRun(): Promise<PackResult> {
  const npm = process.env.npm_execpath;
  const [file, args] = npm && /\.[cm]?js$/.test(npm) ? [process.execPath, [npm]] : ['npm', []];
  // --ignore-scripts: `prepare` would rebuild dist/ under the tests that are reading it.
  const { stdout } = await run(file, [...args, 'pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  return (JSON.parse(stdout) as PackResult[])[0]!;
}

describe('the published package (npm pack)', () => {
  let pack: PackResult;
  let files: Set<string>;
  const packed = async () => {
    pack ??= await npmPackDryRun();
    files ??= new Set(pack.files.map((f) => f.path));
    return { pack, files };
  };

  it('carries the CLI, its licence, the player libraries with theirs, and the docs', async () => {
    const { files } = await packed();
    for (const required of ['bin/vidpipe', 'LICENSE', 'README.md', 'package.json', 'dist/src/cli/index.js', 'docs/README.md', 'docs/options.md']) {
      assert.ok(files.has(required), `${required} is packed`);
    }
    for (const library of PLAYER_LIBRARIES) {
      assert.ok(files.has(`dist/player/${library.served}`), `${library.package}'s ${library.served}`);
      for (const licence of library.licences) assert.ok(files.has(`dist/player/${licence.to}`), `${library.package}'s ${licence.from}`);
    }
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.equal(manifest.license, 'MIT');
    assert.match(readFileSync(path.join(REPO_ROOT, 'LICENSE'), 'utf8'), /^MIT License/);
    for (const field of ['repository', 'homepage', 'bugs']) assert.ok(manifest[field], `package.json has ${field}`);
    // No programmatic entry point is promised that the package does not have.
    for (const field of ['main', 'types', 'exports']) if (manifest[field]) assert.ok(files.has(String(manifest[field]).replace(/^\.\//, '')), `${field} is packed`);
  });

  it('carries no tests, fixtures, benchmarks or build scripts', async () => {
    const { files } = await packed();
    const unwanted = [...files].filter((f) => /^(test|dist\/test|bench|dist\/bench|scripts|dist\/scripts|fixtures)\//.test(f) || /\.test\.[jt]s$/.test(f));
    assert.deepEqual(unwanted, []);
  });

  it('has no dangling source maps: every map is packed with the sources it names, every map comment finds its map', async () => {
    const { files } = await packed();
    const dangling: string[] = [];
    let maps = 0;
    for (const file of files) {
      if (file.endsWith('.map')) {
        maps++;
        const map = JSON.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8')) as { sources: string[]; sourceRoot?: string };
        for (const source of map.sources) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), map.sourceRoot ?? '', source));
          if (!files.has(target)) dangling.push(`${file} → ${target}`);
        }
      } else if (/\.[cm]?js$/.test(file)) {
        const comment = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
        if (comment && !comment[1]!.startsWith('data:')) {
          const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), comment[1]!));
          if (!files.has(target)) dangling.push(`${file} → ${target}`);
        }
      }
    }
    assert.ok(maps > 0, 'the compiled CLI has its maps');
    assert.deepEqual(dangling, []);
  });

  it('stays small: under 8 MB unpacked', async () => {
    const { pack } = await packed();
    assert.ok(pack.unpackedSize < 8 * 1024 * 1024, `${(pack.unpackedSize / 1024 / 1024).toFixed(1)} MB unpacked`);
  });
});
