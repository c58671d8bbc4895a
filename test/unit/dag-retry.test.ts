import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dag, runDag, type DagEvent } from '../../src/core/dag.js';
import { VidpipeError } from '../../src/errors.js';

/** A one-node graph whose task fails with the given codes, in order, then succeeds. */
function graph(failures: VidpipeError['code'][], maxAttempts?: number) {
  const runs: number[] = [];
  const dag = new Dag().add({
    id: 'encode-video-0',
    kind: 'encode-video',
    label: 'encode',
    dependsOn: [],
    maxAttempts,
    run: async () => {
      runs.push(runs.length + 1);
      const code = failures[runs.length - 1];
      if (code) throw new VidpipeError(code, `run ${runs.length} failed`);
      return 'encoded';
    },
  });
  const events: DagEvent[] = [];
  return { dag, runs, events, run: () => runDag(dag, { concurrency: 1, onEvent: (e) => events.push(e) }) };
}

describe('task retry after a stall', () => {
  it('runs a stalled task once more and reports the second attempt', async () => {
    const g = graph(['FFMPEG_STALLED']);
    const { results } = await g.run();
    assert.equal(results.get('encode-video-0'), 'encoded');
    assert.equal(g.runs.length, 2);
    const starts = g.events.filter((e) => e.type === 'task-start');
    assert.deepEqual(starts.map((e) => e.type === 'task-start' && e.attempt), [1, 2]);
    const retry = starts[1]!;
    assert.ok(retry.type === 'task-start' && retry.retryAfter?.code === 'FFMPEG_STALLED');
  });

  it('gives up after the bounded number of attempts', async () => {
    const g = graph(['FFMPEG_STALLED', 'FFMPEG_STALLED', 'FFMPEG_STALLED']);
    await assert.rejects(g.run(), (error: VidpipeError) => error.code === 'FFMPEG_STALLED');
    assert.equal(g.runs.length, 2);
    assert.equal(g.events.filter((e) => e.type === 'task-failed').length, 1);
  });

  it('does not retry failures that would only repeat', async () => {
    const g = graph(['FFMPEG_FAILED']);
    await assert.rejects(g.run(), (error: VidpipeError) => error.code === 'FFMPEG_FAILED');
    assert.equal(g.runs.length, 1);
  });

  it('honours a task-specific attempt count', async () => {
    const g = graph(['FFMPEG_STALLED', 'FFMPEG_STALLED'], 3);
    await g.run();
    assert.equal(g.runs.length, 3);
  });
});
