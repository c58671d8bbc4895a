import { existsSync } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSubtitleExtractArgs } from '../../ffmpeg/args/subtitles.js';
import type { MediaProbe } from '../../ffmpeg/probe.js';
import { VidpipeError } from '../../errors.js';
import { languageName, sourceLanguage, titleName } from '../../manifest/language.js';
import type { StageContext } from '../stage.js';
import type { SidecarSubtitle, SubtitleRole } from '../../settings/job-settings.js';
import { checkSubtitleFile } from './subtitle-file.js';
import { subtitleSignalling, withRoleSuffix } from '../../manifest/roles.js';

/** One subtitle rendition to produce: a text stream of the source, or a sidecar file. */
export interface SubtitlePlan {
  /** e.g. "sub-eng"; the folder name under subtitles/ and the DASH Representation id. */
  id: string;
  /** ffprobe stream index in the source, or a sidecar file (its first subtitle stream). */
  from: { streamIndex: number } | { file: string };
  language: string;
  name: string;
  /** From the source's default disposition; sidecars are not default. */
  isDefault: boolean;
  /** Forced or SDH (`--subtitles file:lang:role`, or the source stream's disposition); absent: plain. */
  role?: SubtitleRole;
  /** A sidecar's cues left out or encoding converted, one line each (checkSubtitleFile). */
  notes?: string[];
}

/** Text subtitle codecs ffmpeg converts to WebVTT; bitmap ones (PGS, DVB, VobSub) would need OCR. */
const TEXT_SUBTITLE_CODECS = new Set(['mov_text', 'subrip', 'srt', 'ass', 'ssa', 'webvtt', 'text']);

/**
 * Every text subtitle stream of the source, then every sidecar, as WebVTT renditions. Names are
 * unique (HLS requires it within a group): the title when the source has one, else the language.
 */
export function planSubtitles(probe: MediaProbe, sidecars: readonly SidecarSubtitle[] = []): SubtitlePlan[] {
  const fromSource = probe.subtitleStreams
    .filter((stream) => TEXT_SUBTITLE_CODECS.has(stream.codec))
    .map((stream) => ({ from: { streamIndex: stream.index }, language: stream.language ?? 'und', title: stream.title, isDefault: stream.isDefault, role: stream.role }));
  // Checked here so a typo fails before any encoding starts.
  const notes = sidecars.map((sidecar) => {
    if (!existsSync(sidecar.path)) throw new VidpipeError('USAGE', `--subtitles: ${sidecar.path} does not exist`);
    return checkSubtitleFile(sidecar.path).notes;
  });
  const fromFiles = sidecars.map((sidecar, i) => ({ from: { file: sidecar.path }, language: sidecar.language, title: undefined, isDefault: false, role: sidecar.role, notes: notes[i] }));
  const all = [...fromSource, ...fromFiles];
  const usedIds = new Set<string>();
  const usedNames = new Set<string>();
  let defaultTaken = false;
  return all.map((entry) => {
    // The id names the rendition's folder: only a well-formed tag (letters, digits, '-') may reach it.
    const language = sourceLanguage(entry.language) ?? 'und';
    let id = `sub-${language.toLowerCase()}`;
    for (let n = 2; usedIds.has(id); n++) id = `sub-${language.toLowerCase()}-${n}`;
    usedIds.add(id);
    const base = titleName(entry.title) || withRoleSuffix(language === 'und' ? 'Subtitles' : languageName(language), subtitleSignalling(entry.role));
    let name = base;
    for (let n = 2; usedNames.has(name); n++) name = `${base} ${n}`;
    usedNames.add(name);
    // HLS allows one DEFAULT=YES per group.
    const isDefault = entry.isDefault && !defaultTaken;
    defaultTaken ||= isDefault;
    return { id, from: entry.from, language, name, isDefault, ...(entry.role ? { role: entry.role } : {}), ...('notes' in entry && entry.notes.length > 0 ? { notes: entry.notes } : {}) };
  });
}

export interface Cue {
  /** Seconds on the presentation timeline. */
  start: number;
  end: number;
  /** Cue settings after the timing (e.g. "line:90%"), kept as ffmpeg wrote them. */
  settings: string;
  text: string;
}

export interface ExtractedSubtitle {
  plan: SubtitlePlan;
  cues: Cue[];
}

export interface SubtitlesInput {
  source: string;
  tracks: SubtitlePlan[];
}

export interface SubtitlesOutput {
  tracks: ExtractedSubtitle[];
}

/** Converts every planned subtitle track to WebVTT with ffmpeg and parses its cues. */
export async function extractSubtitles(input: SubtitlesInput, ctx: StageContext): Promise<SubtitlesOutput> {
  const dir = join(ctx.workDir, 'subtitles');
  await mkdir(dir, { recursive: true });
  const tracks: ExtractedSubtitle[] = [];
  for (const [i, plan] of input.tracks.entries()) {
    const isFile = 'file' in plan.from;
    const file = 'file' in plan.from ? plan.from.file : input.source;
    if (isFile) {
      await access(file).catch(() => {
        throw new VidpipeError('INPUT_NOT_FOUND', `--subtitles: ${file} does not exist or cannot be read`);
      });
    }
    const output = join(dir, `${plan.id}.vtt`);
    let converted = file;
    if (isFile) {
      // What ffmpeg converts is the file as checked (by planning, in this process): UTF-8, the bad cues left out.
      const checked = checkSubtitleFile(file);
      converted = join(dir, `${plan.id}.checked.${checked.format}`);
      await writeFile(converted, checked.text);
    }
    await ctx.ffmpeg.run(buildSubtitleExtractArgs({ input: converted, streamIndex: 'streamIndex' in plan.from ? plan.from.streamIndex : undefined, output }), { label: `subtitles ${plan.id}` });
    tracks.push({ plan, cues: parseWebVtt(await readFile(output, 'utf8')) });
    ctx.onProgress((i + 1) / input.tracks.length);
  }
  ctx.onProgress(1);
  return { tracks };
}

