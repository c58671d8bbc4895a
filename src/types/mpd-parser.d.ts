/** The part of mpd-parser's output (Video.js VHS's m3u8-style objects) that validate and the manifest tests read. */
declare module 'mpd-parser' {
  export interface ParsedSegment {
    uri: string;
    resolvedUri: string;
    duration: number;
    number: number;
    map?: { uri: string; resolvedUri: string };
  }
  export interface ParsedPlaylist {
    attributes: {
      NAME: string;
      BANDWIDTH: number;
      CODECS?: string;
      RESOLUTION?: { width: number; height: number };
      'FRAME-RATE'?: number;
      AUDIO?: string;
      SUBTITLES?: string;
    };
    resolvedUri: string;
    segments: ParsedSegment[];
    /** By key system ('mp4protection', 'com.widevine.alpha', 'org.w3.clearkey' …): the element's attributes and its cenc:pssh. */
    contentProtection?: Record<string, { attributes?: Record<string, string>; pssh?: Uint8Array }>;
  }
  export interface ParsedMediaGroup {
    language: string;
    default: boolean;
    autoselect: boolean;
    playlists: ParsedPlaylist[];
  }
  export interface ParsedManifest {
    duration: number;
    playlists: ParsedPlaylist[];
    mediaGroups: {
      AUDIO: Record<string, Record<string, ParsedMediaGroup>>;
      SUBTITLES: Record<string, Record<string, ParsedMediaGroup>>;
    };
  }
  export function parse(
    manifest: string,
    options?: { manifestUri?: string; eventHandler?: (event: { type: string; message: string }) => void },
  ): ParsedManifest;
}
