/** The part of m3u8-parser (Video.js VHS's HLS parser) that `vidpipe validate` reads. */
declare module 'm3u8-parser' {
  export interface ParsedHlsSegment {
    uri?: string;
    duration?: number;
    map?: { uri?: string };
  }
  export interface ParsedHlsPlaylistRef {
    uri?: string;
    attributes?: Record<string, unknown>;
  }
  export interface ParsedHlsManifest {
    playlists?: ParsedHlsPlaylistRef[];
    iFramePlaylists: ParsedHlsPlaylistRef[];
    mediaGroups?: Record<string, Record<string, Record<string, { uri?: string }>>>;
    segments: ParsedHlsSegment[];
    targetDuration?: number;
    endList?: boolean;
    playlistType?: string;
  }
  export class Parser {
    constructor(options?: { uri?: string });
    manifest: ParsedHlsManifest;
    on(event: 'warn' | 'info' | 'error', listener: (event: { message: string }) => void): void;
    push(text: string): void;
    end(): void;
  }
}