// ---- WebVTT -------------------------------------------------------------------------------

const TIMING = /^\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}\.\d{3})(.*)$/;

function parseTimestamp(text: string): number {
  const parts = text.split(':').map(Number);
  return parts.reduce((total, part) => total * 60 + part, 0);
}

/** The cues of a WebVTT file (the subset ffmpeg's webvtt muxer writes: no regions, no STYLE blocks). */
export function parseWebVtt(text: string): Cue[] {
  const blocks = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split(/\n{2,}/);
  const cues: Cue[] = [];
  for (const block of blocks) {
    const lines = block.split('\n');
    const timingIndex = lines.findIndex((line) => line.includes('-->'));
    if (timingIndex < 0) continue;
    const match = TIMING.exec(lines[timingIndex]!);
    if (!match) throw new VidpipeError('FFMPEG_FAILED', `unreadable WebVTT cue timing: ${lines[timingIndex]}`);
    const text = lines.slice(timingIndex + 1).join('\n').trim();
    if (!text) continue;
    cues.push({ start: parseTimestamp(match[1]!), end: parseTimestamp(match[2]!), settings: match[3]!.trim(), text });
  }
  return cues;
}

export function vttTime(seconds: number): string {
  const totalMs = Math.round(seconds * 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  const s = Math.floor(totalMs / 1000);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}.${pad(totalMs % 1000, 3)}`;
}

function cueText(cue: Cue): string {
  // A blank line would end the cue early; "-->" inside text would start a new one.
  const text = cue.text.replace(/\n{2,}/g, '\n').replace(/-->/g, '--&gt;');
  return `${vttTime(cue.start)} --> ${vttTime(cue.end)}${cue.settings ? ` ${cue.settings}` : ''}\n${text}`;
}

function vttFile(cues: Cue[], header: string[] = []): string {
  return `${['WEBVTT', ...header].join('\n')}\n\n${cues.map(cueText).join('\n\n')}${cues.length ? '\n' : ''}`;
}

/** Cues clipped to [0, duration]: nothing may be shown outside the presentation. */
export function clipCues(cues: Cue[], durationSeconds: number): Cue[] {
  return cues
    .filter((cue) => cue.end > 0 && cue.start < durationSeconds && cue.end > cue.start)
    .map((cue) => ({ ...cue, start: Math.max(0, cue.start), end: Math.min(durationSeconds, cue.end) }));
}

export interface WrittenSubtitle {
  plan: SubtitlePlan;
  /** Relative to the package root. */
  playlistUri: string;
  vttUri: string;
  segments: { uri: string; durationSeconds: number }[];
}

export interface SegmentSubtitlesInput {
  packageDir: string;
  track: ExtractedSubtitle;
  segmentDurationSeconds: number;
  durationSeconds: number;
  /**
   * The media time (90 kHz) at which the video's presentation starts: HLS maps WebVTT's local
   * time 0 to it with X-TIMESTAMP-MAP, so cues line up with the fMP4 tfdt / TS PTS timeline.
   */
  mpegtsAtZero: number;
}

/**
 * Writes subtitles/<id>/seg_NNNNN.vtt on the video's segment grid (one per video segment, so
 * players fetch them in step) plus subtitles/<id>/full.vtt for DASH. A cue that spans a
 * boundary is repeated in each segment it overlaps, as RFC 8216 §3.5 expects.
 */
export async function writeSubtitleSegments(input: SegmentSubtitlesInput): Promise<WrittenSubtitle> {
  const { plan } = input.track;
  const base = `subtitles/${plan.id}`;
  const dir = join(input.packageDir, 'subtitles', plan.id);
  await mkdir(dir, { recursive: true });
  const cues = clipCues(input.track.cues, input.durationSeconds);
  const count = Math.max(1, Math.ceil(input.durationSeconds / input.segmentDurationSeconds - 1e-6));
  const header = [`X-TIMESTAMP-MAP=MPEGTS:${input.mpegtsAtZero},LOCAL:00:00:00.000`];
  const segments: WrittenSubtitle['segments'] = [];
  for (let k = 0; k < count; k++) {
    const start = k * input.segmentDurationSeconds;
    const end = k === count - 1 ? input.durationSeconds : (k + 1) * input.segmentDurationSeconds;
    const name = `seg_${String(k + 1).padStart(5, '0')}.vtt`;
    await writeFile(join(dir, name), vttFile(cues.filter((cue) => cue.start < end && cue.end > start), header));
    segments.push({ uri: `${base}/${name}`, durationSeconds: end - start });
  }
  await writeFile(join(dir, 'full.vtt'), vttFile(cues));
  return { plan, playlistUri: `${base}/index.m3u8`, vttUri: `${base}/full.vtt`, segments };
}
