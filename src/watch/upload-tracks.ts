/**
 * An upload's own audio files (`audioTracks` in its sidecar or metadata): objects beside the
 * upload, named relative to its folder. They are resolved through the storage backend and
 * downloaded for the job; they are never uploads of their own (the watcher skips the keys a
 * listed sidecar names).
 */
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { VidpipeError, isVidpipeError } from '../errors.js';
import { parseUploadOverrides, type SidecarAudio } from '../settings/job-settings.js';
import { fetchInput, type FetchedInput, type StorageConfig } from '../storage/index.js';
import { formatS3Uri } from '../storage/uri.js';

/** The key of an object named `name` beside the upload `uploadKey` (`talks/film.mp4` + `dub.m4a` → `talks/dub.m4a`). */
export function trackKeyBeside(uploadKey: string, name: string): string {
  const folder = posix.dirname(uploadKey);
  return folder === '.' ? name : `${folder}/${name}`;
}

/**
 * The keys of the audio files a sidecar (`<upload key>.vidpipe.json`) names; none when it cannot
 * be parsed (its upload then fails with the reason when it is processed).
 */
export function trackKeysOfSidecar(text: string, sidecarKey: string): string[] {
  try {
    const data = JSON.parse(text) as Record<string, unknown>;
    if (data === null || typeof data !== 'object') return [];
    const named = Object.entries(data).filter(([name]) => ['audioTracks', 'audioTrack', 'audio-track'].includes(name));
    if (named.length === 0) return [];
    const tracks = parseUploadOverrides(Object.fromEntries(named), sidecarKey).settings.audioTracks ?? [];
    return tracks.map((track) => trackKeyBeside(sidecarKey, track.path));
  } catch {
    return [];
  }
}

export interface UploadTracksInput {
  bucket: string;
  /** The upload's key: names are relative to its folder. */
  key: string;
  storage?: StorageConfig;
  signal?: AbortSignal;
  /** Where the names were given (the sidecar's URI, "metadata of …"), for messages. */
  namedIn: string;
}

/**
 * Downloads each named audio file for the job: the settings' tracks with local paths, and the
 * cleanup that removes the copies. A missing object fails the upload for good, naming it.
 */
export async function fetchUploadTracks(tracks: readonly SidecarAudio[], input: UploadTracksInput): Promise<{ audioTracks: SidecarAudio[]; cleanup: () => Promise<void> }> {
  const fetched: FetchedInput[] = [];
  const cleanup = async (): Promise<void> => {
    for (const copy of fetched) await copy.cleanup();
  };
  try {
    const audioTracks: SidecarAudio[] = [];
    for (const track of tracks) {
      const uri = formatS3Uri(input.bucket, trackKeyBeside(input.key, track.path));
      const copy = await fetchInput(uri, join(tmpdir(), 'vidpipe-upload-tracks'), input.storage, { signal: input.signal }).catch((error: unknown) => {
        if (isVidpipeError(error) && error.code === 'INPUT_NOT_FOUND') {
          throw new VidpipeError('INPUT_NOT_FOUND', `${input.namedIn}: audio track "${track.path}" is not there (${uri}); the upload is not processed`, {
            hint: 'upload the audio files beside the video before (or with) its sidecar; names are relative to the upload\'s folder',
          });
        }
        throw error;
      });
      fetched.push(copy);
      audioTracks.push({ ...track, path: copy.localPath });
    }
    return { audioTracks, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
