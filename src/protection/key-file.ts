/**
 * `--key-file`: a text file of keys, one `KID:KEY` a line, optionally for one track type:
 *
 *     # comments and blank lines are skipped
 *     0123456789abcdef0123456789abcdef:00112233445566778899aabbccddeeff    (every track)
 *     video 11111111-1111-1111-1111-111111111111:ABEiM0RVZneImaq7zN3u/w==
 *     audio 22222222222222222222222222222222:ffeeddccbbaa99887766554433221100
 *
 * KIDs in hex, base64 or UUID form; keys in hex or base64 (src/settings/key-values.ts). A line
 * without a track type gives the key of every track type no other line names. Messages name
 * the line, never its content.
 */
import { readFile } from 'node:fs/promises';
import { VidpipeError } from '../errors.js';
import { decodeKey, decodeKeyId } from '../settings/key-values.js';
import { TRACK_TYPES, type TrackKey, type KeySource, type LoadedKeys, type TrackType } from './model.js';

/** The keys of a key file's text; `where` names the file in messages. */
export function parseKeyFile(text: string, where: string): LoadedKeys {
  const refuse = (line: number, what: string) =>
    new VidpipeError('USAGE', `${where}, line ${line}: ${what}`, { hint: 'each line: [video|audio] KID:KEY, KID as 32 hex digits, base64 or UUID, KEY as 32 hex digits or base64' });
  const byType = new Map<TrackType, TrackKey>();
  let forAll: TrackKey | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    const number = index + 1;
    if (line === '') return;
    const typed = /^(video|audio)\s+(.*)$/i.exec(line);
    const pair = typed ? typed[2]! : line;
    if (/^\S+\s+\S/.test(pair) && !typed) throw refuse(number, 'the track type must be video or audio');
    const colon = pair.indexOf(':');
    if (colon <= 0) throw refuse(number, 'not KID:KEY');
    const kid = decodeKeyId(pair.slice(0, colon));
    if (!kid) throw refuse(number, 'the key ID is not 16 bytes (32 hex digits, base64 or UUID)');
    const key = decodeKey(pair.slice(colon + 1));
    if (!key) throw refuse(number, 'the key is not 16 bytes (32 hex digits or base64)');
    const entry: TrackKey = { kid, key };
    if (!typed) {
      if (forAll) throw refuse(number, 'a second key for every track: give one, or one per track type (video …, audio …)');
      forAll = entry;
      return;
    }
    const type = typed[1]!.toLowerCase() as TrackType;
    if (byType.has(type)) throw refuse(number, `a second key for ${type} tracks`);
    byType.set(type, entry);
  });
  const keys: LoadedKeys['keys'] = {};
  for (const type of TRACK_TYPES) {
    const key = byType.get(type) ?? forAll;
    if (key) keys[type] = key;
  }
  const distinct = [...new Set(Object.values(keys))];
  if (distinct.length === 0) throw new VidpipeError('USAGE', `${where}: no keys in it`, { hint: 'each line: [video|audio] KID:KEY' });
  const [video, audio] = [keys.video, keys.audio];
  if (video && audio && video !== audio && video.kid!.equals(audio.kid!) && !video.key.equals(audio.key)) {
    throw new VidpipeError('USAGE', `${where}: the video and audio lines give one key ID two different keys`);
  }
  return { keys, systems: [] };
}

export const keyFileSource: KeySource = {
  name: 'key-file',
  given: (settings) => settings.keyFile !== undefined,
  load: async (settings, options) => {
    const path = settings.keyFile!;
    let text: string;
    try {
      text = await readFile(path, { encoding: 'utf8', signal: options.signal });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new VidpipeError('INPUT_NOT_FOUND', `--key-file ${path}: no such file on this machine`, { hint: 'every machine that encrypts (each queue worker too) reads the key file itself' });
      throw new VidpipeError('USAGE', `--key-file ${path}: cannot be read (${code ?? (error as Error).message})`);
    }
    return parseKeyFile(text, `--key-file ${path}`);
  },
};
