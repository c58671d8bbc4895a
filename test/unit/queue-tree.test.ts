import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DagNodeSummary } from '../../src/core/dag.js';
import { buildFlowTree, flattenTree, type TreeNode } from '../../src/queue/tree.js';
import { pathsBelow, rebasePaths } from '../../src/queue/protocol.js';

const node = (id: string, kind: DagNodeSummary['kind'], dependsOn: string[] = []): DagNodeSummary => ({ id, kind, label: id, dependsOn });

/** The transcode graph's shape: chunks → assemble per rendition → package → manifests → publish → metadata. */
function transcodeGraph(renditions: string[], chunks: number): DagNodeSummary[] {
  const chunkIds = Array.from({ length: chunks }, (_, i) => `encode-video-${i}`);
  return [
    ...chunkIds.map((id) => node(id, 'encode-video')),
    ...renditions.flatMap((r) => [node(`assemble-${r}`, 'assemble', chunkIds), node(`package-${r}`, 'package', [`assemble-${r}`])]),
    node('encode-audio-aac', 'encode-audio'),
    node('package-aac', 'package', ['encode-audio-aac']),
    node('poster', 'poster'),
    node('storyboard', 'storyboard'),
    node('manifests', 'manifests', [...renditions.map((r) => `package-${r}`), 'package-aac', 'storyboard']),
    node('publish', 'publish', ['manifests', 'poster', 'storyboard']),
    node('metadata', 'metadata', ['publish']),
  ];
}

/** Every DAG edge must be honoured: a node's dependencies run in its own job or below it. */
function assertOrderKept(tree: TreeNode, graph: DagNodeSummary[]): void {
  const below = (t: TreeNode): Set<string> => new Set([...t.nodes, ...t.children.flatMap((c) => [...below(c)])]);
  for (const task of flattenTree(tree)) {
    const available = new Set([...task.children.flatMap((c) => [...below(c)]), ...task.nodes]);
    for (const id of task.nodes) {
      for (const dependency of graph.find((g) => g.id === id)!.dependsOn) {
        if (dependency === 'metadata') continue;
        assert.ok(available.has(dependency), `${id} (in ${task.id}) needs ${dependency} below it`);
      }
    }
  }
}

describe('buildFlowTree', () => {
  it('keeps one job per node when nothing is shared (one rendition)', () => {
    const graph = transcodeGraph(['h264-720p'], 3);
    const tree = buildFlowTree(graph, new Set(['metadata']));
    assert.equal(tree.id, 'publish');
    const all = flattenTree(tree);
    assert.deepEqual(all.map((t) => t.nodes.length), all.map(() => 1));
    assert.equal(all.length, graph.length - 1, 'every node but metadata is a job');
    assert.deepEqual(tree.children.map((c) => c.id).sort(), ['manifests', 'poster'], 'publish waits for the storyboard through the manifests');
    assertOrderKept(tree, graph);
  });

  it('merges the renditions that share the chunk encodes into one assemble job and one package job', () => {
    const graph = transcodeGraph(['h264-720p', 'h264-360p', 'h264-234p'], 4);
    const tree = buildFlowTree(graph, new Set(['metadata']));
    const all = flattenTree(tree);
    const assemble = all.find((t) => t.nodes.includes('assemble-h264-720p'))!;
    assert.deepEqual(assemble.nodes, ['assemble-h264-720p', 'assemble-h264-360p', 'assemble-h264-234p']);
    assert.equal(assemble.id, 'assemble-h264-720p+2');
    assert.deepEqual(assemble.children.map((c) => c.id), ['encode-video-0', 'encode-video-1', 'encode-video-2', 'encode-video-3']);
    const packages = all.find((t) => t.nodes.includes('package-h264-720p'))!;
    assert.deepEqual(packages.children, [assemble]);
    assert.ok(!packages.nodes.includes('package-aac'), 'audio packaging keeps its own job');
    assert.equal(new Set(all.flatMap((t) => t.nodes)).size, graph.length - 1, 'every node in exactly one job');
    assertOrderKept(tree, graph);
  });

  it('refuses a local node that feeds a queued one', () => {
    assert.throws(() => buildFlowTree([node('a', 'probe'), node('b', 'publish', ['a'])], new Set(['a'])), /must not feed/);
  });
});

describe('result paths between task folders', () => {
  it('moves paths below the old folder to the new one and leaves others alone', () => {
    const value = { files: { a: '/w/t1/work/chunks/a/chunk_00000.mp4' }, other: '/srv/x', rel: 'video/x', n: 3 };
    assert.deepEqual(rebasePaths(value, '/w/t1', '/w/t2'), { files: { a: '/w/t2/work/chunks/a/chunk_00000.mp4' }, other: '/srv/x', rel: 'video/x', n: 3 });
    assert.deepEqual(pathsBelow(value, '/w/t1'), ['work/chunks/a/chunk_00000.mp4']);
    assert.deepEqual(pathsBelow({ sibling: '/w/t10/x', self: '/w/t1' }, '/w/t1'), []);
  });
});
