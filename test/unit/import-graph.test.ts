/**
 * The import graph of src/, read from the sources with TypeScript's own pre-processor (every
 * `import`, `import type`, `export … from` and `import()`): no module may reach itself again,
 * and the few layering rules the code relies on hold. A failure names the cycle or the import.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SRC = join(ROOT, 'src');

/** '/'-separated path below the repository root: what messages show. */
const shown = (path: string) => relative(ROOT, path).split(sep).join('/');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module of src/ → the modules of src/ it imports (relative specifiers only: packages are outside). */
export function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((ref) => ref.fileName)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      .filter((target) => known.has(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** One cycle through every strongly connected component of more than one module (or a module importing itself). */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node)!, low.get(target)!));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node)!, index.get(target)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.includes(node)) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  // A concrete path back to the component's first module, found breadth-first inside it.
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    const previous = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift()!;
      for (const target of graph.get(node) ?? []) {
        if (!members.has(target)) continue;
        if (target === start) {
          const path = [node];
          while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
          return [...path, start];
        }
        if (!previous.has(target)) {
          previous.set(target, node);
          queue.push(target);
        }
      }
    }
    return [start, start];
  });
}

const graph = importGraph(sourceFiles(SRC));
const importsOf = (prefix: string) =>
  [...graph].filter(([file]) => shown(file).startsWith(prefix)).flatMap(([file, targets]) => targets.map((target) => ({ from: shown(file), to: shown(target) })));

describe('the import graph of src/', () => {
  it('reads the real imports (sanity: the CLI entry reaches the program)', () => {
    assert.ok(graph.size > 100, `${graph.size} modules`);
    assert.ok(importsOf('src/cli/index.ts').some((edge) => edge.to === 'src/cli/program.ts'));
  });

  it('has no import cycle, type-only imports included', () => {
    const cycles = findCycles(graph);
    assert.deepEqual(cycles.map((cycle) => cycle.map(shown).join(' → ')), []);
  });

  it('keeps errors on the ground floor: src/errors.ts imports nothing of vidpipe', () => {
    assert.deepEqual(importsOf('src/errors.ts'), []);
  });

  it('keeps watch and the queue out of the command line', () => {
    const upward = [...importsOf('src/watch/'), ...importsOf('src/queue/'), ...importsOf('src/job/'), ...importsOf('src/settings/')].filter((edge) => edge.to.startsWith('src/cli/'));
    assert.deepEqual(upward, []);
  });

  it('keeps the program and the command files apart: each command is reached through src/cli/index.ts only', () => {
    const crossing = [
      ...importsOf('src/cli/program.ts').filter((edge) => edge.to.startsWith('src/cli/commands/')),
      ...importsOf('src/cli/commands/').filter((edge) => edge.to === 'src/cli/program.ts'),
    ];
    assert.deepEqual(crossing, []);
  });

  it('finds a cycle when there is one, and names it', () => {
    const a = join(SRC, 'a.ts');
    const b = join(SRC, 'b.ts');
    const c = join(SRC, 'c.ts');
    const cycles = findCycles(new Map([[a, [b]], [b, [c]], [c, [a]], [join(SRC, 'd.ts'), [a]]]));
    assert.deepEqual(cycles.map((cycle) => cycle.map(shown).join(' → ')), ['src/a.ts → src/b.ts → src/c.ts → src/a.ts']);
  });
});
