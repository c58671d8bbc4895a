import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultDatabasePath } from '../../src/db/location.js';

test('VIDPIPE_DB wins on every platform', () => {
  for (const platform of ['linux', 'darwin', 'win32'] as const) {
    assert.equal(defaultDatabasePath({ VIDPIPE_DB: '/data/v.db', HOME: '/home/u' }, platform), '/data/v.db');
  }
});

test('Linux uses XDG_DATA_HOME, else ~/.local/share', () => {
  assert.equal(
    defaultDatabasePath({ XDG_DATA_HOME: '/xdg/data', HOME: '/home/u' }, 'linux'),
    '/xdg/data/vidpipe/vidpipe.db',
  );
  assert.equal(defaultDatabasePath({ HOME: '/home/u' }, 'linux'), '/home/u/.local/share/vidpipe/vidpipe.db');
  assert.equal(
    defaultDatabasePath({ XDG_DATA_HOME: 'relative/data', HOME: '/home/u' }, 'freebsd'),
    '/home/u/.local/share/vidpipe/vidpipe.db',
    'a relative XDG_DATA_HOME is ignored, as the XDG spec requires',
  );
});

test('macOS uses Application Support', () => {
  assert.equal(
    defaultDatabasePath({ HOME: '/Users/u', XDG_DATA_HOME: '/xdg' }, 'darwin'),
    '/Users/u/Library/Application Support/vidpipe/vidpipe.db',
  );
});

test('Windows uses %LOCALAPPDATA%', () => {
  assert.equal(
    defaultDatabasePath({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32'),
    'C:\\Users\\u\\AppData\\Local\\vidpipe\\vidpipe.db',
  );
  assert.equal(
    defaultDatabasePath({ USERPROFILE: 'C:\\Users\\u' }, 'win32'),
    'C:\\Users\\u\\AppData\\Local\\vidpipe\\vidpipe.db',
  );
});
