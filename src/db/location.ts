import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where the database lives when --db is not given: $VIDPIPE_DB, else the platform's
 * per-user data folder (XDG on Linux and other Unixes, Application Support on macOS,
 * %LOCALAPPDATA% on Windows). Pure apart from the home-folder fallback, so it can be
 * tested for every platform on any platform. Apart from database.ts so that finding the path
 * does not load SQLite (the CLI resolves it before it knows the command needs it).
 */
export function defaultDatabasePath(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.VIDPIPE_DB) return env.VIDPIPE_DB;
  if (platform === 'win32') {
    const localAppData = env.LOCALAPPDATA || path.win32.join(env.USERPROFILE || homedir(), 'AppData', 'Local');
    return path.win32.join(localAppData, 'vidpipe', 'vidpipe.db');
  }
  const home = env.HOME || homedir();
  if (platform === 'darwin') {
    return path.posix.join(home, 'Library', 'Application Support', 'vidpipe', 'vidpipe.db');
  }
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const dataHome =
    env.XDG_DATA_HOME && path.posix.isAbsolute(env.XDG_DATA_HOME)
      ? env.XDG_DATA_HOME
      : path.posix.join(home, '.local', 'share');
  return path.posix.join(dataHome, 'vidpipe', 'vidpipe.db');
}
