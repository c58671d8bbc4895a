/**
 * The work-folder lock: one process at a time works in a job's work folder (see resume.ts), or two
 * runs of the same job would overwrite each other's files.
 *
 * Claiming must be atomic, for two runs started together and for two runs taking over the lock of a
 * killed one alike. A file system offers one atomic test-and-set: creating a name that must not exist
 * (link(2) of a complete temporary file, which also makes the content appear whole). Rewriting or
 * deleting a lock is never atomic with the check that decided it, so the lock is a log that only
 * grows: entries `vidpipe.lock.<folder id>.<n>`, each created exclusively, the highest n saying who
 * holds the folder or that it was released. A claimer reads the top entry n: held by a live process →
 * busy; released, or left by a dead process → it creates entry n+1. Of several racers exactly one
 * creates it; the others re-read and find it held. Entries are removed only below the remover's own,
 * so the top never goes back and a slow claimer's entry below it counts for nothing (it checks, after
 * creating its entry, that none above it exists). The folder id, created exclusively with the folder,
 * makes entries written into a folder that was removed and made again meanwhile count for nothing;
 * removing a folder renames it away first, so no claimer can write into a half-deleted one.
 *
 * A lock is left by a dead process when its pid no longer runs on this host (or runs a different
 * process: its start time differs). A lock of another host is always taken as live.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, readFile, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VidpipeError } from '../errors.js';

const LOCK_PREFIX = 'vidpipe.lock.';
const FOLDER_ID_FILE = `${LOCK_PREFIX}id`;
const ENTRY_PATTERN = /^vidpipe\.lock\.([0-9a-f]{16})\.(\d{10})$/;
/** The single lock file of vidpipe before the log: still honoured when its owner lives. */
const LEGACY_LOCK_FILE = 'vidpipe.lock';
const MAX_ROUNDS = 20;
/** A folder being deleted is first renamed to `<folder>.removing-<random>`. */
export const REMOVING_SUFFIX = '.removing-';

/** Who holds a folder; `token` is unique to one claim. */
export interface LockOwner {
  pid: number;
  host: string;
  token?: string;
  /** Start time of the process (Linux: clock ticks after boot), to tell a reused pid. */
  started?: number;
}

type Entry = LockOwner | { released: true };

interface Claim {
  folderId: string;
  n: number;
  token: string;
}

/** The folders this process holds, by absolute path. */
const claims = new Map<string, Claim>();

async function processStartTime(pid: number | 'self'): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const started = Number(fields[19]);
  return Number.isFinite(started) && fields.length > 19 ? started : undefined;
}

async function isAlive(owner: LockOwner): Promise<boolean> {
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return owner.token !== undefined && [...claims.values()].some((c) => c.token === owner.token);
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.started === undefined) return true;
  const started = await processStartTime(owner.pid);
  return started === undefined || started === owner.started;
}

function isOwner(value: unknown): value is LockOwner {
  const v = value as LockOwner | null;
  return typeof v === 'object' && v !== null && typeof v.pid === 'number' && typeof v.host === 'string';
}

/**
 * Creates `path` with `content` only if no such name exists; false when it does. The content is
 * written to a temporary file first and linked into place, so a reader never sees it half written
 * (file systems without hard links get an exclusive create instead).
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temporary = join(path, '..', `${LOCK_PREFIX}tmp-${randomBytes(6).toString('hex')}`);
  await writeFile(temporary, content);
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
    try {
      await writeFile(path, content, { flag: 'wx' });
      return true;
    } catch (fallbackError) {
      if ((fallbackError as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fallbackError;
    }
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

/** The folder's id, made by the first claimer of this folder. Undefined when the folder is gone. */
async function folderIdOf(workDir: string): Promise<string | undefined> {
  const path = join(workDir, FOLDER_ID_FILE);
  for (;;) {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (text !== undefined && /^[0-9a-f]{16}$/.test(text)) return text;
    if (text !== undefined) {
      // Only an exclusive create without hard links shows an id half written; wait for the rest.
      await sleep(10);
      continue;
    }
    const created = await createExclusive(path, randomBytes(8).toString('hex')).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (created === undefined) return undefined;
  }
}

