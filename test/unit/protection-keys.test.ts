/**
 * Key sources (#24): how keys and key IDs are written (hex, base64, UUID), the encryption
 * settings and their refusals (exit 2, never echoing a key), key files, and CPIX 2.3 documents
 * written by the standard (one key; video and audio keys with usage rules; Widevine, PlayReady
 * and FairPlay signalling; malformed and unsupported ones refused), read into ProtectionKeys.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VidpipeError } from '../../src/errors.js';
import { parseCpix } from '../../src/protection/cpix.js';
import { drmSystem, drmSystemById } from '../../src/protection/drm-systems.js';
import { parseKeyFile } from '../../src/protection/key-file.js';
import { keyForTrack, loadProtectionKeys, protectionRecord } from '../../src/protection/keys.js';
import { DEFAULT_SETTINGS, parseTranscodeOptions, shareableSettings, withOwnSecrets, type JobSettings } from '../../src/settings/job-settings.js';
import { decodeBase64, decodeKey, decodeKeyId, uuidOf } from '../../src/settings/key-values.js';
import { applyOverrides, overridesFromMetadata, overridesFromSidecar } from '../../src/watch/overrides.js';

const KID_V = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const KID_A = Buffer.from('fedcba9876543210fedcba9876543210', 'hex');
const KEY_V = randomBytes(16);
const KEY_A = randomBytes(16);
const IV = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

/** Every spelling of a key a message must not hold. */
const spellings = (key: Buffer) => [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url')];
const usage = (pattern: RegExp, ...keys: Buffer[]) => (error: unknown) => {
  assert.ok(error instanceof VidpipeError, String(error));
  assert.equal(error.exitCode, 2, `${error.code}: ${error.message}`);
  assert.match(error.message, pattern);
  for (const key of keys) for (const spelling of spellings(key)) assert.ok(!`${error.message} ${error.hint ?? ''}`.includes(spelling), 'the message holds the key');
  return true;
};

/** A pssh box as a DRM vendor's CPIX carries it (version 0, opaque data). */
function psshBox(systemId: string, data: Buffer): Buffer {
  const size = 32 + data.length;
  const header = Buffer.alloc(32);
  header.writeUInt32BE(size, 0);
  header.write('pssh', 4, 'latin1');
  Buffer.from(systemId.replace(/-/g, ''), 'hex').copy(header, 12);
  header.writeUInt32BE(data.length, 28);
  return Buffer.concat([header, data]);
}

const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64');
const contentKey = (kid: Buffer, key: Buffer, extra = '') =>
  `<cpix:ContentKey kid="${uuidOf(kid)}"${extra}><cpix:Data><pskc:Secret><pskc:PlainValue>${b64(key)}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>`;
const cpix = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="talk" version="2.3">\n${body}\n</cpix:CPIX>`;

const WIDEVINE = drmSystem('widevine').systemId;
const PLAYREADY = drmSystem('playready').systemId;
const FAIRPLAY = drmSystem('fairplay').systemId;
const PLAYREADY_CP = '<mspr:pro xmlns:mspr="urn:microsoft:playready">AAAA</mspr:pro>';
const FAIRPLAY_MEDIA = `#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://keys.example/${uuidOf(KID_V)}",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"`;
const FAIRPLAY_MASTER = FAIRPLAY_MEDIA.replace('EXT-X-KEY', 'EXT-X-SESSION-KEY');

/** Video and audio keys with usage rules, Widevine and PlayReady for both, FairPlay for video. */
const TWO_KEYS = cpix(`<cpix:ContentKeyList>
  ${contentKey(KID_V, KEY_V, ` explicitIV="${b64(IV)}" commonEncryptionScheme="cbcs"`)}
  ${contentKey(KID_A, KEY_A, ' commonEncryptionScheme="cbcs"')}
</cpix:ContentKeyList>
<cpix:DRMSystemList>
  <cpix:DRMSystem kid="${uuidOf(KID_V)}" systemId="${WIDEVINE}"><cpix:PSSH>${b64(psshBox(WIDEVINE, Buffer.from('widevine-video')))}</cpix:PSSH></cpix:DRMSystem>
  <cpix:DRMSystem kid="${uuidOf(KID_A)}" systemId="${WIDEVINE}"><cpix:PSSH>${b64(psshBox(WIDEVINE, Buffer.from('widevine-audio')))}</cpix:PSSH></cpix:DRMSystem>
  <cpix:DRMSystem kid="${uuidOf(KID_V)}" systemId="${PLAYREADY}" name="MSPR 2.0">
    <cpix:PSSH>${b64(psshBox(PLAYREADY, Buffer.from('playready')))}</cpix:PSSH>
    <cpix:ContentProtectionData robustness="SL2000">${b64(PLAYREADY_CP)}</cpix:ContentProtectionData>
  </cpix:DRMSystem>
  <cpix:DRMSystem kid="${uuidOf(KID_V)}" systemId="${FAIRPLAY}">
    <cpix:URIExtXKey>${b64(`skd://keys.example/${uuidOf(KID_V)}`)}</cpix:URIExtXKey>
    <cpix:HLSSignalingData playlist="media">${b64(FAIRPLAY_MEDIA)}</cpix:HLSSignalingData>
    <cpix:HLSSignalingData playlist="multiVariant">${b64(FAIRPLAY_MASTER)}</cpix:HLSSignalingData>
  </cpix:DRMSystem>
</cpix:DRMSystemList>
<cpix:ContentKeyUsageRuleList>
  <cpix:ContentKeyUsageRule kid="${uuidOf(KID_V)}" intendedTrackType="VIDEO"><cpix:VideoFilter/></cpix:ContentKeyUsageRule>
  <cpix:ContentKeyUsageRule kid="${uuidOf(KID_A)}" intendedTrackType="AUDIO"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
</cpix:ContentKeyUsageRuleList>`);

describe('key values: hex, base64 and UUID', () => {
  it('reads 16 bytes written as hex (any case, 0x), base64 and base64url, and a KID in UUID form', () => {
    for (const text of [KEY_V.toString('hex'), KEY_V.toString('hex').toUpperCase(), `0x${KEY_V.toString('hex')}`, KEY_V.toString('base64'), KEY_V.toString('base64url'), ` ${KEY_V.toString('base64')} `]) {
      assert.deepEqual(decodeKey(text), KEY_V, text);
    }
    assert.deepEqual(decodeKeyId('01234567-89AB-cdef-0123-456789abcdef'), KID_V);
    assert.equal(uuidOf(KID_V), '01234567-89ab-cdef-0123-456789abcdef');
    assert.equal(decodeKey('01234567-89ab-cdef-0123-456789abcdef'), undefined, 'a key is not a UUID');
  });

  it('refuses other lengths, stray characters and base64 that drops bits', () => {
    for (const text of ['', '0123', `${KEY_V.toString('hex')}00`, KEY_V.toString('hex').slice(2), 'zz'.repeat(16), randomBytes(15).toString('base64'), randomBytes(17).toString('base64'), `${KEY_V.toString('base64')}!`, 'AAAAAAAAAAAAAAAAAAAAAB==']) {
      assert.equal(decodeKey(text), undefined, text);
    }
    assert.equal(decodeBase64('QQ='), undefined);
    assert.deepEqual(decodeBase64('QQ=='), Buffer.from('A'));
  });
});

describe('encryption settings', () => {
  const parse = (record: Record<string, unknown>) => parseTranscodeOptions(record).settings;

  it('keeps the scheme, the key ID and the key as hex, whatever spelling was given', () => {
    const settings = parse({ encrypt: 'CBCS', keyId: uuidOf(KID_V), key: KEY_V.toString('base64') });
    assert.equal(settings.encrypt, 'cbcs');
    assert.equal(settings.keyId, KID_V.toString('hex'));
    assert.equal(settings.key, KEY_V.toString('hex'));
    assert.equal(parse({ encrypt: 'aes-128', key: KEY_V.toString('hex'), keyUri: 'https://keys.example/k1', hlsSegments: 'ts' }).encrypt, 'aes-128');
    assert.equal(parse({ encrypt: 'cenc', cpix: 'https://keys.example/cpix?token=1' }).cpix, 'https://keys.example/cpix?token=1');
    assert.equal(parse({ encrypt: 'cbcs', keyFile: '/etc/vidpipe/keys.txt' }).keyFile, '/etc/vidpipe/keys.txt');
  });

  it('the key is secret: out of the shareable copy (the key ID stays), a worker reads its own VIDPIPE_KEY', () => {
    const settings = parse({ encrypt: 'cbcs', keyId: KID_V.toString('hex'), key: KEY_V.toString('hex') });
    const shared = shareableSettings(settings);
    assert.equal('key' in shared, false);
    assert.equal(shared.keyId, KID_V.toString('hex'));
    for (const spelling of spellings(KEY_V)) assert.ok(!JSON.stringify(shared).includes(spelling));
    assert.equal(withOwnSecrets(shared, { VIDPIPE_KEY: KEY_A.toString('base64') }).key, KEY_A.toString('hex'));
    assert.equal(withOwnSecrets(shared, {}).key, undefined);
    assert.throws(() => withOwnSecrets(shared, { VIDPIPE_KEY: KEY_A.toString('hex').slice(1) }), usage(/\$VIDPIPE_KEY: --key: not a 16-byte AES-128 key/, KEY_A));
  });

  it('refuses what cannot work, exit 2, saying what to give, never echoing the key', () => {
    const key = KEY_V.toString('hex');
    const kid = KID_V.toString('hex');
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: kid, key: key.slice(0, 30) }), usage(/--key: not a 16-byte AES-128 key: give 32 hex digits or base64/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: kid, key: `${key}aa` }), usage(/--key: not a 16-byte/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: 'abc', key }), usage(/--key-id: "abc" is not a 16-byte key ID/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs' }), usage(/--encrypt cbcs needs a key: --key-id and --key \(or VIDPIPE_KEY\), --key-file, or --cpix/));
    assert.throws(() => parse({ encrypt: 'cenc', key }), usage(/--encrypt cenc needs --key-id with --key/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: kid }), usage(/--key-id needs --key/));
    assert.throws(() => parse({ keyId: kid, key }), usage(/--key-id, --key \(or VIDPIPE_KEY\) given without --encrypt/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: kid, key, cpix: 'https://k.example/c' }), usage(/give one key source, not --key-id\/--key and --cpix/, KEY_V));
    assert.throws(() => parse({ encrypt: 'aes-128', key }), usage(/--encrypt aes-128 needs --key-uri/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: kid, key, hlsSegments: 'ts' }), usage(/--encrypt cbcs applies to fMP4 \(CMAF\) segments only; MPEG-TS variants \(--hls-segments ts\) can only be encrypted with aes-128/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cenc', keyId: kid, key, hlsSegments: 'both' }), usage(/only be encrypted with aes-128/, KEY_V));
    assert.throws(() => parse({ encrypt: 'cbcs', keyId: kid, key, codecs: 'h264,av1' }), usage(/--encrypt cbcs covers H\.264 and HEVC video; vidpipe does not encrypt AV1/, KEY_V));
    assert.equal(parse({ encrypt: 'aes-128', key, keyUri: 'https://keys.example/k', codecs: 'av1' }).encrypt, 'aes-128');
    assert.throws(() => parse({ encrypt: 'cenc', cpix: 'http://keys.example/cpix' }), usage(/fetch it over https:\/\//));
    assert.throws(() => parse({ encrypt: 'rot13' }), usage(/--encrypt: "rot13" is not one of cbcs, cenc, aes-128/));
  });

  it('a watcher may hold a key source without --encrypt: an upload asking for encrypt uses it, a clear one does not carry it', () => {
    const keyFile = '/etc/vidpipe/keys.txt';
    assert.throws(() => parse({ keyFile }), usage(/--key-file given without --encrypt/));
    const watcher = parseTranscodeOptions({ keyFile }, { keysWithoutScheme: true }).settings;
    assert.equal(watcher.keyFile, keyFile);
    const encrypted = applyOverrides(watcher, overridesFromSidecar('{"encrypt": "cbcs"}', 'sidecar'));
    assert.deepEqual([encrypted.settings.encrypt, encrypted.settings.keyFile], ['cbcs', keyFile]);
    const clear = applyOverrides(watcher, overridesFromSidecar('{"preset": "fast"}', 'sidecar'));
    assert.deepEqual([clear.settings.encrypt, 'keyFile' in clear.settings, clear.settings.preset], [undefined, false, 'fast']);
    // The watcher's VIDPIPE_KEY and key ID likewise; aes-128 asked by an upload still needs the watcher's --key-uri.
    const raw = parseTranscodeOptions({ keyId: KID_V.toString('hex'), key: KEY_V.toString('hex') }, { keysWithoutScheme: true }).settings;
    assert.equal('key' in applyOverrides(raw).settings, false);
    assert.throws(() => applyOverrides(raw, overridesFromMetadata({ 'vidpipe-encrypt': 'aes-128' }, 'metadata')), usage(/--encrypt aes-128 needs --key-uri/, KEY_V));
    // A watcher's --encrypt still needs its key source.
    assert.throws(() => parseTranscodeOptions({ encrypt: 'cbcs' }, { keysWithoutScheme: true }), usage(/--encrypt cbcs needs a key/));
  });
});

describe('key files', () => {
  it('reads one key for every track, or a key per track type, in any spelling, with comments', () => {
    const one = parseKeyFile(`# test keys\n\n${uuidOf(KID_V)}:${KEY_V.toString('base64')}   # both\n`, 'keys.txt');
    assert.equal(one.keys.video, one.keys.audio);
    assert.deepEqual(one.keys.video, { kid: KID_V, key: KEY_V });
    const two = parseKeyFile(`VIDEO ${KID_V.toString('hex')}:${KEY_V.toString('hex')}\r\naudio ${KID_A.toString('base64')}:${KEY_A.toString('hex').toUpperCase()}\r\n`, 'keys.txt');
    assert.deepEqual(two.keys.video, { kid: KID_V, key: KEY_V });
    assert.deepEqual(two.keys.audio, { kid: KID_A, key: KEY_A });
    const mixed = parseKeyFile(`${KID_V.toString('hex')}:${KEY_V.toString('hex')}\naudio ${KID_A.toString('hex')}:${KEY_A.toString('hex')}\n`, 'keys.txt');
    assert.deepEqual([mixed.keys.video?.kid, mixed.keys.audio?.kid], [KID_V, KID_A], 'a typed line wins over the line for every track');
  });

  it('refuses a bad line by its number, never repeating it', () => {
    const kid = KID_V.toString('hex');
    const key = KEY_V.toString('hex');
    assert.throws(() => parseKeyFile(`# ok\n${kid}:${key.slice(0, 31)}\n`, 'keys.txt'), usage(/^keys.txt, line 2: the key is not 16 bytes/, KEY_V));
    assert.throws(() => parseKeyFile(`${kid}${key}\n`, 'keys.txt'), usage(/line 1: not KID:KEY/, KEY_V));
    assert.throws(() => parseKeyFile(`subtitles ${kid}:${key}\n`, 'keys.txt'), usage(/line 1: the track type must be video or audio/, KEY_V));
    assert.throws(() => parseKeyFile(`video ${kid}:${key}\nvideo ${KID_A.toString('hex')}:${key}\n`, 'keys.txt'), usage(/line 2: a second key for video tracks/, KEY_V));
    assert.throws(() => parseKeyFile('# nothing\n', 'keys.txt'), usage(/keys.txt: no keys in it/));
    assert.throws(() => parseKeyFile(`video ${kid}:${key}\naudio ${kid}:${KEY_A.toString('hex')}\n`, 'keys.txt'), usage(/one key ID two different keys/, KEY_V, KEY_A));
  });
});

