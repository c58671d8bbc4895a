/**
 * The import graph of src/, read from the sources with TypeScript's own pre-processor (every
 * `import`, `import type`, `export … from` and `import()`): no module may reach itself again,
 * every folder imports only folders of a lower rank (the table of docs/architecture.md), and the
 * few rules inside the command line hold. A failure names the cycle or the import.
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

/**
 * Each folder of src/ (and each file directly in it) has a rank, and may import only from ranks
 * below its own: a folder never reaches up, and two folders of one rank never import each other.
 * docs/architecture.md shows this table; a new folder gets a row in both.
 */
export const LAYER_RANKS: Record<string, number> = {
  'src/errors.ts': 0,
  'src/files/': 1,
  'src/events/': 1,
  'src/settings/': 1,
  'src/manifest/': 1,
  'src/media/': 2,
  'src/storage/': 2,
  'src/ffmpeg/': 3,
  'src/protection/': 3,
  'src/core/': 4,
  'src/db/': 5,
  'src/metrics/': 6,
  'src/ladder/': 7,
  'src/job/': 8,
  'src/watch/': 9,
  'src/queue/': 9,
  'src/report/': 9,
  'src/validate/': 9,
  'src/serve/': 10,
  'src/cli/': 11,
};

/** The layer a module belongs to: its first folder below src/ ('src/core/'), or the file itself when it sits in src/. */
export function layerOf(path: string): string {
  const [first, ...rest] = shown(path).split('/').slice(1);
  return rest.length > 0 ? `src/${first}/` : `src/${first}`;
}

/** Every import from one layer into another whose rank is not lower (unranked layers are reported separately). */
export function importsAgainstRank(graph: Map<string, string[]>, ranks: Record<string, number>): string[] {
  const offending: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file);
    for (const target of targets) {
      const to = layerOf(target);
      if (from === to || ranks[from] === undefined || ranks[to] === undefined) continue;
      if (ranks[to]! >= ranks[from]!) offending.push(`${shown(file)} (${from}, rank ${ranks[from]}) imports ${shown(target)} (${to}, rank ${ranks[to]})`);
    }
  }
  return offending.sort();
}

/** The rank table of docs/architecture.md: its rows `| rank | \`src/folder/\`, … | holds |`. */
function documentedRanks(): Record<string, number> {
  const page = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const ranks: Record<string, number> = {};
  for (const line of page.split('\n')) {
    const row = /^\|\s*(\d+)\s*\|([^|]*)\|/.exec(line);
    if (!row) continue;
    for (const [, layer] of row[2]!.matchAll(/`(src\/[^`]+)`/g)) ranks[layer!] = Number(row[1]);
  }
  return ranks;
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

  it('gives every folder of src/ a rank', () => {
    const layers = [...new Set([...graph.keys()].map(layerOf))].sort();
    assert.deepEqual(layers.filter((layer) => LAYER_RANKS[layer] === undefined), [], 'give the new folder a rank in LAYER_RANKS and in docs/architecture.md');
    assert.deepEqual(Object.keys(LAYER_RANKS).filter((layer) => !layers.includes(layer)), [], 'a ranked folder that no longer exists');
  });

  it('has layers that only point down: a folder imports only folders of a lower rank', () => {
    assert.deepEqual(importsAgainstRank(graph, LAYER_RANKS), []);
  });

  it('documents the same ranks in docs/architecture.md', () => {
    assert.deepEqual(documentedRanks(), LAYER_RANKS);
  });

  it('finds an import that points up or sideways, and names it', () => {
    const low = join(SRC, 'low/a.ts');
    const high = join(SRC, 'high/b.ts');
    const beside = join(SRC, 'beside/c.ts');
    const ranks = { 'src/low/': 0, 'src/high/': 1, 'src/beside/': 1 };
    assert.deepEqual(importsAgainstRank(new Map([[high, [low]], [low, []], [beside, []]]), ranks), []);
    assert.deepEqual(importsAgainstRank(new Map([[low, [high]], [high, [beside]], [beside, []]]), ranks), [
      'src/high/b.ts (src/high/, rank 1) imports src/beside/c.ts (src/beside/, rank 1)',
      'src/low/a.ts (src/low/, rank 0) imports src/high/b.ts (src/high/, rank 1)',
    ]);
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
