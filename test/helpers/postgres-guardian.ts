/**
 * Owns the shared test PostgreSQL server of one test run (started detached by `sharedPostgres()`
 * in `postgres-server.ts`): starts the cluster, writes its URL to `<folder>/state.json`, and stops
 * and removes it when the run's owner process (the `node --test` runner) is gone.
 *   node postgres-guardian.js <owner pid> <state folder>
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startPostgresServer, type GuardianState } from './postgres-server.js';

const [ownerPid, folder] = [Number(process.argv[2]), process.argv[3]];

async function writeState(state: GuardianState): Promise<void> {
  const file = path.join(folder, 'state.json');
  await writeFile(`${file}.tmp`, JSON.stringify(state));
  await rename(`${file}.tmp`, file);
}

function ownerAlive(): boolean {
  try {
    process.kill(ownerPid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

try {
  const server = await startPostgresServer();
  await writeState({ url: server.url, guardianPid: process.pid });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(watch);
    await server.stop();
    await rm(folder, { recursive: true, force: true });
    process.exit(0);
  };
  const watch = setInterval(() => {
    if (!ownerAlive()) void stop();
  }, 500);
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
} catch (error) {
  await writeState({ url: '', guardianPid: process.pid, error: (error as Error).message });
  // Leave the error for every waiting file of this run, then clean up once the run is over.
  const watch = setInterval(() => {
    if (!ownerAlive()) {
      clearInterval(watch);
      void rm(folder, { recursive: true, force: true });
    }
  }, 500);
}
