import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { claimWorkDir, releaseWorkDir, removeWorkDir, workDirOwner } from '../../src/core/work-lock.js';
import { tempDir } from '../helpers/media.js';

const CLAIMER = fileURLToPath(new URL('../helpers/lock-claimer.js', import.meta.url));
const RACERS = 20;
const ROUNDS = 8;

/** A lock-claimer process and the answers it gives, one per command. */
interface Claimer {
  child: ChildProcessWithoutNullStreams;
  send(line: string): Promise<string>;
}

async function startClaimer(): Promise<Claimer> {
  const child = spawn(process.execPath, [CLAIMER], { stdio: ['pipe', 'pipe', 'pipe'] });
  const answers: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else answers.push(line);
  });
  const nextLine = () => new Promise<string>((resolve) => (answers.length > 0 ? resolve(answers.shift()!) : waiting.push(resolve)));
  assert.equal(await nextLine(), 'ready');
  return {
    child,
    send: (line) => {
      child.stdin.write(`${line}\n`);
      return nextLine();
    },
  };
}

function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** Every claimer claims `dir` at the same moment; returns the indexes that won. */
async function race(claimers: Claimer[], dir: string): Promise<number[]> {
  const at = Date.now() + 150;
  const answers = await Promise.all(claimers.map((c) => c.send(`claim ${dir} ${at}`)));
  for (const answer of answers) assert.ok(answer === 'won' || answer === 'busy', answer);
  return answers.flatMap((answer, i) => (answer === 'won' ? [i] : []));
}

describe('work folder lock: atomic claims', { timeout: 180_000 }, () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let claimers: Claimer[] = [];
  before(async () => {
    ({ dir, cleanup } = await tempDir('vidpipe-lock-'));
    claimers = await Promise.all(Array.from({ length: RACERS }, () => startClaimer()));
  });
  after(async () => {
    for (const c of claimers) c.child.stdin.end();
    await Promise.all(claimers.map((c) => exited(c.child)));
    await cleanup();
  });

  it(`${RACERS} processes claiming one folder together: exactly one wins, every time`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const work = join(dir, `fresh-${round}`);
      const winners = await race(claimers, work);
      assert.equal(winners.length, 1, `round ${round}: winners ${winners.join(', ')}`);
      const winner = claimers[winners[0]!]!;
      assert.equal((await workDirOwner(work))?.pid, winner.child.pid, 'the lock names the winner');
      // Released, it is free again: the next race on the same folder also has one winner.
      assert.equal(await winner.send(`release ${work}`), 'released');
      const again = await race(claimers, work);
      assert.equal(again.length, 1, `round ${round} after release: winners ${again.join(', ')}`);
      assert.equal(await claimers[again[0]!]!.send(`release ${work}`), 'released');
    }
  });

  it('the lock of a killed holder is taken over by exactly one of many', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const work = join(dir, `stale-${round}`);
      const holder = await startClaimer();
      assert.equal(await holder.send(`claim ${work} 0`), 'won');
      holder.child.kill('SIGKILL');
      await exited(holder.child);
      const winners = await race(claimers, work);
      assert.equal(winners.length, 1, `round ${round}: winners ${winners.join(', ')}`);
      assert.equal((await workDirOwner(work))?.pid, claimers[winners[0]!]!.child.pid);
      assert.equal(await claimers[winners[0]!]!.send(`release ${work}`), 'released');
    }
  });

  it('a lock file of an older vidpipe is honoured while its process lives, and taken over by one when it is dead', async () => {
    const work = join(dir, 'legacy');
    await mkdir(work, { recursive: true });
    await writeFile(join(work, 'vidpipe.lock'), JSON.stringify({ pid: process.pid, host: hostname() }));
    const busy = await race(claimers, work);
    assert.deepEqual(busy, [], 'held by this (live) test process');
    await writeFile(join(work, 'vidpipe.lock'), JSON.stringify({ pid: 2 ** 22 + 1, host: hostname() }));
    const winners = await race(claimers, work);
    assert.equal(winners.length, 1, `winners ${winners.join(', ')}`);
    assert.equal(existsSync(join(work, 'vidpipe.lock')), false, 'the old lock file is gone');
    assert.equal(await claimers[winners[0]!]!.send(`release ${work}`), 'released');
  });

  it('one process cannot claim a folder twice; a removed folder is claimed anew', async () => {
    const work = join(dir, 'own');
    await claimWorkDir(work, false);
    await assert.rejects(claimWorkDir(work, false), (error: { code?: string }) => error.code === 'BUSY' && (error as { exitCode?: number }).exitCode === 1);
    await writeFile(join(work, 'chunk.bin'), 'x');
    await removeWorkDir(work);
    assert.equal(existsSync(work), false);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('own')), [], 'nothing left beside it');
    await claimWorkDir(work, false);
    assert.equal((await workDirOwner(work))?.pid, process.pid);
    await releaseWorkDir(work);
    await claimWorkDir(work, true);
    await releaseWorkDir(work);
  });
});