describe('CPIX 2.3 documents', () => {
  it('one key: every track type, no signalling', () => {
    const loaded = parseCpix(cpix(`<cpix:ContentKeyList>${contentKey(KID_V, KEY_V)}</cpix:ContentKeyList>`), 'one.xml', 'cbcs');
    assert.deepEqual(loaded.keys.video, { kid: KID_V, key: KEY_V });
    assert.equal(loaded.keys.audio, loaded.keys.video);
    assert.deepEqual(loaded.systems, []);
  });

  it('video and audio keys by usage rules, with Widevine, PlayReady and FairPlay signalling decoded', () => {
    const loaded = parseCpix(TWO_KEYS, 'two.xml', 'cbcs');
    assert.deepEqual(loaded.keys.video, { kid: KID_V, key: KEY_V, explicitIv: IV });
    assert.deepEqual(loaded.keys.audio, { kid: KID_A, key: KEY_A });
    const of = (systemId: string, kid: Buffer) => loaded.systems.find((s) => s.systemId === systemId && s.kid.equals(kid));
    assert.equal(loaded.systems.length, 4);
    assert.deepEqual(of(WIDEVINE, KID_V)?.pssh, psshBox(WIDEVINE, Buffer.from('widevine-video')));
    assert.equal(of(WIDEVINE, KID_A)?.system, 'widevine');
    const playready = of(PLAYREADY, KID_V)!;
    assert.equal(playready.system, 'playready');
    assert.equal(playready.name, 'MSPR 2.0');
    assert.equal(playready.contentProtectionData, PLAYREADY_CP);
    assert.equal(playready.robustness, 'SL2000');
    const fairplay = of(FAIRPLAY, KID_V)!;
    assert.equal(fairplay.uriExtXKey, `skd://keys.example/${uuidOf(KID_V)}`);
    assert.deepEqual(fairplay.hls, { media: FAIRPLAY_MEDIA, multivariant: FAIRPLAY_MASTER });
    assert.equal(fairplay.pssh, undefined);
  });

  it('usage rules by intendedTrackType alone (SPEKE v2 names), "master" as earlier versions wrote it, unknown systems carried through', () => {
    const other = 'a1b2c3d4-0000-1111-2222-333344445555';
    const loaded = parseCpix(cpix(`<cpix:ContentKeyList>${contentKey(KID_V, KEY_V)}${contentKey(KID_A, KEY_A)}</cpix:ContentKeyList>
      <cpix:DRMSystemList><cpix:DRMSystem kid="${uuidOf(KID_V)}" systemId="${other}"><cpix:HLSSignalingData playlist="master">${b64('#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="x"')}</cpix:HLSSignalingData></cpix:DRMSystem></cpix:DRMSystemList>
      <cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid="${uuidOf(KID_V)}" intendedTrackType="HD"/><cpix:ContentKeyUsageRule kid="${uuidOf(KID_A)}" intendedTrackType="AUDIO"/></cpix:ContentKeyUsageRuleList>`), 'speke.xml', 'cenc');
    assert.deepEqual([loaded.keys.video?.kid, loaded.keys.audio?.kid], [KID_V, KID_A]);
    assert.equal(loaded.systems[0]!.system, undefined);
    assert.equal(loaded.systems[0]!.hls?.multivariant, '#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="x"');
  });

  it('the known system IDs', () => {
    assert.equal(drmSystemById('EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED')?.name, 'widevine');
    assert.equal(drmSystemById('9a04f079-9840-4286-ab92-e65be0885f95')?.name, 'playready');
    assert.equal(drmSystemById('94ce86fb-07ff-4f43-adb8-93d2fa968ca2')?.name, 'fairplay');
    assert.equal(drmSystemById('e2719d58-a985-b3c9-781a-b030af78d30e')?.name, 'clearkey');
    assert.equal(drmSystemById('1077efec-c0b2-4d02-ace3-3c1e52e2fb4b')?.name, 'common');
  });

  it('refuses malformed and unsupported documents, saying why, never repeating a key', () => {
    const one = (extra = '') => `<cpix:ContentKeyList>${contentKey(KID_V, KEY_V, extra)}</cpix:ContentKeyList>`;
    const cases: [string, string, RegExp][] = [
      ['not XML', '<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix"><cpix:ContentKeyList>', /not well-formed XML/],
      ['another root', '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"/>', /the root element is not CPIX/],
      ['no keys', cpix('<cpix:ContentKeyList/>'), /holds no ContentKey/],
      ['a request', cpix(`<cpix:ContentKeyList><cpix:ContentKey kid="${uuidOf(KID_V)}"/></cpix:ContentKeyList>`), /has no key value \(Data\/Secret\/PlainValue\): a request document/],
      ['an encrypted key', cpix(`<cpix:ContentKeyList><cpix:ContentKey kid="${uuidOf(KID_V)}"><cpix:Data><pskc:Secret><pskc:EncryptedValue><enc:CipherData xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:CipherValue>AAAA</enc:CipherValue></enc:CipherData></pskc:EncryptedValue></pskc:Secret></cpix:Data></cpix:ContentKey></cpix:ContentKeyList>`), /is encrypted \(EncryptedValue, for a DocumentKey\): vidpipe reads plain keys only/],
      ['delivery data', cpix(`<cpix:DeliveryDataList><cpix:DeliveryData/></cpix:DeliveryDataList>${one()}`), /encrypted for a recipient \(DeliveryDataList, DocumentKey\)/],
      ['a short key', cpix(`<cpix:ContentKeyList>${contentKey(KID_V, KEY_V.subarray(0, 15))}</cpix:ContentKeyList>`), /its PlainValue is not a 16-byte key in base64/],
      ['a bad kid', cpix(one().replace(uuidOf(KID_V), 'not-a-uuid')), /a ContentKey has a kid that is not a UUID/],
      ['a bad IV', cpix(one(` explicitIV="${b64(IV.subarray(0, 8))}"`)), /explicitIV is not 16 bytes/],
      ['another scheme', cpix(one(' commonEncryptionScheme="cenc"')), /is meant for "cenc", not for --encrypt cbcs/],
      ['two keys, no rules', cpix(`<cpix:ContentKeyList>${contentKey(KID_V, KEY_V)}${contentKey(KID_A, KEY_A)}</cpix:ContentKeyList>`), /2 content keys and no ContentKeyUsageRuleList/],
      ['two video keys', TWO_KEYS.replace('<cpix:AudioFilter/>', '<cpix:VideoFilter/>'), /give video tracks two keys/],
      ['a pixel filter', TWO_KEYS.replace('<cpix:VideoFilter/>', '<cpix:VideoFilter maxPixels="921600"/>'), /limits its VideoFilter \(maxPixels\)/],
      ['a bit-rate filter', TWO_KEYS.replace('<cpix:VideoFilter/>', '<cpix:BitrateFilter minBitrate="1"/>'), /has BitrateFilter: vidpipe applies one key per track type/],
      ['an unknown track type', TWO_KEYS.replace('intendedTrackType="AUDIO"><cpix:AudioFilter/>', 'intendedTrackType="SUBTITLES">'), /intendedTrackType "SUBTITLES", which names no track type/],
      ['a rule for a missing key', TWO_KEYS.replace(`ContentKeyUsageRule kid="${uuidOf(KID_A)}"`, `ContentKeyUsageRule kid="${uuidOf(IV)}"`), /a ContentKeyUsageRule names key 00112233-4455-6677-8899-aabbccddeeff, which is not in the ContentKeyList/],
      ['signalling for a missing key', TWO_KEYS.replace(`DRMSystem kid="${uuidOf(KID_A)}"`, `DRMSystem kid="${uuidOf(IV)}"`), /DRMSystem Widevine \(edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\) names key 00112233-/],
      ['a PSSH of another system', TWO_KEYS.replace(b64(psshBox(WIDEVINE, Buffer.from('widevine-audio'))), b64(psshBox(PLAYREADY, Buffer.from('widevine-audio')))), /its PSSH is for system 9a04f079-9840-4286-ab92-e65be0885f95, not edef8ba9/],
      ['a PSSH that is no box', TWO_KEYS.replace(b64(psshBox(WIDEVINE, Buffer.from('widevine-audio'))), b64('just some bytes that are not a box')), /its PSSH is not a pssh box/],
      ['PSSH not base64', TWO_KEYS.replace(b64(psshBox(WIDEVINE, Buffer.from('widevine-audio'))), 'not*base64'), /its PSSH is not base64/],
      ['a bad playlist', TWO_KEYS.replace('playlist="multiVariant"', 'playlist="iframe"'), /HLSSignalingData for playlist "iframe" \(media or multiVariant\)/],
      ['two media signalling', TWO_KEYS.replace('playlist="multiVariant"', 'playlist="media"'), /two HLSSignalingData for the media playlist/],
      ['key rotation', cpix(`${one()}<cpix:ContentKeyPeriodList><cpix:ContentKeyPeriod id="p1" index="1"/></cpix:ContentKeyPeriodList>`), /key rotation is not supported/],
      ['a key hierarchy', cpix(one(` dependsOnKey="${uuidOf(KID_A)}"`)), /key hierarchy/],
    ];
    for (const [what, text, pattern] of cases) {
      assert.throws(() => parseCpix(text, 'doc.xml', 'cbcs'), usage(new RegExp(`^CPIX document doc.xml: .*${pattern.source}`), KEY_V, KEY_A), what);
    }
  });
});

