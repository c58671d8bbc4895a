/**
 * What publishing reports about the files it wrote. vidpipe always builds a package in a local
 * work folder first; publish.ts then publishes it to its destination (a local folder or an S3
 * prefix) so that a player never sees a manifest that points at a missing object: media
 * first, the manifests (playlists, MPD) last.
 */
export interface PublishedFile {
  /** Path relative to the package root, with '/'. */
  key: string;
  /** Final location: an absolute local path or an s3:// URI. */
  uri: string;
  bytes: number;
  contentType: string;
}

/** Manifests are written last and cached briefly; media segments are immutable. */
export function isManifestKey(key: string): boolean {
  return /\.(m3u8|mpd)$/i.test(key);
}
