/**
 * A throw-away PostgreSQL cluster (Debian's `postgresql` package) for the tests: initdb in a temp
 * folder, `postgres` on a free loopback port (no Unix socket), a password-protected superuser,
 * stopped and removed at the end.
 *
 * `initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user (its
 * binaries run through `setpriv`, which execs, so the pid we signal is the postmaster itself); as
 * anyone else it runs as that user.
 *
 * One server serves a whole test run: `sharedPostgres()` starts it the first time any test file of
 * the run asks (a guardian process, `postgres-guardian.ts`, owns it and stops it when the run's
 * `node --test` process ends) and every file gets its own fresh database on it. A file run on its
 * own (no `node --test` parent) gets a server that lives as long as that process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './redis-server.js';

export interface PostgresTestServer {
  /** postgres://vidpipe:<password>@127.0.0.1:<port>/postgres (the maintenance database). */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  /** The postmaster's pid. */
  pid: number | undefined;
  /** Creates a new, empty database and returns its URL (same user and password). */
  createDatabase(name?: string): Promise<string>;
  /** Fast shutdown, then removes the cluster's folder. Idempotent. */
  stop(): Promise<void>;
}

const USER = 'vidpipe';

/** The folder of Debian's PostgreSQL server binaries (the newest installed), or of `initdb` on PATH. */
export function postgresBinDir(): string {
  const fromEnv = process.env.VIDPIPE_TEST_PG_BINDIR;
  if (fromEnv) return fromEnv;
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => existsSync(path.join(debianRoot, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return path.join(debianRoot, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'initdb'))) return dir;
  }
  throw new Error('PostgreSQL server binaries (initdb, postgres) not found: scripts/setup --test installs Debian\'s postgresql');
}

interface RunAs {
  /** Prefix that runs a command as the cluster's owner ([] when that is us). */
  prefix: string[];
  uid: number | undefined;
  gid: number | undefined;
}

async function clusterOwner(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return { prefix: [], uid: undefined, gid: undefined };
  const passwd = await readFile('/etc/passwd', 'utf8');
  const entry = passwd.split('\n').find((line) => line.startsWith('postgres:'));
  if (!entry) throw new Error('running as root, but there is no postgres user to own the test cluster (initdb refuses root)');
  const [, , uid, gid] = entry.split(':');
  return { prefix: ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'], uid: Number(uid), gid: Number(gid) };
}

/** The environment the server's binaries see: none of the caller's PG* settings. */
function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
}

function run(command: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(command.find((c) => c.includes('/')) ?? command[0])} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

