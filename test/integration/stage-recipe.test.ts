/**
 * The "Adding a stage" recipe of docs/architecture.md, followed with a throw-away stage: a copy
 * of the compiled sources gets the recipe's edits of the TypeScript sources (a stage file, its
 * kind in src/job/nodes.ts, its node in the builder of its area, src/job/graph/finish.ts) and
 * nothing else. A local job run by that copy runs the stage and publishes its file, `--plan`
 * shows it, and the graph a queue worker builds from the state the submitter sends has it too:
 * everything else picks the stage up from the table and the builders.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { REPO_ROOT, tempDir } from '../helpers/media.js';
import type { TranscodeResult } from '../../src/core/result.js';
import { DEFAULT_SETTINGS } from '../../src/settings/job-settings.js';

const binaries = { ffmpeg: 'ffmpeg', ffprobe: 'ffprobe', ffmpegSource: 'path', ffprobeSource: 'path' } as const;

/** Step 1: the stage, a plain async function (it reads the plan, so it runs no ffmpeg: no step 2). */
const STAGE = `
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StageContext } from '../stage.js';

export interface RecipeNote {
  path: string;
  bytes: number;
}

/** Writes a line about the plan into the package. */
export async function writeRecipeNote(input: { packageDir: string; text: string }, ctx: StageContext): Promise<RecipeNote> {
  const path = join(input.packageDir, 'recipe-note.txt');
  await writeFile(path, input.text, { signal: ctx.signal });
  ctx.onProgress(1);
  return { path, bytes: Buffer.byteLength(input.text) };
}
`;

/** Replaces `anchor` once, failing with what the recipe expected to find there. */
function edit(source: string, file: string, anchor: string | RegExp, replace: (found: string) => string): string {
  const match = typeof anchor === 'string' ? (source.includes(anchor) ? anchor : undefined) : anchor.exec(source)?.[0];
  assert.ok(match, `${file}: the recipe's place (${String(anchor)}) is gone: update docs/architecture.md's "Adding a stage" and this test`);
  return source.replace(match, replace(match));
}

