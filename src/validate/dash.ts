/**
 * DASH MPD checks (reference section A, assertions 30–37): structure and required attributes
 * from the XML, then the segments the SegmentTemplates expand to, measured from their bytes.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describeInit } from '../media/codec-strings.js';
import { measureTrack } from '../media/measure.js';
import { fail, fromProblems, pass, percentOff, skip, withinRatio, type CheckResult } from './result.js';
import type { PackageReader } from './source.js';
import { AUDIO_PURPOSE_SCHEME, AUDIO_PURPOSE_VISUALLY_IMPAIRED, KNOWN_DASH_ROLES, ROLE_SCHEME } from '../manifest/roles.js';

type XmlNode = Record<string, any>;

const LIST_ELEMENTS = new Set(['Period', 'AdaptationSet', 'Representation', 'S', 'BaseURL', 'SegmentURL', 'AudioChannelConfiguration', 'Role', 'Accessibility', 'ContentComponent']);
const BANDWIDTH_TOLERANCE = 0.1;
const DURATION_TOLERANCE = 0.1;

export interface DashRepresentation {
  id: string;
  name: string;
  periodIndex: number;
  setIndex: number;
  contentType: string;
  /** Attributes of the Representation over those of its AdaptationSet. */
  attributes: Record<string, string>;
  set: XmlNode;
  representation: XmlNode;
  /** Absolute refs of the init and media segments, when the addressing could be expanded. */
  initRef?: string;
  mediaRefs?: string[];
  /** Σ segment durations from the SegmentTimeline or @duration, seconds. */
  timelineSeconds?: number;
  addressing: 'template' | 'list' | 'base' | 'none';
  /** Why the segment list could not be expanded. */
  expandError?: string;
  /** How many of its init/media files do not exist. */
  missingFiles: number;
}

export interface DashPackage {
  reader: PackageReader;
  ref: string;
  name: string;
  text: string;
  /** XMLValidator's complaint when the file is not well-formed XML. */
  xmlError?: string;
  mpd?: XmlNode;
  durationSeconds?: number;
  representations: DashRepresentation[];
  missing: string[];
  uriCount: number;
}

/** ISO 8601 durations as MPDs use them (PT1H2M3.5S, P0Y0M1DT…); years and months are approximated. */
export function parseIsoDuration(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const match = /^P(?:([\d.]+)Y)?(?:([\d.]+)M)?(?:([\d.]+)D)?(?:T(?:([\d.]+)H)?(?:([\d.]+)M)?(?:([\d.]+)S)?)?$/.exec(text.trim());
  if (!match) return undefined;
  const [y, mo, d, h, mi, s] = match.slice(1).map((part) => Number(part ?? 0));
  return y! * 31536000 + mo! * 2592000 + d! * 86400 + h! * 3600 + mi! * 60 + s!;
}

const asList = (value: unknown): XmlNode[] => (Array.isArray(value) ? value : value === undefined ? [] : [value as XmlNode]);

function ownAttributes(node: XmlNode | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(node ?? {})) if (typeof value !== 'object') attributes[key] = String(value);
  return attributes;
}

function contentTypeOf(set: XmlNode, rep: XmlNode): string {
  const explicit = set.contentType ?? rep.contentType;
  if (explicit) return String(explicit);
  const mime = String(rep.mimeType ?? set.mimeType ?? '');
  return mime.split('/')[0] || 'unknown';
}

/** RFC-style template substitution of ISO/IEC 23009-1 §5.3.9.4.4 ($Number%05d$ and friends). */
export function expandTemplate(template: string, values: { RepresentationID: string; Number?: number; Time?: number; Bandwidth?: string }): string {
  return template.replace(/\$(RepresentationID|Number|Time|Bandwidth|)(?:%0(\d+)d)?\$/g, (_all, name: string, width: string | undefined) => {
    if (name === '') return '$';
    const value = values[name as keyof typeof values];
    if (value === undefined) throw new Error(`$${name}$ cannot be filled here`);
    return width ? String(value).padStart(Number(width), '0') : String(value);
  });
}

