/**
 * The pg Pool under the PostgreSQL engine (./engine.ts). The URL is pg's connection string, so
 * PostgreSQL's own conventions hold: `sslmode` and other parameters in the URL, the PG*
 * environment variables for what it leaves out (PGHOST, PGUSER, PGPASSWORD…), ~/.pgpass (or
 * PGPASSFILE) for a password it does not give. A password in the URL is never printed: every
 * message names the server by host and port (or with `redactedTarget`, ../redact.ts).
 *
 * Rows come back shaped as the SQLite engine's (../rows.ts maps both): timestamps as
 * ISO-8601 UTC text, JSONB as its text, 64-bit integers as numbers.
 */
import pg from 'pg';
import { VidpipeError } from '../../errors.js';
import { redactMessage } from '../redact.js';

/** How long connecting (DNS, TCP, TLS, authentication) may take before the open fails. */
export const CONNECT_TIMEOUT_MS = 10_000;

const OID = { INT8: 20, TIMESTAMPTZ: 1184, JSONB: 3802, NUMERIC: 1700 } as const;

/** Type parsers of this engine's pool only (pg's global defaults stay as they are for anyone else). */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === OID.INT8 || oid === OID.NUMERIC) return (value: string) => Number(value);
    if (oid === OID.JSONB) return (value: string) => value;
    if (oid === OID.TIMESTAMPTZ) {
      const toDate = pg.types.getTypeParser(OID.TIMESTAMPTZ, 'text') as (value: string) => Date;
      return (value: string) => toDate(value).toISOString();
    }
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/** The server a connection goes to, for messages: URL host, else PGHOST, else pg's default. */
export function serverName(url: string): string {
  let host = '';
  let port = '';
  try {
    const parsed = new URL(url);
    host = decodeURIComponent(parsed.hostname);
    port = parsed.port;
  } catch {
    // The redacted target says enough.
  }
  host ||= process.env.PGHOST || 'localhost';
  port ||= process.env.PGPORT || '5432';
  return `${host}:${port}`;
}

export function createPool(url: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    // A connection the server or network dropped is replaced, not handed out.
    keepAlive: true,
    idleTimeoutMillis: 10_000,
    max: 10,
    // A statement never waits forever on a lock or a dead server.
    query_timeout: 60_000,
    application_name: 'vidpipe',
    types,
  });
  // An idle client losing its connection (a server restart) must not crash the process: the
  // next query gets a new one.
  pool.on('error', () => undefined);
  return pool;
}

/** Why a connection could not be made, in words, with the server named and no password. */
export function connectFailed(url: string, error: unknown): VidpipeError {
  const err = error as Error & { code?: string };
  const server = serverName(url);
  const reason = redactMessage(reasonOf(err), url);
  return new VidpipeError('DB_FAILED', `cannot connect to the PostgreSQL server at ${server}: ${reason}`, {
    hint: hintOf(err.code),
  });
}

function reasonOf(error: Error & { code?: string }): string {
  if (/timeout/i.test(error.message)) return `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`;
  if (error.code === 'ECONNREFUSED') return 'connection refused (is PostgreSQL running there, on that port?)';
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') return 'unknown host';
  return error.message || String(error);
}

function hintOf(code: string | undefined): string {
  switch (code) {
    case '28P01':
    case '28000':
      return 'check the user and password (in the URL, PGPASSWORD or ~/.pgpass) and pg_hba.conf';
    case '3D000':
      return 'create the database first (createdb), or name an existing one in the URL';
    default:
      return 'check the URL given to --db / VIDPIPE_DB (postgres://user@host:port/database), the PG* variables, and that the server accepts connections from here';
  }
}
