/**
 * ffmpeg treats an argument starting with '-' as an option and "name:..." as a protocol.
 * Local paths are passed as absolute paths or with a "./" prefix (and "file:" for colons).
 * Every input of every ffmpeg and ffprobe argument list goes through here (the builders of
 * args/; test/unit/ffprobe-args.test.ts).
 */
export function safeInputPath(path: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) return path; // already a URL ffmpeg understands
  if (path.startsWith('/')) return path.includes(':') ? `file:${path}` : path;
  const relative = path.startsWith('./') || path.startsWith('../') ? path : `./${path}`;
  return relative.includes(':') ? `file:${relative}` : relative;
}