function baseRef(reader: PackageReader, start: string, ...nodes: (XmlNode | undefined)[]): string {
  let base = start;
  for (const node of nodes) {
    const url = asList(node?.BaseURL)[0];
    const text = typeof url === 'object' ? url?.['#text'] : url;
    if (text) base = reader.resolve(base, String(text).trim());
  }
  return base;
}

function expandRepresentation(reader: PackageReader, entry: DashRepresentation, base: string, period: XmlNode, periodSeconds: number | undefined): void {
  const set = entry.set;
  const rep = entry.representation;
  const template = { ...ownAttributes(period.SegmentTemplate), ...ownAttributes(set.SegmentTemplate), ...ownAttributes(rep.SegmentTemplate) };
  const timeline = rep.SegmentTemplate?.SegmentTimeline ?? set.SegmentTemplate?.SegmentTimeline ?? period.SegmentTemplate?.SegmentTimeline;
  const values = { RepresentationID: entry.id, Bandwidth: entry.attributes.bandwidth };
  if (Object.keys(template).length > 0 || timeline) {
    entry.addressing = 'template';
    const timescale = Number(template.timescale ?? 1);
    const startNumber = Number(template.startNumber ?? 1);
    if (!template.media) {
      entry.expandError = 'SegmentTemplate has no @media';
      return;
    }
    try {
      if (template.initialization) entry.initRef = reader.resolve(base, expandTemplate(template.initialization, values));
      const segments: { time: number; duration: number }[] = [];
      if (timeline) {
        let time = 0;
        for (const s of asList(timeline.S)) {
          time = s.t !== undefined ? Number(s.t) : time;
          const d = Number(s.d);
          let repeat = Number(s.r ?? 0);
          if (repeat < 0) repeat = periodSeconds === undefined ? 0 : Math.ceil((periodSeconds * timescale - time) / d) - 1;
          if (!(d > 0)) throw new Error(`SegmentTimeline S@d="${s.d}" is not positive`);
          for (let i = 0; i <= repeat; i++, time += d) segments.push({ time, duration: d });
        }
      } else if (template.duration) {
        const d = Number(template.duration);
        if (periodSeconds === undefined) throw new Error('SegmentTemplate@duration needs a known Period duration');
        const count = Math.ceil((periodSeconds * timescale) / d - 1e-9);
        for (let i = 0; i < count; i++) segments.push({ time: i * d, duration: Math.min(d, periodSeconds * timescale - i * d) });
      } else {
        throw new Error('SegmentTemplate has neither a SegmentTimeline nor @duration');
      }
      entry.mediaRefs = segments.map((segment, index) => reader.resolve(base, expandTemplate(template.media!, { ...values, Number: startNumber + index, Time: segment.time })));
      entry.timelineSeconds = segments.reduce((sum, segment) => sum + segment.duration, 0) / timescale;
    } catch (error) {
      entry.expandError = (error as Error).message;
    }
    return;
  }
  const list = rep.SegmentList ?? set.SegmentList;
  if (list) {
    entry.addressing = 'list';
    const init = list.Initialization?.sourceURL;
    if (init) entry.initRef = reader.resolve(base, String(init));
    entry.mediaRefs = asList(list.SegmentURL).map((segment) => reader.resolve(base, String(segment.media)));
    return;
  }
  if (rep.SegmentBase ?? set.SegmentBase ?? asList(rep.BaseURL).length) {
    // On-demand profile: one file with a sidx; the file itself is the only URL to check.
    entry.addressing = 'base';
    entry.mediaRefs = [base];
    return;
  }
  entry.expandError = 'no SegmentTemplate, SegmentList or SegmentBase';
}

