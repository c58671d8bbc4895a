import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dag, runDag, type DagEvent } from '../../src/core/dag.js';
import { VidpipeError } from '../../src/errors.js';

const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new VidpipeError('INTERRUPTED', 'aborted'));
    });
  });

describe('runDag', () => {
  it('runs each node after its dependencies, with bounded concurrency, passing results on', async () => {
    const dag = new Dag();
    let running = 0;
    let maxRunning = 0;
    const order: string[] = [];
    const node = (id: string, dependsOn: string[], ms = 20) =>
      dag.add({
        id, kind: 'encode-video', label: id, dependsOn,
        run: async (results) => {
          for (const d of dependsOn) assert.ok(results.has(d), `${id} sees ${d}`);
          running++;
          maxRunning = Math.max(maxRunning, running);
          await wait(ms);
          running--;
          order.push(id);
          return `${id}-out`;
        },
      });
    node('a', []); node('b', []); node('c', []); node('d', ['a', 'b', 'c']); node('e', ['d']);
    const { results } = await runDag(dag, { concurrency: 2 });
    assert.equal(maxRunning, 2);
    assert.deepEqual(order.slice(-2), ['d', 'e']);
    assert.equal(results.get('e'), 'e-out');
  });

  it('fails fast: the first failure aborts running siblings and cancels pending nodes', async () => {
    const dag = new Dag();
    const events: DagEvent[] = [];
    dag.add({ id: 'slow', kind: 'encode-video', label: 'slow', dependsOn: [], run: (_r, signal) => wait(5000, signal) });
    dag.add({ id: 'bad', kind: 'encode-audio', label: 'bad', dependsOn: [], run: async () => { await wait(10); throw new VidpipeError('FFMPEG_FAILED', 'boom'); } });
    dag.add({ id: 'after', kind: 'manifests', label: 'after', dependsOn: ['slow', 'bad'], run: async () => 1 });
    const started = Date.now();
    await assert.rejects(runDag(dag, { concurrency: 2, onEvent: (e) => events.push(e) }), /boom/);
    assert.ok(Date.now() - started < 2000, 'did not wait for the slow node');
    const final = new Map(events.flatMap((e) => (e.type !== 'task-start' && e.type !== 'task-progress' && e.type !== 'tasks-added' ? [[e.id, e.type] as const] : [])));
    assert.deepEqual(Object.fromEntries(final), { bad: 'task-failed', slow: 'task-cancelled', after: 'task-cancelled' });
  });

  it('prefers higher-priority ready nodes', async () => {
    const dag = new Dag();
    const order: string[] = [];
    for (const [id, priority] of [['low', 1], ['high', 10], ['mid', 5]] as const) {
      dag.add({ id, kind: 'poster', label: id, dependsOn: [], priority, run: async () => void order.push(id) });
    }
    await runDag(dag, { concurrency: 1 });
    assert.deepEqual(order, ['high', 'mid', 'low']);
  });

  it('skips nodes given as completed and stops on an outside abort', async () => {
    const dag = new Dag();
    dag.add({ id: 'done', kind: 'encode-video', label: 'done', dependsOn: [], run: async () => assert.fail('must not run') });
    dag.add({ id: 'next', kind: 'assemble', label: 'next', dependsOn: ['done'], run: async (r) => r.get('done') });
    const { results } = await runDag(dag, { concurrency: 1, completed: new Map([['done', 42]]) });
    assert.equal(results.get('next'), 42);

    const controller = new AbortController();
    const abortable = new Dag().add({ id: 'x', kind: 'encode-video', label: 'x', dependsOn: [], run: (_r, s) => wait(5000, s) });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(runDag(abortable, { concurrency: 1, signal: controller.signal }), (e: VidpipeError) => e.code === 'INTERRUPTED');
  });

  it('rejects cycles and unknown dependencies', () => {
    const dag = new Dag();
    dag.add({ id: 'a', kind: 'plan', label: 'a', dependsOn: ['b'], run: async () => 1 });
    dag.add({ id: 'b', kind: 'plan', label: 'b', dependsOn: ['a'], run: async () => 1 });
    assert.throws(() => dag.topologicalOrder(), /cycle/);
    assert.throws(() => new Dag().add({ id: 'a', kind: 'plan', label: 'a', dependsOn: ['zz'], run: async () => 1 }).topologicalOrder(), /unknown task zz/);
  });
});
