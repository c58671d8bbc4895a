/**
 * `--cpix`: a DASH-IF CPIX 2.3 document (what DRM vendors and SPEKE v2 key servers return), from
 * a local file or an https:// URL. What is read:
 * - `ContentKeyList`: each `ContentKey@kid` (UUID), its optional `@explicitIV` (16 bytes,
 *   base64) and its key as `Data/pskc:Secret/pskc:PlainValue` (16 bytes, base64). Keys encrypted
 *   for a recipient (`EncryptedValue`, `DeliveryDataList`/`DocumentKey`) are refused: this
 *   version reads plain keys only, fetched over HTTPS. Key hierarchies (`@dependsOnKey`) and key
 *   periods (rotation) are refused too.
 * - `DRMSystemList`: per `DRMSystem@systemId`/`@kid`, the `PSSH` box, the DASH
 *   `ContentProtectionData`, the HLS `HLSSignalingData` (`@playlist` media or multiVariant;
 *   `master` in earlier versions) and CPIX 2.1's `URIExtXKey` (FairPlay's `skd://`), each
 *   base64 as the standard says, decoded here.
 * - `ContentKeyUsageRuleList`: which key protects which track type, from each rule's
 *   `VideoFilter`/`AudioFilter` or else its `@intendedTrackType` (VIDEO, SD, HD, UHD…: video;
 *   AUDIO: audio; ALL: both). vidpipe uses one key per track type: filters it cannot apply to a
 *   whole track type (pixels, bit rates, labels, periods) make the document unusable, as the
 *   standard requires, and are refused. Without rules, a document must hold exactly one key.
 * Every refusal says what was found and what vidpipe reads; none repeats a key.
 */
import { readFile } from 'node:fs/promises';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { VidpipeError } from '../errors.js';
import type { EncryptionScheme } from '../settings/job-settings.js';
import { KEY_BYTES, decodeBase64, uuidOf } from '../settings/key-values.js';
import { displayUrl } from '../storage/http.js';
import { drmSystemById } from './drm-systems.js';
import { TRACK_TYPES, type TrackKey, type DrmSignalling, type KeySource, type LoadedKeys, type TrackType } from './model.js';

const CPIX_NAMESPACE = 'urn:dashif:org:cpix';
/** A CPIX document is a few kilobytes; anything far larger is not one. */
const MAX_CPIX_BYTES = 4 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

type XmlNode = Record<string, unknown>;

const LIST_ELEMENTS = new Set(['ContentKey', 'DRMSystem', 'ContentKeyUsageRule', 'HLSSignalingData', 'VideoFilter', 'AudioFilter', 'BitrateFilter', 'LabelFilter', 'KeyPeriodFilter', 'ContentKeyPeriod', 'DeliveryData']);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What each scheme may be called in `ContentKey@commonEncryptionScheme` (a CENC scheme or an HLS METHOD). */
const SCHEME_NAMES: Record<EncryptionScheme, string[]> = { cbcs: ['cbcs', 'sample-aes'], cenc: ['cenc', 'sample-aes-ctr'], 'aes-128': ['aes-128'] };

/** Track types an `@intendedTrackType` without filters stands for (SPEKE v2 names video keys by resolution). */
function trackTypesOfIntended(intended: string): TrackType[] | undefined {
  const word = intended.trim().toUpperCase();
  if (word === 'ALL') return ['video', 'audio'];
  if (word === 'AUDIO' || word.startsWith('AUDIO')) return ['audio'];
  if (word === 'VIDEO' || /^(SD|HD|UHD\d*|UHD\+HFR|HDR)$/.test(word) || word.startsWith('VIDEO')) return ['video'];
  return undefined;
}

function asList(value: unknown): XmlNode[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map((item) => (typeof item === 'object' && item !== null ? (item as XmlNode) : { '#text': item }));
}

function textOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number') return String(value).trim();
  const text = (value as XmlNode)['#text'];
  return text === undefined ? '' : String(text).trim();
}

function attribute(node: XmlNode, name: string): string | undefined {
  const value = node[`@_${name}`];
  return value === undefined ? undefined : String(value).trim();
}

