/** The README stays a page for users, and no link in it or in docs/ points nowhere. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/media.js';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const docs = readdirSync(path.join(REPO_ROOT, 'docs')).filter((name) => name.endsWith('.md'));

/** Pages the docs index links that other branches add (remove a name once its page is merged). */
const WRITTEN_ELSEWHERE = new Set<string>();

describe('README.md and docs/', () => {
  it('the README is at most 16 KB and starts with the two commands for a checkout', () => {
    assert.ok(Buffer.byteLength(readme) <= 16 * 1024, `${Buffer.byteLength(readme)} bytes`);
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1]!;
    assert.deepEqual(firstBlock.split('\n').filter(Boolean).map((line) => line.split('  #')[0]!.trim()), ['scripts/setup && npm run demo', 'scripts/setup --test && npm test']);
    for (const heading of ['## Install', '## Quick start', '## Common recipes', '## Exit codes and `--json`']) assert.ok(readme.includes(`\n${heading}\n`), heading);
    assert.match(readme, /npm install -g vidpipe/);
  });

  it('every relative link of the README and the docs names an existing file', () => {
    const broken: string[] = [];
    for (const file of ['README.md', ...docs.map((name) => `docs/${name}`)]) {
      const text = readFileSync(path.join(REPO_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!) || target!.startsWith('#')) continue;
        const linked = path.posix.normalize(path.posix.join(path.posix.dirname(file), target!.split('#')[0]!));
        if (!existsSync(path.join(REPO_ROOT, linked)) && !WRITTEN_ELSEWHERE.has(linked)) broken.push(`${file} → ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });

  it('the docs index links every page in docs/', () => {
    const index = readFileSync(path.join(REPO_ROOT, 'docs', 'README.md'), 'utf8');
    for (const name of docs.filter((n) => n !== 'README.md')) assert.ok(index.includes(`](${name})`), name);
    for (const page of WRITTEN_ELSEWHERE) assert.ok(index.includes(`](${path.basename(page)})`), page);
  });
});
