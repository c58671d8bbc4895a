/**
 * The `file` backend: local folders, given as plain paths or file:// URLs. Inputs are read in
 * place (nothing is downloaded); packages are written through LocalStore.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VidpipeError } from '../errors.js';
import type { Location, StorageBackend } from './backend.js';
import { LocalStore } from './local.js';
import { assertSafeRelativeKey, urlBaseName } from './uri.js';

const FILE_URL = /^file:\/\//i;

function folderOf(location: Location): string {
  return location.parts.path!;
}

function pathOf(uri: string): string {
  if (!FILE_URL.test(uri)) return uri;
  try {
    return fileURLToPath(uri);
  } catch (error) {
    throw new VidpipeError('USAGE', `${uri}: not a local file URL (${(error as Error).message})`);
  }
}

function at(folder: string): Location {
  return { backend: 'file', text: folder, parts: { path: folder } };
}

export const fileBackend: StorageBackend = {
  name: 'file',
  schemes: ['file'],
  shared: false,
  parseLocation: (text) => at(FILE_URL.test(text) ? fileURLToPath(text) : path.resolve(text)),
  below: (location, name) => (assertSafeRelativeKey(name), at(path.join(folderOf(location), ...name.split('/')))),
  uriOf: (location, key) => (assertSafeRelativeKey(key), path.join(folderOf(location), ...key.split('/'))),
  holds: (location, uri) => {
    const relative = path.relative(folderOf(location), path.resolve(pathOf(uri)));
    return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
  },
  localFolder: (location) => folderOf(location),
  localFile: (uri) => pathOf(uri),
  inputName: (uri) => (FILE_URL.test(uri) ? urlBaseName(uri) : path.posix.basename(uri) || 'input'),
  connect: async () => ({
    storeAt: (location) => new LocalStore(folderOf(location)),
    download: async (uri, localPath) => {
      await mkdir(path.dirname(localPath), { recursive: true });
      await copyFile(pathOf(uri), localPath);
      return undefined;
    },
    close: () => undefined,
  }),
};