export async function loadDash(reader: PackageReader, ref: string): Promise<DashPackage> {
  const text = await reader.readText(ref);
  const pkg: DashPackage = { reader, ref, name: reader.display(ref), text, representations: [], missing: [], uriCount: 0 };
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    pkg.xmlError = `${valid.err.msg} (line ${valid.err.line})`;
    return pkg;
  }
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, parseAttributeValue: false, isArray: (name) => LIST_ELEMENTS.has(name) });
  const mpd = parser.parse(text).MPD as XmlNode | undefined;
  if (!mpd) {
    pkg.xmlError = 'the root element is not MPD';
    return pkg;
  }
  pkg.mpd = mpd;
  pkg.durationSeconds = parseIsoDuration(mpd.mediaPresentationDuration);
  asList(mpd.Period).forEach((period, periodIndex) => {
    const periodSeconds = parseIsoDuration(period.duration) ?? (pkg.durationSeconds !== undefined ? pkg.durationSeconds - (parseIsoDuration(period.start) ?? 0) : undefined);
    asList(period.AdaptationSet).forEach((set, setIndex) => {
      for (const rep of asList(set.Representation)) {
        const attributes = { ...ownAttributes(set), ...ownAttributes(rep) };
        const id = String(rep.id ?? '');
        const entry: DashRepresentation = {
          id,
          name: `Representation ${id || '(no id)'}`,
          periodIndex,
          setIndex,
          contentType: contentTypeOf(set, rep),
          attributes,
          set,
          representation: rep,
          addressing: 'none',
          missingFiles: 0,
        };
        expandRepresentation(reader, entry, baseRef(reader, ref, mpd, period, set, rep), period, periodSeconds);
        pkg.representations.push(entry);
      }
    });
  });
  for (const rep of pkg.representations) {
    for (const fileRef of [...(rep.initRef ? [rep.initRef] : []), ...(rep.mediaRefs ?? [])]) {
      pkg.uriCount++;
      if (await reader.exists(fileRef)) continue;
      rep.missingFiles++;
      pkg.missing.push(`${reader.display(fileRef)} (${rep.name})`);
    }
  }
  return pkg;
}

// ---- checks ---------------------------------------------------------------------------------

function needMpd(id: string, pkg: DashPackage, run: (mpd: XmlNode) => CheckResult | Promise<CheckResult>): CheckResult | Promise<CheckResult> {
  return pkg.mpd ? run(pkg.mpd) : skip(id, `${pkg.name} is not a readable MPD`);
}

export function checkDashParse(pkg: DashPackage): CheckResult {
  if (pkg.xmlError) return fail('dash-parse', `${pkg.name}: ${pkg.xmlError}`);
  return pass('dash-parse', `${pkg.name} is well-formed XML with an MPD root and ${pkg.representations.length} Representations`);
}

export const checkDashStatic = (pkg: DashPackage) =>
  needMpd('dash-static', pkg, (mpd) => {
    if (mpd.type === undefined) return pass('dash-static', 'MPD@type absent, which defaults to static');
    return mpd.type === 'static' ? pass('dash-static', 'MPD@type="static" (VOD)') : fail('dash-static', `MPD@type="${mpd.type}", expected "static" for VOD`);
  });

const LIVE = 'urn:mpeg:dash:profile:isoff-live:2011';
const ON_DEMAND = 'urn:mpeg:dash:profile:isoff-on-demand:2011';
const KNOWN_PROFILES = [LIVE, ON_DEMAND, 'urn:mpeg:dash:profile:isoff-main:2011', 'urn:mpeg:dash:profile:full:2011', 'urn:mpeg:dash:profile:cmaf:2019', 'urn:mpeg:dash:profile:isoff-ext-live:2014', 'urn:mpeg:dash:profile:isoff-ext-on-demand:2014'];

