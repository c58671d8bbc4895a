/**
 * The `http` backend: http(s):// inputs, read-only (downloaded with retries and resumption,
 * http.ts). It holds no folders: a package cannot be published to a URL.
 */
import { VidpipeError } from '../errors.js';
import type { StorageBackend } from './backend.js';
import { displayUrl, downloadHttp } from './http.js';
import { urlBaseName } from './uri.js';

export const httpBackend: StorageBackend = {
  name: 'http',
  schemes: ['http', 'https'],
  shared: false,
  inputName: urlBaseName,
  connect: async () => ({
    storeAt: (location) => {
      throw new VidpipeError('USAGE', `${displayUrl(location.text)}: http(s):// URLs are read-only inputs`);
    },
    download: async (uri, localPath, options = {}) => {
      await downloadHttp(uri, localPath, options);
      return undefined;
    },
    close: () => undefined,
  }),
};