/** Parses a CPIX document's text; `where` names it in messages (a file path, or a URL without its query). */
export function parseCpix(text: string, where: string, scheme: EncryptionScheme): LoadedKeys {
  const refuse = (what: string, hint?: string) => new VidpipeError('USAGE', `CPIX document ${where}: ${what}`, hint ? { hint } : {});
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw refuse(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false, trimValues: true, isArray: (name) => LIST_ELEMENTS.has(name) });
  const root = (parser.parse(text) as XmlNode).CPIX as XmlNode | undefined;
  if (!root || typeof root !== 'object') throw refuse('the root element is not CPIX');
  if (!text.includes(CPIX_NAMESPACE)) throw refuse(`the CPIX element is not in the ${CPIX_NAMESPACE} namespace`);

  if (root.DeliveryDataList !== undefined) {
    throw refuse('its content keys are encrypted for a recipient (DeliveryDataList, DocumentKey): vidpipe reads plain keys only', 'ask the key server for a document without DeliveryData (plain keys, fetched over HTTPS)');
  }
  if (root.ContentKeyPeriodList !== undefined) throw refuse('it has key periods (ContentKeyPeriodList): key rotation is not supported; give one key per track type');

  // ---- content keys
  const keys = new Map<string, TrackKey>();
  for (const node of asList((root.ContentKeyList as XmlNode | undefined)?.ContentKey)) {
    const kidText = attribute(node, 'kid');
    if (!kidText || !UUID.test(kidText)) throw refuse(`a ContentKey has ${kidText ? 'a kid that is not a UUID' : 'no kid'}`);
    const kid = Buffer.from(kidText.replace(/-/g, ''), 'hex');
    const name = uuidOf(kid);
    if (keys.has(name)) throw refuse(`ContentKey ${name} appears twice`);
    if (attribute(node, 'dependsOnKey') !== undefined) throw refuse(`ContentKey ${name} is a leaf of a key hierarchy (@dependsOnKey): not supported`);
    const declared = attribute(node, 'commonEncryptionScheme');
    if (declared !== undefined && !SCHEME_NAMES[scheme].includes(declared.toLowerCase())) {
      throw refuse(`ContentKey ${name} is meant for "${declared}", not for --encrypt ${scheme}`, `use --encrypt ${declared.toLowerCase() === 'sample-aes' ? 'cbcs' : declared.toLowerCase() === 'sample-aes-ctr' ? 'cenc' : declared.toLowerCase()}, or ask for keys for ${scheme}`);
    }
    const secret = (node.Data as XmlNode | undefined)?.Secret as XmlNode | undefined;
    if (secret?.EncryptedValue !== undefined) {
      throw refuse(`ContentKey ${name} is encrypted (EncryptedValue, for a DocumentKey): vidpipe reads plain keys only`, 'ask the key server for plain keys (PlainValue), fetched over HTTPS');
    }
    const plain = textOf(secret?.PlainValue);
    if (plain === undefined || plain === '') throw refuse(`ContentKey ${name} has no key value (Data/Secret/PlainValue): a request document, not a response?`);
    const key = decodeBase64(plain);
    if (!key || key.length !== KEY_BYTES) throw refuse(`ContentKey ${name}: its PlainValue is not a 16-byte key in base64`);
    const ivText = attribute(node, 'explicitIV');
    const explicitIv = ivText === undefined ? undefined : decodeBase64(ivText);
    if (ivText !== undefined && explicitIv?.length !== 16) throw refuse(`ContentKey ${name}: its explicitIV is not 16 bytes in base64`);
    keys.set(name, { kid, key, ...(explicitIv ? { explicitIv } : {}) });
  }
  if (keys.size === 0) throw refuse('it holds no ContentKey (ContentKeyList)');

  // ---- DRM signalling
  const systems: DrmSignalling[] = [];
  const seenSystems = new Set<string>();
  for (const node of asList((root.DRMSystemList as XmlNode | undefined)?.DRMSystem)) {
    const systemText = attribute(node, 'systemId');
    const kidText = attribute(node, 'kid');
    if (!systemText || !UUID.test(systemText)) throw refuse(`a DRMSystem has ${systemText ? 'a systemId that is not a UUID' : 'no systemId'}`);
    const systemId = systemText.toLowerCase();
    const known = drmSystemById(systemId);
    const label = known ? `${known.label} (${systemId})` : systemId;
    const kid = kidText && UUID.test(kidText) ? kidText.toLowerCase() : undefined;
    if (!kid) throw refuse(`DRMSystem ${label} has ${kidText ? 'a kid that is not a UUID' : 'no kid'}`);
    if (!keys.has(kid)) throw refuse(`DRMSystem ${label} names key ${kid}, which is not in the ContentKeyList`);
    if (seenSystems.has(`${systemId} ${kid}`)) throw refuse(`DRMSystem ${label} appears twice for key ${kid}`);
    seenSystems.add(`${systemId} ${kid}`);
    const decoded = (element: string, value: unknown): Buffer | undefined => {
      const body = textOf(value);
      if (body === undefined) return undefined;
      const bytes = decodeBase64(body);
      if (!bytes || bytes.length === 0) throw refuse(`DRMSystem ${label}: its ${element} is not base64`);
      return bytes;
    };
    const signalling: DrmSignalling = { systemId, kid: keys.get(kid)!.kid!, ...(known ? { system: known.name } : {}) };
    const name = attribute(node, 'name');
    if (name) signalling.name = name;
    const allowedCpc = attribute(node, 'HLSAllowedCPC');
    if (allowedCpc) signalling.hlsAllowedCpc = allowedCpc;
    const pssh = decoded('PSSH', node.PSSH);
    if (pssh) {
      checkPssh(pssh, systemId, (what) => refuse(`DRMSystem ${label}: its PSSH ${what}`));
      signalling.pssh = pssh;
    }
    const protection = decoded('ContentProtectionData', node.ContentProtectionData);
    if (protection) signalling.contentProtectionData = protection.toString('utf8');
    const robustness = node.ContentProtectionData !== undefined && typeof node.ContentProtectionData === 'object' ? attribute(node.ContentProtectionData as XmlNode, 'robustness') : undefined;
    if (robustness) signalling.robustness = robustness;
    const uri = decoded('URIExtXKey', node.URIExtXKey);
    if (uri) signalling.uriExtXKey = uri.toString('utf8');
    for (const data of asList(node.HLSSignalingData)) {
      const playlist = (attribute(data, 'playlist') ?? 'media').toLowerCase();
      const place = playlist === 'media' ? 'media' : playlist === 'multivariant' || playlist === 'master' ? 'multivariant' : undefined;
      if (!place) throw refuse(`DRMSystem ${label}: HLSSignalingData for playlist "${attribute(data, 'playlist')}" (media or multiVariant)`);
      signalling.hls ??= {};
      if (signalling.hls[place] !== undefined) throw refuse(`DRMSystem ${label}: two HLSSignalingData for the ${place} playlist`);
      signalling.hls[place] = decoded('HLSSignalingData', data)!.toString('utf8');
    }
    systems.push(signalling);
  }

  // ---- which key protects which track type
  const byType = new Map<TrackType, string>();
  const rules = asList((root.ContentKeyUsageRuleList as XmlNode | undefined)?.ContentKeyUsageRule);
  if (rules.length === 0) {
    if (keys.size > 1) throw refuse(`it holds ${keys.size} content keys and no ContentKeyUsageRuleList saying which protects which tracks`, 'add usage rules (a VideoFilter rule and an AudioFilter rule), or give one key');
    for (const type of TRACK_TYPES) byType.set(type, [...keys.keys()][0]!);
  }
  for (const rule of rules) {
    const kidText = attribute(rule, 'kid');
    const kid = kidText && UUID.test(kidText) ? kidText.toLowerCase() : undefined;
    if (!kid) throw refuse(`a ContentKeyUsageRule has ${kidText ? 'a kid that is not a UUID' : 'no kid'}`);
    if (!keys.has(kid)) throw refuse(`a ContentKeyUsageRule names key ${kid}, which is not in the ContentKeyList`);
    const children = Object.keys(rule).filter((name) => !name.startsWith('@_') && name !== '#text');
    const unusable = children.filter((name) => name !== 'VideoFilter' && name !== 'AudioFilter');
    if (unusable.length > 0) {
      throw refuse(`the usage rule of key ${kid} has ${unusable.join(', ')}: vidpipe applies one key per track type (video, audio) and cannot honour it`, 'give rules with a plain VideoFilter or AudioFilter (or intendedTrackType VIDEO/AUDIO)');
    }
    const filters = [...asList(rule.VideoFilter).map((node) => ({ type: 'video' as const, node })), ...asList(rule.AudioFilter).map((node) => ({ type: 'audio' as const, node }))];
    for (const { type, node } of filters) {
      const constraints = Object.keys(node).filter((name) => name.startsWith('@_')).map((name) => name.slice(2));
      if (constraints.length > 0) {
        throw refuse(`the usage rule of key ${kid} limits its ${type === 'video' ? 'VideoFilter' : 'AudioFilter'} (${constraints.join(', ')}): vidpipe applies one key per track type and cannot honour it`, 'give a key per track type: a plain VideoFilter and a plain AudioFilter');
      }
    }
    const intended = attribute(rule, 'intendedTrackType');
    const types = filters.length > 0 ? [...new Set(filters.map((filter) => filter.type))] : intended !== undefined ? trackTypesOfIntended(intended) : [...TRACK_TYPES];
    if (!types) throw refuse(`the usage rule of key ${kid} is for intendedTrackType "${intended}", which names no track type vidpipe knows (VIDEO, AUDIO, ALL, SD, HD, UHD)`);
    for (const type of types) {
      const other = byType.get(type);
      if (other !== undefined && other !== kid) throw refuse(`the usage rules give ${type} tracks two keys (${other} and ${kid}): vidpipe applies one key per track type`);
      byType.set(type, kid);
    }
  }

  const used: LoadedKeys['keys'] = {};
  for (const [type, kid] of byType) used[type] = keys.get(kid)!;
  const usedKids = new Set(Object.values(used).map((key) => uuidOf(key.kid!)));
  return { keys: used, systems: systems.filter((system) => usedKids.has(uuidOf(system.kid))) };
}

