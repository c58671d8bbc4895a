/**
 * What a track is for, and how each manifest says it: one row per role, read by the HLS and DASH
 * writers and by `vidpipe validate`. Scheme URIs and values:
 * - DASH Role: ISO/IEC 23009-1 §5.8.5.5, scheme urn:mpeg:dash:role:2011 (main, alternate, dub,
 *   description, commentary, subtitle, caption, forced-subtitle).
 * - DASH Accessibility of described audio: the TV-Anytime AudioPurposeCS, value 1 ("for the
 *   visually impaired"), as DVB-DASH (ETSI TS 103 285 §6.1.2) and DASH-IF IOP signal audio
 *   description; dash.js and Shaka read it.
 * - HLS CHARACTERISTICS: Apple's UTIs (RFC 8216 §4.3.4.1, HLS authoring spec §4).
 */

/**
 * An audio track's purpose: the programme's own sound, a dub, audio description, a commentary.
 * (What a user may write is AUDIO_ROLES in src/settings/job-settings.ts, a layer beside this one;
 * a unit test holds the two lists equal.)
 */
export type AudioTrackRole = 'main' | 'dub' | 'description' | 'commentary';

/**
 * A subtitle track's purpose beyond plain subtitles: `forced` (only the foreign or on-screen text a
 * viewer of the main language needs), `sdh` (subtitles for the deaf and hard of hearing: dialogue
 * plus speaker names, music and sound).
 */
export type SubtitleTrackRole = 'forced' | 'sdh';

export const ROLE_SCHEME = 'urn:mpeg:dash:role:2011';
export const AUDIO_PURPOSE_SCHEME = 'urn:tva:metadata:cs:AudioPurposeCS:2007';
/** AudioPurposeCS: 1 = audio description for the visually impaired, 2 = for the hard of hearing. */
export const AUDIO_PURPOSE_VISUALLY_IMPAIRED = '1';

export const DESCRIBES_VIDEO = 'public.accessibility.describes-video';
export const TRANSCRIBES_SPOKEN_DIALOG = 'public.accessibility.transcribes-spoken-dialog';
export const DESCRIBES_MUSIC_AND_SOUND = 'public.accessibility.describes-music-and-sound';
/** Every CHARACTERISTICS value Apple defines (plus easy-to-read); anything else no player acts on. */
export const KNOWN_CHARACTERISTICS = new Set([DESCRIBES_VIDEO, TRANSCRIBES_SPOKEN_DIALOG, DESCRIBES_MUSIC_AND_SOUND, 'public.easy-to-read', 'public.machine-generated']);

/** Every Role value of urn:mpeg:dash:role:2011 (23009-1 Table 34, 5th edition). */
export const KNOWN_DASH_ROLES = new Set([
  'caption', 'subtitle', 'main', 'alternate', 'supplementary', 'commentary', 'dub', 'description', 'sign', 'metadata',
  'enhanced-audio-intelligibility', 'emergency', 'forced-subtitle', 'easyreader', 'karaoke',
]);

/** One descriptor element of a DASH AdaptationSet (Role, Accessibility). */
export interface Descriptor {
  schemeIdUri: string;
  value: string;
}

/** How one role is said in both formats. */
export interface RoleSignalling {
  /** HLS CHARACTERISTICS, in order; none: attribute left out. */
  characteristics: string[];
  /** HLS AUTOSELECT: a player may pick it on the user's language (or accessibility) preference. */
  autoselect: boolean;
  /** HLS FORCED=YES (subtitles). */
  forced: boolean;
  /** DASH Role value. */
  dashRole: string;
  /** DASH Accessibility descriptors. */
  accessibility: Descriptor[];
  /** Added to the rendition's NAME, so two tracks of one language read apart in a menu. */
  nameSuffix?: string;
}

const plain = { characteristics: [], autoselect: true, forced: false, accessibility: [] };

export const AUDIO_ROLE_SIGNALLING: Record<AudioTrackRole, RoleSignalling> = {
  main: { ...plain, dashRole: 'main' },
  dub: { ...plain, dashRole: 'dub' },
  description: {
    ...plain,
    characteristics: [DESCRIBES_VIDEO],
    dashRole: 'description',
    accessibility: [{ schemeIdUri: AUDIO_PURPOSE_SCHEME, value: AUDIO_PURPOSE_VISUALLY_IMPAIRED }],
    nameSuffix: 'AD',
  },
  // A commentary is never what a language preference means: chosen by hand only.
  commentary: { ...plain, autoselect: false, dashRole: 'commentary', nameSuffix: 'commentary' },
};

/** Audio without a role: the default stream is the main one, the others alternates. */
export function audioSignalling(role: AudioTrackRole | undefined, isDefault: boolean): RoleSignalling {
  if (role) return AUDIO_ROLE_SIGNALLING[role];
  return { ...plain, dashRole: isDefault ? 'main' : 'alternate' };
}

export const SUBTITLE_ROLE_SIGNALLING: Record<SubtitleTrackRole | 'subtitle', RoleSignalling> = {
  subtitle: { ...plain, dashRole: 'subtitle' },
  forced: { ...plain, forced: true, dashRole: 'forced-subtitle', nameSuffix: 'forced' },
  sdh: { ...plain, characteristics: [TRANSCRIBES_SPOKEN_DIALOG, DESCRIBES_MUSIC_AND_SOUND], dashRole: 'caption', nameSuffix: 'SDH' },
};

export function subtitleSignalling(role: SubtitleTrackRole | undefined): RoleSignalling {
  return SUBTITLE_ROLE_SIGNALLING[role ?? 'subtitle'];
}

/** A rendition's menu name with its role said: "English (AD)", "Français (forced)". */
export function withRoleSuffix(name: string, signalling: RoleSignalling): string {
  return signalling.nameSuffix ? `${name} (${signalling.nameSuffix})` : name;
}