function databaseUrl(port: number, password: string, database: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** Starts a fresh cluster on a free loopback port; resolves once it accepts connections. */
export async function startPostgresServer(): Promise<PostgresTestServer> {
  const binDir = postgresBinDir();
  const owner = await clusterOwner();
  const folder = await mkdtemp(path.join(os.tmpdir(), 'vidpipe-postgres-'));
  const dataDir = path.join(folder, 'data');
  const passwordFile = path.join(folder, 'password');
  const password = randomBytes(12).toString('base64url');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (owner.uid !== undefined) {
    await chown(folder, owner.uid, owner.gid!);
    await chown(passwordFile, owner.uid, owner.gid!);
  }
  let child: ChildProcess | undefined;
  try {
    await run(
      [...owner.prefix, path.join(binDir, 'initdb'), '-D', dataDir, '-U', USER, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync'],
      60_000,
    );
    await rm(passwordFile, { force: true });
    const port = await freePort();
    // No Unix socket (-k ''), loopback only; durability off: the cluster is thrown away.
    const postgres = [path.join(binDir, 'postgres'), '-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', '', '-F', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
    const command = [...owner.prefix, ...postgres];
    child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
    let exited = false;
    const exitedPromise = new Promise<void>((resolve) => child!.once('exit', () => ((exited = true), resolve())));
    child.once('error', () => undefined);
    const maintenanceUrl = databaseUrl(port, password, 'postgres');
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exited) throw new Error(`postgres exited at start: ${stderr.trim()}`);
      const client = new pg.Client({ connectionString: maintenanceUrl, connectionTimeoutMillis: 2000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        break;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections on ${port} within 20 s: ${(error as Error).message}; ${stderr.trim()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const postmaster = child;
    let stopped: Promise<void> | undefined;
    return {
      url: maintenanceUrl,
      host: '127.0.0.1',
      port,
      user: USER,
      password,
      pid: postmaster.pid,
      createDatabase: (name) => createDatabase(maintenanceUrl, name),
      stop: () =>
        (stopped ??= (async () => {
          if (!exited) {
            // SIGINT: PostgreSQL's fast shutdown (ends sessions, no wait for clients).
            postmaster.kill('SIGINT');
            const killTimer = setTimeout(() => postmaster.kill('SIGKILL'), 10_000);
            await exitedPromise;
            clearTimeout(killTimer);
          }
          await rm(folder, { recursive: true, force: true });
        })()),
    };
  } catch (error) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
}

/** CREATE DATABASE on the server of `maintenanceUrl`; returns the new database's URL. */
export async function createDatabase(maintenanceUrl: string, name = `vidpipe_${randomBytes(6).toString('hex')}`): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
  const client = new pg.Client({ connectionString: maintenanceUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(maintenanceUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

// --- One server per test run --------------------------------------------------------------------

export interface SharedPostgres {
  /** The maintenance database's URL (with the password). */
  url: string;
  /** A fresh database on the shared server. */
  createDatabase(name?: string): Promise<string>;
}

/** What the guardian writes once its server accepts connections. */
export interface GuardianState {
  url: string;
  guardianPid: number;
  error?: string;
}

let sharedForThisProcess: Promise<SharedPostgres> | undefined;

/**
 * The run's shared server. `VIDPIPE_TEST_POSTGRES_URL` (a maintenance URL of a server someone else
 * runs) takes precedence; otherwise the first caller of the run starts the guardian and every
 * caller waits (bounded) for its state file.
 */
export function sharedPostgres(): Promise<SharedPostgres> {
  return (sharedForThisProcess ??= locateShared());
}

/** The process whose lifetime bounds the shared server: the `node --test` runner, or this process. */
function runOwnerPid(): number {
  return process.env.NODE_TEST_CONTEXT?.startsWith('child') ? process.ppid : process.pid;
}

export function sharedStateFolder(ownerPid: number): string {
  return path.join(os.tmpdir(), `vidpipe-test-postgres-run-${ownerPid}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function locateShared(): Promise<SharedPostgres> {
  const external = process.env.VIDPIPE_TEST_POSTGRES_URL;
  if (external) return { url: external, createDatabase: (name) => createDatabase(external, name) };
  const ownerPid = runOwnerPid();
  const folder = sharedStateFolder(ownerPid);
  const stateFile = path.join(folder, 'state.json');
  const deadline = Date.now() + 60_000;
  for (;;) {
    let created = false;
    try {
      await mkdir(folder);
      created = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (created) {
      const guardian = fileURLToPath(new URL('./postgres-guardian.js', import.meta.url));
      const child = spawn(process.execPath, [guardian, String(ownerPid), folder], { detached: true, stdio: 'ignore' });
      child.unref();
    }
    const state = await readState(stateFile);
    if (state?.error) throw new Error(`the shared test PostgreSQL server did not start: ${state.error}`);
    if (state && isAlive(state.guardianPid)) {
      return { url: state.url, createDatabase: (name) => createDatabase(state.url, name) };
    }
    if (state && !isAlive(state.guardianPid)) {
      // A guardian that died (killed) left its folder: start over.
      await rm(folder, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the shared test PostgreSQL server did not start within 60 s (${folder})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readState(file: string): Promise<GuardianState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as GuardianState;
  } catch {
    return undefined;
  }
}
