/**
 * Where finished packages go. vidpipe always builds a package in a local work folder first;
 * a Storage then publishes it to its destination (a local folder or an S3 prefix) so that a
 * player never sees a manifest that points at a missing object: media objects first, the
 * manifests (playlists, MPD) last.
 */
export interface PublishedFile {
  /** Path relative to the package root, with '/'. */
  key: string;
  /** Final location: an absolute local path or an s3:// URI. */
  uri: string;
  bytes: number;
  contentType: string;
}

export interface PublishOptions {
  signal?: AbortSignal;
  /** Called after each file with the bytes published so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

export interface Storage {
  /** Human-readable destination of the package root, e.g. "/srv/vod/talk" or "s3://bucket/vod/talk/". */
  readonly root: string;
  /**
   * Where this publish's files go: `<root>/<release>/` when the storage was opened with a release
   * (see release.ts), else the root itself.
   */
  readonly releaseRoot: string;
  /** Publishes every file below `localDir` to the destination; replaces a previous package there only once the new one is complete. */
  publishDirectory(localDir: string, options?: PublishOptions): Promise<PublishedFile[]>;
  /** The final URI of a file of the package, by its relative key (entry manifests: at the root). */
  uriFor(key: string): string;
}

/** Manifests are written last and cached briefly; media segments are immutable. */
export function isManifestKey(key: string): boolean {
  return /\.(m3u8|mpd)$/i.test(key);
}
