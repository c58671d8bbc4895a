/**
 * One name, one thing: no two modules of src/ declare an export of the same name. Two
 * `WorkerOptions` (the command's flags and what a worker process runs with) or two
 * `formatDuration` ("1:05" and "1m05s") read as one thing and are not; each gets a name that
 * says which it is. A re-export (`export { X } from`) is the same thing and is not counted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const DECLARATION = /^export\s+(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|interface|type|const|let|class|enum)\s+([A-Za-z_$][\w$]*)/gm;

/** Each exported name declared in more than one module, with those modules. */
export function namesDeclaredTwice(sources: Map<string, string>): string[] {
  const declaredIn = new Map<string, string[]>();
  for (const [file, text] of sources) {
    for (const [, name] of text.matchAll(DECLARATION)) declaredIn.set(name!, [...(declaredIn.get(name!) ?? []), file]);
  }
  return [...declaredIn].filter(([, files]) => files.length > 1).map(([name, files]) => `${name}: ${files.join(', ')}`).sort();
}

describe('exported names of src/', () => {
  it('declares each name in one module only', () => {
    const files = sourceFiles(join(ROOT, 'src'));
    assert.ok(files.length > 100, `${files.length} modules`);
    const sources = new Map(files.map((file) => [relative(ROOT, file).split(sep).join('/'), readFileSync(file, 'utf8')]));
    assert.deepEqual(namesDeclaredTwice(sources), []);
  });

  it('finds a name declared twice, and not a re-export', () => {
    const sources = new Map([
      ['src/a.ts', 'export interface WorkerOptions { a: number }\nexport function formatDuration() {}\n'],
      ['src/b.ts', "export type WorkerOptions = { b: string };\nexport { formatDuration } from './a.js';\n"],
    ]);
    assert.deepEqual(namesDeclaredTwice(sources), ['WorkerOptions: src/a.ts, src/b.ts']);
  });
});