describe('loading the keys of a job', () => {
  let dir: string;
  let server: Server;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidpipe-keys-'));
    server = createServer((request, response) => {
      if (request.url?.startsWith('/cpix')) response.writeHead(200, { 'content-type': 'application/xml' }).end(TWO_KEYS);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });
  const settings = (fields: Partial<JobSettings>): JobSettings => ({ ...DEFAULT_SETTINGS, ...fields });

  it('from raw values, a key file, a CPIX file and a CPIX URL, into one model', async () => {
    assert.equal(await loadProtectionKeys(settings({})), undefined);
    const raw = (await loadProtectionKeys(settings({ encrypt: 'cbcs', keyId: KID_V.toString('hex'), key: KEY_V.toString('hex') })))!;
    assert.equal(raw.scheme, 'cbcs');
    assert.deepEqual(keyForTrack(raw, 'audio'), { kid: KID_V, key: KEY_V });
    const aes = (await loadProtectionKeys(settings({ encrypt: 'aes-128', key: KEY_V.toString('hex'), keyUri: 'https://keys.example/k' })))!;
    assert.deepEqual([keyForTrack(aes, 'video').key, keyForTrack(aes, 'video').kid, aes.keyUri], [KEY_V, undefined, 'https://keys.example/k']);

    const keyFile = join(dir, 'keys.txt');
    await writeFile(keyFile, `video ${KID_V.toString('hex')}:${KEY_V.toString('hex')}\n`);
    const fromFile = (await loadProtectionKeys(settings({ encrypt: 'cenc', keyFile })))!;
    assert.equal(fromFile.source, 'key-file');
    assert.deepEqual(keyForTrack(fromFile, 'video').key, KEY_V);
    assert.throws(() => keyForTrack(fromFile, 'audio'), usage(/the key-file gives no key for audio tracks/));

    // A worker with VIDPIPE_KEY set runs a job that names a key file: the key file's keys.
    const onWorker = (await loadProtectionKeys(withOwnSecrets(settings({ encrypt: 'cenc', keyFile }), { VIDPIPE_KEY: KEY_A.toString('hex') })))!;
    assert.deepEqual([onWorker.source, keyForTrack(onWorker, 'video').key], ['key-file', KEY_V]);

    const cpixFile = join(dir, 'keys.cpix.xml');
    await writeFile(cpixFile, TWO_KEYS);
    for (const cpixSource of [cpixFile, `${url}/cpix?token=abc`]) {
      const keys = (await loadProtectionKeys(settings({ encrypt: 'cbcs', cpix: cpixSource })))!;
      assert.deepEqual([keyForTrack(keys, 'video').key, keyForTrack(keys, 'audio').key], [KEY_V, KEY_A], cpixSource);
      assert.equal(keys.systems.length, 4);
      const record = protectionRecord(keys);
      assert.deepEqual(record, { scheme: 'cbcs', kids: { video: uuidOf(KID_V), audio: uuidOf(KID_A) }, systems: [WIDEVINE, PLAYREADY, FAIRPLAY] });
      for (const spelling of [...spellings(KEY_V), ...spellings(KEY_A)]) assert.ok(!JSON.stringify(record).includes(spelling));
    }
  });

  it('names what is missing on this machine (a worker reads the key source itself)', async () => {
    await assert.rejects(loadProtectionKeys(settings({ encrypt: 'cbcs', keyId: KID_V.toString('hex') })), usage(/needs a key/));
    await assert.rejects(loadProtectionKeys(settings({ encrypt: 'cbcs', keyFile: join(dir, 'none.txt') })), usage(/--key-file .*none.txt: no such file on this machine/));
    await assert.rejects(loadProtectionKeys(settings({ encrypt: 'cbcs', cpix: join(dir, 'none.xml') })), usage(/CPIX document .*none.xml: no such file on this machine/));
    await assert.rejects(loadProtectionKeys(settings({ encrypt: 'cbcs', cpix: `${url}/missing?token=secret-token` })), (error: VidpipeError) => /HTTP 404/.test(error.message) && !error.message.includes('secret-token'));
  });
});