/** A PSSH value must be one whole `pssh` box of the DRMSystem's own system. */
function checkPssh(box: Buffer, systemId: string, refuse: (what: string) => VidpipeError): void {
  if (box.length < 32 || box.toString('latin1', 4, 8) !== 'pssh') throw refuse('is not a pssh box');
  if (box.readUInt32BE(0) !== box.length) throw refuse(`box says ${box.readUInt32BE(0)} bytes but holds ${box.length}`);
  const version = box[8]!;
  if (version > 1) throw refuse(`is a version ${version} pssh box (0 or 1)`);
  const boxSystem = uuidOf(box.subarray(12, 28));
  if (boxSystem !== systemId) throw refuse(`is for system ${boxSystem}, not ${systemId}`);
}

/** A CPIX document's text, from a local file or over HTTPS, bounded in size and time. */
export async function readCpix(source: string, signal?: AbortSignal): Promise<{ text: string; where: string }> {
  if (/^https?:\/\//i.test(source)) {
    const where = displayUrl(source);
    const timeout = AbortSignal.timeout(FETCH_TIMEOUT_MS);
    let response: Response;
    try {
      response = await fetch(source, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, headers: { accept: 'application/xml, text/xml' } });
    } catch (error) {
      if (signal?.aborted) throw new VidpipeError('INTERRUPTED', 'interrupted', { cause: error });
      throw new VidpipeError('STORAGE_FAILED', `CPIX document ${where}: ${timeout.aborted ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : (error as Error).message}`);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const code = response.status === 404 || response.status === 403 || response.status === 401 ? 'USAGE' : 'STORAGE_FAILED';
      throw new VidpipeError(code, `CPIX document ${where}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > MAX_CPIX_BYTES) throw new VidpipeError('USAGE', `CPIX document ${where}: ${length} bytes is too large for a CPIX document`);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MAX_CPIX_BYTES) throw new VidpipeError('USAGE', `CPIX document ${where}: ${bytes.length} bytes is too large for a CPIX document`);
    return { text: bytes.toString('utf8'), where };
  }
  try {
    const bytes = await readFile(source, { signal });
    if (bytes.length > MAX_CPIX_BYTES) throw new VidpipeError('USAGE', `CPIX document ${source}: ${bytes.length} bytes is too large for a CPIX document`);
    return { text: bytes.toString('utf8'), where: source };
  } catch (error) {
    if (error instanceof VidpipeError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new VidpipeError('INPUT_NOT_FOUND', `CPIX document ${source}: no such file on this machine`, { hint: 'every machine that encrypts (each queue worker too) reads the CPIX document itself: use an https:// URL for workers' });
    throw new VidpipeError('USAGE', `CPIX document ${source}: cannot be read (${code ?? (error as Error).message})`);
  }
}

export const cpixKeySource: KeySource = {
  name: 'cpix',
  given: (settings) => settings.cpix !== undefined,
  load: async (settings, options) => {
    const { text, where } = await readCpix(settings.cpix!, options.signal);
    return parseCpix(text, where, settings.encrypt!);
  },
};