async function entryNumbers(workDir: string, folderId: string): Promise<number[]> {
  const names = await readdir(workDir).catch(() => [] as string[]);
  const numbers: number[] = [];
  for (const name of names) {
    const match = ENTRY_PATTERN.exec(name);
    if (match && match[1] === folderId) numbers.push(Number(match[2]));
  }
  return numbers.sort((a, b) => a - b);
}

function entryPath(workDir: string, folderId: string, n: number): string {
  return join(workDir, `${LOCK_PREFIX}${folderId}.${String(n).padStart(10, '0')}`);
}

/** Reads one entry; undefined when it was removed meanwhile (it is then no longer the top). */
async function readEntry(path: string): Promise<Entry | undefined> {
  for (let tries = 0; ; tries++) {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    try {
      const value = JSON.parse(text) as unknown;
      if ((value as { released?: unknown }).released === true) return { released: true };
      if (isOwner(value)) return value;
    } catch {
      // Half written (only without hard links), or damaged.
    }
    // An entry that never becomes readable was left by a claimer that died writing it.
    if (tries >= 50) return { pid: -1, host: hostname() };
    await sleep(20);
  }
}

async function legacyOwner(workDir: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(join(workDir, LEGACY_LOCK_FILE), 'utf8')) as unknown;
    return isOwner(owner) ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** Another run doing the same job is a passing state, not a bad input: BUSY (exit 1), which watch and queue workers retry. */
function busy(workDir: string, owner: LockOwner): VidpipeError {
  return new VidpipeError('BUSY', `another vidpipe (pid ${owner.pid} on ${owner.host}) is running this job right now, in ${workDir}; this run did nothing`, {
    hint: 'wait for it to finish (it publishes the same package), or give this run its own folder with --work-dir; if that process is gone for good, delete that folder',
  });
}

/** The process holding `workDir`, if any (live or not). */
export async function workDirOwner(workDir: string): Promise<LockOwner | undefined> {
  const folderId = await readFile(join(workDir, FOLDER_ID_FILE), 'utf8').catch(() => undefined);
  const top = folderId ? (await entryNumbers(workDir, folderId)).at(-1) : undefined;
  if (folderId && top !== undefined) {
    const entry = await readEntry(entryPath(workDir, folderId, top));
    return entry && isOwner(entry) ? entry : undefined;
  }
  return legacyOwner(workDir);
}

/** Empties the folder but for its lock. */
async function emptyFolder(workDir: string): Promise<void> {
  const names = await readdir(workDir);
  await Promise.all(names.filter((name) => !name.startsWith(LOCK_PREFIX)).map((name) => rm(join(workDir, name), { recursive: true, force: true })));
}

/**
 * Claims the work folder for this process (creating it): fails with BUSY when a live process
 * holds it; a lock left by a killed process is taken over, after stopping the processes it left
 * writing there. `fresh` then empties the folder (--force, or nothing recorded that could be reused).
 */