/** Steps 3 and 4, as text edits of the sources. */
const EDITS: Record<string, (source: string, file: string) => string> = {
  'src/job/nodes.ts': (source, file) => {
    let s = edit(source, file, /^import /m, (found) => `import type { RecipeNote } from '../core/stages/recipe-note.js';\n${found}`);
    s = edit(s, file, 'export interface NodeResults {\n', (found) => `${found}  'recipe-note': RecipeNote;\n`);
    s = edit(s, file, /export const NODE_KINDS[^\n]*\{\n/, (found) =>
      `${found}  'recipe-note': { row: 'Manifests', weight: 0.1, resumable: false, reads: 'nothing', runsOn: 'anywhere', priority: 25, colour: '#000000' },\n`);
    return edit(s, file, 'export const node = {\n', (found) => `${found}  recipeNote: ref('recipe-note'),\n`);
  },
  'src/job/graph/finish.ts': (source, file) => {
    let s = edit(source, file, /^import /m, (found) => `import { writeRecipeNote } from '../../core/stages/recipe-note.js';\n${found}`);
    s = edit(s, file, '  const publish = add(node.publish, {\n', (found) =>
      `  const recipeNote = add(node.recipeNote, {\n    label: 'Recipe note',\n    dependsOn: [node.plan],\n    run: (_r, ctx) => writeRecipeNote({ packageDir: site.packageDir, text: \`\${plan.kind}, \${plan.audio.length} audio renditions, \${plan.durationSeconds} s\\n\` }, ctx),\n  });\n${found}`);
    return edit(s, file, 'dependsOn: [manifests, ', (found) => `${found}recipeNote, `);
  },
};

/** A copy of dist/ (with the repository's package.json and node_modules) where the recipe's files are compiled again. */
async function followRecipe(root: string): Promise<string> {
  const copy = join(root, 'copy');
  await cp(join(REPO_ROOT, 'dist', 'src'), join(copy, 'dist', 'src'), { recursive: true, filter: (path) => !path.endsWith('.map') && !path.endsWith('.d.ts') });
  await cp(join(REPO_ROOT, 'package.json'), join(copy, 'package.json'));
  await symlink(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  const sources: Record<string, string> = { 'src/core/stages/recipe-note.ts': STAGE };
  for (const [file, apply] of Object.entries(EDITS)) sources[file] = apply(await readFile(join(REPO_ROOT, file), 'utf8'), file);
  for (const [file, text] of Object.entries(sources)) {
    const { outputText, diagnostics } = ts.transpileModule(text, { fileName: file, reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } });
    assert.deepEqual(diagnostics ?? [], [], file);
    const out = join(copy, 'dist', file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, outputText);
  }
  return copy;
}

describe('adding a stage by the recipe of docs/architecture.md', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let copy: string;
  let input: string;
  const load = async <T>(module: string): Promise<T> => (await import(pathToFileURL(join(copy, 'dist', module)).href)) as T;

  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-recipe-'));
    copy = await followRecipe(dir);
    input = join(dir, 'tone.wav');
    await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=2', '-ac', '2', input]);
  });
  after(() => cleanup());

  it('runs the new stage in a local job, publishes its file, and records it with the other tasks', async () => {
    const { runJob } = await load<typeof import('../../src/job/run-job.js')>('src/job/run-job.js');
    const { openMetadata } = await load<typeof import('../../src/db/engines.js')>('src/db/engines.js');
    const kinds = new Set<string>();
    const succeeded: string[] = [];
    const result: TranscodeResult = await runJob({
      input,
      out: join(dir, 'out'),
      settings: { ...DEFAULT_SETTINGS, concurrency: 2, segmentDurationSeconds: 2 },
      binaries,
      dbPath: join(dir, 'vidpipe.db'),
      workRoot: join(dir, 'work'),
      sourceQuietMs: 0,
      onEvent: (event) => {
        if (event.type === 'job-start' || event.type === 'tasks-added') for (const task of event.tasks) kinds.add(task.kind);
        if (event.type === 'task-succeeded') succeeded.push(event.id);
      },
    });
    assert.equal(result.status, 'succeeded', JSON.stringify(result.error));
    assert.ok(kinds.has('recipe-note'), 'the progress view and the reporters are told of the node');
    assert.ok(succeeded.includes('recipe-note') && succeeded.indexOf('recipe-note') < succeeded.indexOf('publish'), 'it ran before publishing');
    const packageDir = join(dir, 'out', result.package!.name);
    // Published with the job's release (the entry manifests beside it).
    assert.equal(await readFile(join(packageDir, result.jobId, 'recipe-note.txt'), 'utf8'), 'audio, 3 audio renditions, 2 s\n');
    assert.ok((await readdir(packageDir)).includes('master.m3u8'));
    const db = await openMetadata(join(dir, 'vidpipe.db'));
    try {
      const task = (await db.getJob(result.jobId)).tasks.find((t) => t.id === 'recipe-note');
      assert.equal(task?.status, 'succeeded', 'its task row');
      assert.ok((await db.getJob(result.jobId)).files.some((file) => file.key === 'recipe-note.txt'), 'among the files recorded');
    } finally {
      await db.close();
    }
  });

  it('is in the graph --plan shows and in the one a queue worker rebuilds from the sent state', async () => {
    const { previewJob } = await load<typeof import('../../src/job/run-job.js')>('src/job/run-job.js');
    const { buildJobGraph } = await load<typeof import('../../src/job/graph.js')>('src/job/graph.js');
    const { receivedState, sentState } = await load<typeof import('../../src/job/job-options.js')>('src/job/job-options.js');
    const { kindSpec, recalledResults } = await load<typeof import('../../src/job/nodes.js')>('src/job/nodes.js');
    const { inspectSource, inPlace } = await load<typeof import('../../src/ffmpeg/source-file.js')>('src/ffmpeg/source-file.js');
    const settings = { ...DEFAULT_SETTINGS, concurrency: 2 };
    const view = await previewJob({ input, out: join(dir, 'planned'), settings, binaries, dbPath: join(dir, 'unused.db'), workRoot: join(dir, 'work') });
    assert.deepEqual(view.tasks.find((t) => t.id === 'recipe-note')?.dependsOn, ['plan']);
    assert.ok(view.tasks.find((t) => t.id === 'publish')!.dependsOn.includes('recipe-note'));

    const inspected = await inspectSource(binaries, input, { audioOnly: false });
    const sent = sentState({ inspected, source: inPlace(inspected), plan: view.plan });
    const never = async (): Promise<never> => assert.fail('nothing runs');
    const options = { jobId: 'j1', input: 's3://in/tone.wav', out: 's3://out/', settings, package: { name: 'tone', given: false, video: { id: 'v1', sha256: '' } } };
    const onWorker = buildJobGraph(receivedState(sent, { input: '/w/in.wav', source: '/w/in.wav' }, { workDir: '/w/work', packageDir: '/w/package' }), {
      options,
      contextFor: () => assert.fail('nothing runs'),
      probe: never,
      publishing: {},
      recordMetadata: never,
    });
    assert.equal(onWorker.complete, true);
    assert.deepEqual(onWorker.tasks.find((t) => t.id === 'recipe-note')?.dependsOn, ['plan']);
    assert.ok(recalledResults(sent).has('plan'), 'its dependency is given to the worker');
    assert.equal(kindSpec('recipe-note').reads, 'nothing', 'a worker downloads nothing for it');
  });
});
