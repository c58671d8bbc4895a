/**
 * Reads the files a package references, whether they sit on disk or behind http(s) URLs.
 * Every reference is kept as an absolute path or URL ("ref"); playlist URIs are resolved
 * against the ref of the playlist that names them, as a player would.
 */
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VidpipeError } from '../errors.js';

const isUrl = (ref: string) => /^https?:\/\//i.test(ref);

/** `length` bytes of a file from `offset` (an EXT-X-BYTERANGE); HTTP's inclusive ranges are ByteRange of src/serve/ranges.ts. */
export interface ByteSpan {
  offset: number;
  length: number;
}

export class PackageReader {
  private readonly existence = new Map<string, Promise<boolean>>();
  private readonly downloads = new Map<string, Promise<string>>();
  private downloadDir?: Promise<string>;
  private downloadCount = 0;

  /** `root` is where messages show paths relative to (the package folder or its URL folder). */
  constructor(private readonly root: string) {}

  static forTarget(target: string): { reader: PackageReader; ref: string } {
    const ref = isUrl(target) ? target : resolve(target);
    const root = isUrl(ref) ? new URL('.', ref).href : dirname(ref);
    return { reader: new PackageReader(root), ref };
  }

  resolve(base: string, uri: string): string {
    if (isUrl(base) || isUrl(uri)) return new URL(uri, base).href;
    return fileURLToPath(new URL(uri, pathToFileURL(base)));
  }

  /** A ref as it is shown to the user: relative to the package root when inside it. */
  display(ref: string): string {
    if (isUrl(ref)) return ref.startsWith(this.root) ? ref.slice(this.root.length) : ref;
    const rel = relative(this.root, ref);
    return rel.startsWith('..') ? ref : rel;
  }

  exists(ref: string): Promise<boolean> {
    let known = this.existence.get(ref);
    if (!known) {
      known = isUrl(ref) ? urlExists(ref) : access(ref).then(() => true, () => false);
      this.existence.set(ref, known);
    }
    return known;
  }

  async readText(ref: string): Promise<string> {
    return (await this.readBytes(ref)).toString('utf8');
  }

  async readBytes(ref: string, range?: ByteSpan): Promise<Buffer> {
    const whole = await readFile(await this.localPath(ref));
    return range ? whole.subarray(range.offset, range.offset + range.length) : whole;
  }

  /** A local file holding the ref's bytes: the file itself, or a download of the URL. */
  localPath(ref: string): Promise<string> {
    if (!isUrl(ref)) return Promise.resolve(ref);
    let download = this.downloads.get(ref);
    if (!download) {
      download = this.download(ref);
      this.downloads.set(ref, download);
    }
    return download;
  }

  private async download(url: string): Promise<string> {
    this.downloadDir ??= mkdtemp(join(tmpdir(), 'vidpipe-validate-'));
    // Named before any await: downloads run concurrently and must not share a file.
    const name = String(this.downloadCount++);
    const dir = await this.downloadDir;
    const response = await fetch(url).catch((error: Error) => {
      throw new VidpipeError('VALIDATION_FAILED', `cannot fetch ${url}: ${error.message}`);
    });
    if (!response.ok) throw new VidpipeError('VALIDATION_FAILED', `cannot fetch ${url}: HTTP ${response.status}`);
    const path = join(dir, name);
    await writeFile(path, Buffer.from(await response.arrayBuffer()));
    return path;
  }

  async close(): Promise<void> {
    if (this.downloadDir) await rm(await this.downloadDir, { recursive: true, force: true });
  }
}

async function urlExists(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: 'HEAD' });
    return response.ok;
  } catch {
    return false;
  }
}