export async function claimWorkDir(workDirPath: string, fresh: boolean): Promise<void> {
  const workDir = resolve(workDirPath);
  const me: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(8).toString('hex'), started: await processStartTime('self') };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    await mkdir(workDir, { recursive: true });
    const folderId = await folderIdOf(workDir);
    if (!folderId) continue;
    const legacy = await legacyOwner(workDir);
    if (legacy && (await isAlive(legacy))) throw busy(workDir, legacy);
    const top = (await entryNumbers(workDir, folderId)).at(-1);
    const entry = top === undefined ? undefined : await readEntry(entryPath(workDir, folderId, top));
    if (top !== undefined && !entry) continue;
    if (entry && isOwner(entry) && (await isAlive(entry))) throw busy(workDir, entry);
    const n = top === undefined ? 0 : top + 1;
    const mine = entryPath(workDir, folderId, n);
    const created = await createExclusive(mine, JSON.stringify(me)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    });
    if (!created) continue;
    // An entry above ours, or a folder made anew under the same name, means ours counts for nothing.
    const stillOurs = (await folderIdOf(workDir)) === folderId && (await entryNumbers(workDir, folderId)).at(-1) === n;
    if (!stillOurs) {
      await unlink(mine).catch(() => undefined);
      continue;
    }
    claims.set(workDir, { folderId, n, token: me.token! });
    // kill -9 of vidpipe may have orphaned ffmpeg children that still write into the folder.
    if ((entry && isOwner(entry)) || legacy) await stopOrphans(workDir);
    await pruneBelow(workDir, folderId, n);
    if (legacy) await rm(join(workDir, LEGACY_LOCK_FILE), { force: true });
    if (fresh) await emptyFolder(workDir);
    return;
  }
  throw new VidpipeError('INTERNAL', `could not claim ${workDir}: its lock kept changing`);
}

async function pruneBelow(workDir: string, folderId: string, n: number): Promise<void> {
  for (const below of await entryNumbers(workDir, folderId)) {
    if (below < n) await unlink(entryPath(workDir, folderId, below)).catch(() => undefined);
  }
}

/** Keeps the work folder for a later resume but lets another process claim it. */
export async function releaseWorkDir(workDirPath: string): Promise<void> {
  const workDir = resolve(workDirPath);
  const claim = claims.get(workDir);
  if (!claim) return;
  claims.delete(workDir);
  // Only the holder writes above its own entry, so this cannot collide.
  if (await createExclusive(entryPath(workDir, claim.folderId, claim.n + 1), JSON.stringify({ released: true }))) {
    await pruneBelow(workDir, claim.folderId, claim.n + 1);
  }
}

/**
 * Deletes a folder this process holds. It is renamed away first: a claimer that read its lock
 * just before then finds no folder, or a new one, never a half-deleted one it could win.
 */
export async function removeWorkDir(workDirPath: string): Promise<void> {
  const workDir = resolve(workDirPath);
  if (!claims.has(workDir)) throw new VidpipeError('INTERNAL', `${workDir} is not claimed by this process`);
  claims.delete(workDir);
  const doomed = `${workDir}${REMOVING_SUFFIX}${randomBytes(4).toString('hex')}`;
  // A folder that cannot be renamed (open files on some systems) is deleted where it is.
  const renamed = await rename(workDir, doomed).then(() => true, () => false);
  await rm(renamed ? doomed : workDir, { recursive: true, force: true });
}

/**
 * SIGKILLs the processes (ffmpeg, ffprobe) left running by a killed vidpipe that still work in
 * `workDir`, found by their arguments in /proc, and waits until they are gone: otherwise one
 * could finish writing a chunk while this run writes the same file. Children normally die with
 * vidpipe (src/ffmpeg/child-guard.ts); this is the second line of defence. Without /proc (not
 * Linux) there is nothing to scan and this returns at once.
 */
export async function stopOrphans(workDir: string, timeoutMs = 5000): Promise<number[]> {
  const inside = `${resolve(workDir)}${sep}`;
  const orphans: number[] = [];
  const pids = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of pids) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.split('\0').some((arg) => arg.includes(inside))) continue;
    try {
      process.kill(pid, 'SIGKILL');
      orphans.push(pid);
    } catch {
      // Exited meanwhile, or not ours to signal.
    }
  }
  const deadline = Date.now() + timeoutMs;
  // A killed orphan stays a zombie until its new parent reaps it; a zombie writes nothing.
  const alive = async (pid: number) => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  };
  const anyAlive = async () => (await Promise.all(orphans.map(alive))).some(Boolean);
  while ((await anyAlive()) && Date.now() < deadline) await sleep(50);
  return orphans;
}
