import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { dbOpenFailed, type PathProbe } from '../../src/db/db-error.js';
import { openMetadata } from '../../src/db/engines.js';
import { isVidpipeError } from '../../src/errors.js';

const exec = promisify(execFile);

/** A VidpipeError of `code` (and so of `exit`), whose message names the path and matches `pattern`. */
function refusedWith(code: string, exit: number, file: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(isVidpipeError(error), `expected a VidpipeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.exitCode, exit);
    assert.ok(error.message.includes(file), `${error.message} should name ${file}`);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /unable to open database file/);
    assert.ok(error.hint, 'a hint says what to do');
    return true;
  };
}

let dir: string;
beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'vidpipe-db-refusal-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('a database vidpipe cannot use says why (exit 2 when it is the user to fix)', () => {
  test('--db naming a directory', async () => {
    const folder = path.join(dir, 'a-folder');
    mkdirSync(folder);
    await assert.rejects(openMetadata(folder), refusedWith('USAGE', 2, folder, /is a directory, not a database file/));
    assert.deepEqual(readdirSync(folder), []);
  });

  test('a file that is not a SQLite database is refused and left as it was', async () => {
    const file = path.join(dir, 'notes.db');
    const text = 'these are my notes, not a database\n'.repeat(200);
    writeFileSync(file, text);
    await assert.rejects(openMetadata(file), refusedWith('USAGE', 2, file, /not a SQLite database/));
    assert.equal(statSync(file).size, Buffer.byteLength(text));
  });

  test('a file where a folder of the path should be', async () => {
    const blocker = path.join(dir, 'a-file');
    writeFileSync(blocker, 'x');
    const file = path.join(blocker, 'sub', 'vidpipe.db');
    await assert.rejects(openMetadata(file), refusedWith('USAGE', 2, file, new RegExp(`cannot be created: ${blocker} is not a folder`)));
  });

  test('a read-only filesystem: a new database and an existing one', async (t) => {
    const mount = path.join(dir, 'ro');
    mkdirSync(mount);
    try {
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    } catch (error) {
      t.skip(`cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      const existing = path.join(mount, 'vidpipe.db');
      const made = path.join(dir, 'made.db');
      await (await openMetadata(made)).close();
      copyFileSync(made, existing);
      await exec('mount', ['-o', 'remount,ro', mount]);
      for (const file of [existing, path.join(mount, 'new.db'), path.join(mount, 'sub', 'new.db')]) {
        await assert.rejects(openMetadata(file), refusedWith('USAGE', 2, file, / is on a read-only filesystem/));
      }
      assert.deepEqual(readdirSync(mount), ['vidpipe.db']);
    } finally {
      await exec('umount', [mount]);
    }
  });

  // Tests run as root, whom permission bits do not stop: the filesystem answers through the seam.
  // test/e2e/db-refusals.test.ts runs the CLI as another user for real.
  test('permissions: the file, or its folder, may not be written', async () => {
    const file = path.join(dir, 'vidpipe.db');
    writeFileSync(file, '');
    const cantOpen = Object.assign(new Error('unable to open database file'), { code: 'SQLITE_CANTOPEN' });
    const denying = (denied: string): PathProbe => ({
      stat: (target) => statSync(target),
      access: (target) => {
        if (target === denied) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      },
    });
    assert.throws(() => {
      throw dbOpenFailed(file, cantOpen, denying(file));
    }, refusedWith('USAGE', 2, file, /the file may not be read and written by this user \(permissions\)/));
    assert.throws(() => {
      throw dbOpenFailed(file, cantOpen, denying(dir));
    }, refusedWith('USAGE', 2, file, new RegExp(`the folder ${dir} may not be written by this user`)));
    assert.throws(() => {
      throw dbOpenFailed(path.join(dir, 'new', 'x.db'), cantOpen, denying(dir));
    }, refusedWith('USAGE', 2, path.join(dir, 'new', 'x.db'), new RegExp(`cannot be created: the folder ${dir} may not be written`)));
  });

  test('a damaged or failing database in a folder the user may not write is reported as SQLite says (exit 1), not as the folder', async () => {
    const file = path.join(dir, 'vidpipe.db');
    await (await openMetadata(file)).close();
    const denyingAll: PathProbe = {
      stat: (target) => statSync(target),
      access: () => {
        throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      },
    };
    const sqlite = (code: string, message: string) => Object.assign(new Error(message), { code });
    for (const error of [
      sqlite('SQLITE_CORRUPT', 'database disk image is malformed'),
      sqlite('SQLITE_IOERR_READ', 'disk I/O error'),
      sqlite('SQLITE_IOERR_SHORT_READ', 'disk I/O error'),
      sqlite('SQLITE_FULL', 'database or disk is full'),
      sqlite('SQLITE_ERROR', 'no such table: videos'),
    ]) {
      const refused = dbOpenFailed(file, error, denyingAll);
      assert.equal(refused.code, 'DB_FAILED', `${error.code}: ${refused.message}`);
      assert.equal(refused.exitCode, 1);
      assert.ok(refused.message.includes(file) && refused.message.includes(error.message), refused.message);
      assert.doesNotMatch(refused.message, /permissions|may not be written/);
    }
    // Not a database: said so, whatever the folder.
    assert.throws(() => {
      throw dbOpenFailed(file, sqlite('SQLITE_NOTADB', 'file is not a database'), denyingAll);
    }, refusedWith('USAGE', 2, file, /the file is not a SQLite database/));
    // What the path can cause still names it.
    for (const code of ['SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_READONLY_DIRECTORY', 'SQLITE_PERM', 'SQLITE_AUTH', 'EACCES']) {
      assert.throws(() => {
        throw dbOpenFailed(file, sqlite(code, 'unable to open database file'), denyingAll);
      }, refusedWith('USAGE', 2, file, /may not be read and written by this user \(permissions\)/), code);
    }
  });

  test('a locked database stays a failure to retry (exit 1), naming the path', async () => {
    const file = path.join(dir, 'vidpipe.db');
    await (await openMetadata(file)).close();
    const busy = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    const error = dbOpenFailed(file, busy);
    assert.equal(error.code, 'DB_FAILED');
    assert.equal(error.exitCode, 1);
    assert.ok(error.message.includes(file));
    assert.match(error.hint ?? '', /another vidpipe process kept the database locked/);
  });

  test('a usable path still opens', async () => {
    const file = path.join(dir, 'deep', 'er', 'vidpipe.db');
    await (await openMetadata(file)).close();
    assert.ok(existsSync(file));
  });
});