export const checkDashProfiles = (pkg: DashPackage) =>
  needMpd('dash-profiles', pkg, (mpd) => {
    const profiles = String(mpd.profiles ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    if (profiles.length === 0) return fail('dash-profiles', 'MPD@profiles is missing');
    if (!profiles.some((profile) => KNOWN_PROFILES.includes(profile))) return fail('dash-profiles', `MPD@profiles "${profiles.join(',')}" names no ISO BMFF DASH profile`);
    const templated = pkg.representations.some((rep) => rep.addressing === 'template');
    if (templated && profiles.length === 1 && profiles[0] === ON_DEMAND) return fail('dash-profiles', 'on-demand profile only, but SegmentTemplate addressing (needs isoff-live)');
    return pass('dash-profiles', `MPD@profiles ${profiles.join(', ')}`);
  });

export const checkDashMpdAttributes = (pkg: DashPackage) =>
  needMpd('dash-mpd-attributes', pkg, (mpd) => {
    const problems: string[] = [];
    const periods = asList(mpd.Period);
    const lastHasDuration = parseIsoDuration(periods[periods.length - 1]?.duration) !== undefined;
    if (pkg.durationSeconds === undefined && !lastHasDuration) {
      problems.push(mpd.mediaPresentationDuration ? `mediaPresentationDuration "${mpd.mediaPresentationDuration}" is not an ISO 8601 duration` : 'no mediaPresentationDuration (and the last Period has no @duration)');
    }
    if (parseIsoDuration(mpd.minBufferTime) === undefined) problems.push(mpd.minBufferTime ? `minBufferTime "${mpd.minBufferTime}" is not an ISO 8601 duration` : 'no minBufferTime');
    if (periods.length === 0) problems.push('no Period');
    const firstStart = parseIsoDuration(periods[0]?.start);
    if (firstStart !== undefined && firstStart !== 0) problems.push(`first Period@start is ${periods[0].start}, not 0`);
    return fromProblems('dash-mpd-attributes', problems, `mediaPresentationDuration ${mpd.mediaPresentationDuration}, minBufferTime ${mpd.minBufferTime}`);
  });

const codecFamily = (codecs: string | undefined) => (codecs ?? '').split('.')[0]!.toLowerCase();

export const checkDashAdaptationSets = (pkg: DashPackage) =>
  needMpd('dash-adaptation-sets', pkg, (mpd) => {
    const problems: string[] = [];
    let sets = 0;
    asList(mpd.Period).forEach((period, periodIndex) => {
      const ids = new Set<string>();
      const keys = new Map<string, string>();
      asList(period.AdaptationSet).forEach((set, setIndex) => {
        sets++;
        const where = `Period ${periodIndex} AdaptationSet ${set.id ?? `#${setIndex}`}`;
        if (set.id === undefined) problems.push(`${where}: no @id`);
        else if (ids.has(String(set.id))) problems.push(`${where}: @id ${set.id} used twice`);
        else ids.add(String(set.id));
        const reps = asList(set.Representation);
        if (reps.length === 0) problems.push(`${where}: no Representation`);
        if (reps.some((rep) => !(rep.mimeType ?? set.mimeType))) problems.push(`${where}: mimeType on neither the AdaptationSet nor every Representation`);
        const families = new Set(reps.map((rep) => codecFamily(rep.codecs ?? set.codecs)));
        if (families.size > 1) problems.push(`${where}: mixes codecs ${[...families].join(', ')} (one AdaptationSet per codec)`);
        for (const level of [set, ...reps]) {
          const kinds = ['SegmentBase', 'SegmentList', 'SegmentTemplate'].filter((name) => level[name] !== undefined);
          if (kinds.length > 1) problems.push(`${where}: ${kinds.join(' and ')} at one level`);
        }
        const type = contentTypeOf(set, reps[0] ?? {});
        // Two sets of one language and role are told apart by their Label (two subtitle tracks of one language).
        const labels = asList(set.Label).map((label) => String(typeof label === 'object' ? (label?.['#text'] ?? '') : label));
        const key = `${type}/${[...families].join('+')}/${set.lang ?? ''}/${asList(set.Role).map((r) => r.value).join('+')}/${labels.join('+')}`;
        const other = keys.get(key);
        if (other !== undefined) problems.push(`${where}: same content type, codec, language, role and label as AdaptationSet ${other}`);
        keys.set(key, String(set.id ?? setIndex));
      });
    });
    return fromProblems('dash-adaptation-sets', problems, `${sets} AdaptationSets, one per content type and codec, with unique ids`);
  });

const VIDEO_ATTRIBUTES = ['width', 'height', 'frameRate', 'sar'];

export const checkDashRepresentationAttributes = (pkg: DashPackage) =>
  needMpd('dash-representation-attributes', pkg, () => {
    const problems: string[] = [];
    const media = pkg.representations.filter((rep) => rep.contentType === 'video' || rep.contentType === 'audio');
    for (const rep of pkg.representations) {
      const absent = ['id', 'bandwidth'].filter((name) => rep.representation[name] === undefined);
      if (absent.length) problems.push(`${rep.name}: no ${absent.join(', ')}`);
    }
    for (const rep of media) {
      const absent: string[] = [];
      if (!rep.attributes.codecs) absent.push('codecs');
      if (rep.contentType === 'video') absent.push(...VIDEO_ATTRIBUTES.filter((name) => !rep.attributes[name]));
      if (rep.contentType === 'audio') {
        if (!rep.attributes.audioSamplingRate) absent.push('audioSamplingRate');
        if (!asList(rep.representation.AudioChannelConfiguration).length && !asList(rep.set.AudioChannelConfiguration).length) absent.push('AudioChannelConfiguration');
        if (!rep.set.lang) absent.push('AdaptationSet@lang');
      }
      if (absent.length) problems.push(`${rep.name} (${rep.contentType}): no ${absent.join(', ')}`);
    }
    return fromProblems('dash-representation-attributes', problems, `${pkg.representations.length} Representations carry id, bandwidth, codecs and their ${media.length ? 'video/audio ' : ''}attributes`);
  });

export const checkDashAlignment = (pkg: DashPackage) =>
  needMpd('dash-alignment', pkg, (mpd) => {
    const problems: string[] = [];
    const onDemand = String(mpd.profiles ?? '').includes('on-demand');
    const alignment = onDemand ? 'subsegmentAlignment' : 'segmentAlignment';
    const sapName = onDemand ? 'subsegmentStartsWithSAP' : 'startWithSAP';
    let sets = 0;
    for (const period of asList(mpd.Period)) {
      for (const set of asList(period.AdaptationSet)) {
        const type = contentTypeOf(set, asList(set.Representation)[0] ?? {});
        if (type !== 'video' && type !== 'audio') continue;
        sets++;
        const where = `AdaptationSet ${set.id ?? '?'} (${type})`;
        if (String(set[alignment]) !== 'true') problems.push(`${where}: ${alignment} is ${set[alignment] ?? 'absent'}, not true`);
        const saps = [set[sapName], ...asList(set.Representation).map((rep) => rep[sapName])].filter((v) => v !== undefined).map(Number);
        if (saps.length === 0 || saps.some((sap) => sap !== 1 && sap !== 2)) problems.push(`${where}: ${sapName} is ${saps.join('/') || 'absent'}, not 1 or 2`);
      }
    }
    return fromProblems('dash-alignment', problems, `${alignment}="true" and ${sapName} 1/2 on ${sets} audio/video AdaptationSets`);
  });

export function checkDashSegments(pkg: DashPackage): CheckResult {
  if (!pkg.mpd) return skip('dash-segments', `${pkg.name} is not a readable MPD`);
  const problems = [
    ...pkg.representations.filter((rep) => rep.expandError).map((rep) => `${rep.name}: ${rep.expandError}`),
    ...pkg.missing.map((missing) => `missing ${missing}`),
  ];
  return fromProblems('dash-segments', problems, `all ${pkg.uriCount} init and media segment URLs of ${pkg.representations.length} Representations exist`);
}

export function checkDashTimeline(pkg: DashPackage): CheckResult {
  if (!pkg.mpd) return skip('dash-timeline-duration', `${pkg.name} is not a readable MPD`);
  if (pkg.durationSeconds === undefined) return skip('dash-timeline-duration', 'no mediaPresentationDuration to compare with');
  const timed = pkg.representations.filter((rep) => rep.timelineSeconds !== undefined && rep.periodIndex === 0);
  if (timed.length === 0) return skip('dash-timeline-duration', 'no SegmentTemplate timeline to sum');
  const problems = timed
    .filter((rep) => Math.abs(rep.timelineSeconds! - pkg.durationSeconds!) > DURATION_TOLERANCE)
    .map((rep) => `${rep.name}: segments sum to ${rep.timelineSeconds!.toFixed(3)} s vs mediaPresentationDuration ${pkg.durationSeconds!.toFixed(3)} s`);
  const sums = [...new Set(timed.map((rep) => rep.timelineSeconds!.toFixed(3)))].join('/');
  return fromProblems('dash-timeline-duration', problems, `segment durations sum to ${sums} s, within ${DURATION_TOLERANCE} s of mediaPresentationDuration ${pkg.durationSeconds.toFixed(3)} s`);
}

/** Representations whose init and media files all exist, so their bytes can be read. */
function readable(pkg: DashPackage): DashRepresentation[] {
  return pkg.representations.filter((rep) => (rep.contentType === 'video' || rep.contentType === 'audio') && rep.initRef && rep.mediaRefs && rep.missingFiles === 0);
}

export async function checkDashCodecs(pkg: DashPackage): Promise<CheckResult> {
  const reps = readable(pkg);
  if (reps.length === 0) return skip('dash-codecs', 'no Representation with a readable init segment');
  const problems: string[] = [];
  for (const rep of reps) {
    let description;
    try {
      description = describeInit(await pkg.reader.readBytes(rep.initRef!));
    } catch (error) {
      problems.push(`${rep.name}: cannot read init ${pkg.reader.display(rep.initRef!)}: ${(error as Error).message}`);
      continue;
    }
    const declared = rep.attributes.codecs;
    if (!declared || declared.toLowerCase() !== description.codecs.toLowerCase()) problems.push(`${rep.name}: codecs "${declared ?? ''}" vs bitstream "${description.codecs}"`);
    if (rep.contentType === 'video' && rep.attributes.width && (Number(rep.attributes.width) !== description.width || Number(rep.attributes.height) !== description.height)) {
      problems.push(`${rep.name}: ${rep.attributes.width}x${rep.attributes.height} vs coded ${description.width}x${description.height}`);
    }
  }
  return fromProblems('dash-codecs', problems, `codecs (and width/height) equal the init segments of ${reps.length} Representations`);
}

export async function checkDashBandwidth(pkg: DashPackage): Promise<CheckResult> {
  const reps = readable(pkg).filter((rep) => rep.addressing === 'template' || rep.addressing === 'list');
  if (reps.length === 0) return skip('dash-bandwidth', 'no Representation with readable, separately addressed segments');
  const problems: string[] = [];
  const compared: string[] = [];
  for (const rep of reps) {
    try {
      const track = await measureTrack({
        initPath: await pkg.reader.localPath(rep.initRef!),
        initUri: rep.initRef!,
        segments: await Promise.all(rep.mediaRefs!.map(async (ref) => ({ path: await pkg.reader.localPath(ref), uri: ref }))),
      });
      const declared = Number(rep.attributes.bandwidth);
      compared.push(`${rep.name}: ${declared} vs ${track.peakBitrate}`);
      if (!withinRatio(declared, track.peakBitrate, BANDWIDTH_TOLERANCE)) {
        problems.push(`${rep.name}: bandwidth ${rep.attributes.bandwidth} vs measured peak ${track.peakBitrate} (${percentOff(declared, track.peakBitrate)}, allowed ±10 %)`);
      }
    } catch (error) {
      problems.push(`${rep.name}: cannot measure: ${(error as Error).message}`);
    }
  }
  return fromProblems('dash-bandwidth', problems, `@bandwidth within ±10 % of the measured peak segment bit rate on ${compared.length} Representations`, compared);
}

export function checkDashSourceDuration(pkg: DashPackage, sourceSeconds: number | undefined): CheckResult {
  if (sourceSeconds === undefined) return skip('dash-duration-source', 'no --source given');
  if (pkg.durationSeconds === undefined) return skip('dash-duration-source', 'no mediaPresentationDuration');
  const diff = Math.abs(pkg.durationSeconds - sourceSeconds);
  const message = `mediaPresentationDuration ${pkg.durationSeconds.toFixed(3)} s vs source ${sourceSeconds.toFixed(3)} s`;
  return diff <= DURATION_TOLERANCE ? pass('dash-duration-source', `${message}, within ${DURATION_TOLERANCE} s`) : fail('dash-duration-source', `${message} (more than ${DURATION_TOLERANCE} s apart)`);
}

// ---- roles and channels --------------------------------------------------------------------

const TEXT_ROLES = new Set(['subtitle', 'caption', 'forced-subtitle']);
/** Accessibility schemes players act on, and the values each allows (undefined: any). */
const ACCESSIBILITY_VALUES: Record<string, ((value: string) => boolean) | undefined> = {
  [ROLE_SCHEME]: (value) => KNOWN_DASH_ROLES.has(value),
  // TV-Anytime AudioPurposeCS: 1 visually impaired … 8; the terms are integers.
  [AUDIO_PURPOSE_SCHEME]: (value) => /^[1-8]$/.test(value),
  'urn:scte:dash:cc:cea-608:2015': undefined,
  'urn:scte:dash:cc:cea-708:2015': undefined,
};

/**
 * Role and Accessibility descriptors (ISO/IEC 23009-1 §5.8.5.5, DASH-IF IOP): Role in
 * urn:mpeg:dash:role:2011 with one of its values, on the content type it names; Accessibility in
 * a scheme players read; described audio (Role description) also says so in AudioPurposeCS 1,
 * which is what dash.js and Shaka look for.
 */
export const checkDashRoles = (pkg: DashPackage) =>
  needMpd('dash-roles', pkg, (mpd) => {
    const problems: string[] = [];
    let descriptors = 0;
    for (const period of asList(mpd.Period)) {
      for (const set of asList(period.AdaptationSet)) {
        const type = contentTypeOf(set, asList(set.Representation)[0] ?? {});
        const where = `AdaptationSet ${set.id ?? '?'} (${type}${set.lang ? `, ${set.lang}` : ''})`;
        const roles = asList(set.Role);
        const accessibility = asList(set.Accessibility);
        descriptors += roles.length + accessibility.length;
        for (const role of roles) {
          if (role.schemeIdUri !== ROLE_SCHEME) problems.push(`${where}: Role scheme "${role.schemeIdUri ?? ''}" is not ${ROLE_SCHEME}`);
          else if (!KNOWN_DASH_ROLES.has(String(role.value))) problems.push(`${where}: Role value "${role.value ?? ''}" is not one of ${ROLE_SCHEME}`);
          else if (TEXT_ROLES.has(String(role.value)) && type !== 'text') problems.push(`${where}: Role "${role.value}" is for text, not ${type}`);
        }
        for (const descriptor of accessibility) {
          const scheme = String(descriptor.schemeIdUri ?? '');
          if (!(scheme in ACCESSIBILITY_VALUES)) problems.push(`${where}: Accessibility scheme "${scheme}" is not one players read (${Object.keys(ACCESSIBILITY_VALUES).join(', ')})`);
          else if (ACCESSIBILITY_VALUES[scheme] && !ACCESSIBILITY_VALUES[scheme]!(String(descriptor.value ?? ''))) problems.push(`${where}: Accessibility value "${descriptor.value ?? ''}" is not one of ${scheme}`);
          else if (scheme === AUDIO_PURPOSE_SCHEME && type !== 'audio') problems.push(`${where}: ${AUDIO_PURPOSE_SCHEME} describes audio, not ${type}`);
        }
        const describedAudio = type === 'audio' && roles.some((role) => role.value === 'description');
        const purpose = accessibility.some((d) => d.schemeIdUri === AUDIO_PURPOSE_SCHEME && String(d.value) === AUDIO_PURPOSE_VISUALLY_IMPAIRED);
        if (describedAudio && !purpose) problems.push(`${where}: Role description without Accessibility ${AUDIO_PURPOSE_SCHEME} value ${AUDIO_PURPOSE_VISUALLY_IMPAIRED} (players would not offer it as audio description)`);
      }
    }
    return fromProblems('dash-roles', problems, `${descriptors} Role/Accessibility descriptors in known schemes with known values`);
  });

/** Channels an AudioChannelConfiguration says, by scheme; undefined for a scheme not known here. */
export function channelsOfConfiguration(scheme: string, value: string): number | undefined {
  switch (scheme) {
    case 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011':
      return /^\d+$/.test(value) ? Number(value) : undefined;
    case 'urn:mpeg:mpegB:cicp:ChannelConfiguration': {
      // ISO/IEC 23091-3 ChannelConfiguration → loudspeakers (LFE included).
      const byIndex = [0, 1, 2, 3, 4, 5, 6, 8, 2, 3, 4, 7, 8, 24, 8, 12, 10, 12, 14, 12, 14];
      return byIndex[Number(value)] || undefined;
    }
    case 'tag:dolby.com,2014:dash:audio_channel_configuration:2011':
    case 'urn:dolby:dash:audio_channel_configuration:2011': {
      // 16-bit mask from L (bit 15) down to LFE (bit 0); some bits stand for a pair (ETSI TS 102 366 Table I.1.1).
      if (!/^[0-9A-Fa-f]{1,4}$/.test(value)) return undefined;
      const mask = parseInt(value, 16);
      let channels = 0;
      for (let bit = 15; bit >= 0; bit--) if (mask & (1 << bit)) channels += DOLBY_PAIR_BITS.has(bit) ? 2 : 1;
      return channels || undefined;
    }
    default:
      return undefined;
  }
}

/** Bits of the Dolby channel mask that stand for two loudspeakers: Lc/Rc, Lrs/Rrs, Lsd/Rsd, Lw/Rw, Vhl/Vhr, Lts/Rts. */
const DOLBY_PAIR_BITS = new Set([10, 9, 6, 5, 4, 2]);

/** AudioChannelConfiguration equals the channels the init segment decodes to (CHANNELS' DASH twin). */
export async function checkDashChannels(pkg: DashPackage): Promise<CheckResult> {
  const reps = readable(pkg).filter((rep) => rep.contentType === 'audio');
  if (reps.length === 0) return skip('dash-channels', 'no audio Representation with a readable init segment');
  const problems: string[] = [];
  const compared: string[] = [];
  for (const rep of reps) {
    const configuration = asList(rep.representation.AudioChannelConfiguration)[0] ?? asList(rep.set.AudioChannelConfiguration)[0];
    if (!configuration) continue; // reported by dash-representation-attributes
    const declared = channelsOfConfiguration(String(configuration.schemeIdUri ?? ''), String(configuration.value ?? ''));
    if (declared === undefined) {
      problems.push(`${rep.name}: AudioChannelConfiguration "${configuration.value ?? ''}" in scheme "${configuration.schemeIdUri ?? ''}" names no channel count known here`);
      continue;
    }
    let channels: number | undefined;
    try {
      channels = describeInit(await pkg.reader.readBytes(rep.initRef!)).channels;
    } catch (error) {
      problems.push(`${rep.name}: cannot read init ${pkg.reader.display(rep.initRef!)}: ${(error as Error).message}`);
      continue;
    }
    if (channels === undefined) continue;
    compared.push(`${rep.name}: ${declared} vs ${channels}`);
    if (declared !== channels) problems.push(`${rep.name}: AudioChannelConfiguration says ${declared} channels, the init segment ${channels}`);
  }
  return fromProblems('dash-channels', problems, `AudioChannelConfiguration equals the init segment's channel count on ${compared.length} audio Representations`, compared);
}
