/**
 * What a protected track's init and manifests say (src/protection/signalling.ts), from hand-built
 * ProtectionKeys: raw keys (W3C common pssh and Clear Key only), a key provider's DRM systems
 * (their pssh, HLS lines and MPD data as given), AES-128 (IV only when the key source fixes one).
 * Never a key byte in any of it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { commonPssh, writePssh } from '../../src/protection/cenc-boxes.js';
import type { ProtectionKeys } from '../../src/protection/keys.js';
import { aes128Signalling, initPsshBoxes, sampleSchemeSignalling } from '../../src/protection/signalling.js';

const KID = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const KEY = Buffer.from('f0e1d2c3b4a5968778695a4b3c2d1e0f', 'hex');
const AUDIO_KID = Buffer.from('11111111111111111111111111111111', 'hex');
const WIDEVINE = 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed';
const FAIRPLAY = '94ce86fb-07ff-4f43-adb8-93d2fa968ca2';
const WIDEVINE_PSSH = writePssh({ systemId: Buffer.from(WIDEVINE.replace(/-/g, ''), 'hex'), data: Buffer.from('widevine-data') });

function rawKeys(scheme: ProtectionKeys['scheme']): ProtectionKeys {
  const key = { kid: KID, key: KEY };
  return { scheme, keys: { video: key, audio: key }, systems: [], source: 'key' };
}

function noKeyBytes(value: unknown): void {
  const text = JSON.stringify(value, (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v));
  for (const form of [KEY.toString('hex'), KEY.toString('base64'), KEY.toString('hex').toUpperCase()]) assert.ok(!text.includes(form), 'a key in the signalling');
}

describe('signalling of raw keys', () => {
  it("'cbcs': SAMPLE-AES with Clear Key for HLS, mp4protection + common pssh + DASH-IF Clear Key for DASH", () => {
    const keys = rawKeys('cbcs');
    const pssh = initPsshBoxes(keys, 'video');
    assert.deepEqual(pssh, [commonPssh([KID])]);
    const signalling = sampleSchemeSignalling(keys, 'video', pssh);
    assert.deepEqual(signalling.hlsKeys, [`METHOD=SAMPLE-AES,URI="data:text/plain;base64,${KID.toString('base64')}",KEYFORMAT="org.w3.clearkey",KEYFORMATVERSIONS="1"`]);
    assert.deepEqual(signalling.dash, [
      { schemeIdUri: 'urn:mpeg:dash:mp4protection:2011', value: 'cbcs', defaultKid: '01234567-89ab-cdef-0123-456789abcdef' },
      { schemeIdUri: 'urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b', pssh: commonPssh([KID]).toString('base64') },
      { schemeIdUri: 'urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e', value: 'ClearKey1.0' },
    ]);
    noKeyBytes(signalling);
  });

  it("'cenc' with --key-uri: SAMPLE-AES-CTR, KEYFORMAT identity first", () => {
    const signalling = sampleSchemeSignalling({ ...rawKeys('cenc'), keyUri: 'https://keys.example/k1' }, 'audio', []);
    assert.deepEqual(signalling.hlsKeys, ['METHOD=SAMPLE-AES-CTR,URI="https://keys.example/k1",KEYFORMAT="identity",KEYFORMATVERSIONS="1"']);
    assert.equal(signalling.dash[0]!.value, 'cenc');
  });

  it('refuses a key URI an HLS playlist cannot carry', () => {
    assert.throws(() => sampleSchemeSignalling({ ...rawKeys('cbcs'), keyUri: 'https://k/"x' }, 'video', []), /double quote/);
  });
});

describe('signalling of a key provider’s DRM systems', () => {
  const keys: ProtectionKeys = {
    scheme: 'cbcs',
    keys: { video: { kid: KID, key: KEY }, audio: { kid: AUDIO_KID, key: KEY } },
    systems: [
      { systemId: WIDEVINE, system: 'widevine', kid: KID, pssh: WIDEVINE_PSSH },
      { systemId: FAIRPLAY, system: 'fairplay', kid: KID, uriExtXKey: 'skd://fairplay-key-1' },
      { systemId: '9a04f079-9840-4286-ab92-e65be0885f95', system: 'playready', kid: KID, name: 'MSPR 2.0', contentProtectionData: '<mspr:pro xmlns:mspr="urn:microsoft:playready">UFJP</mspr:pro>', hls: { media: '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="data:text/plain;charset=UTF-16;base64,UFJP",KEYFORMAT="com.microsoft.playready",KEYFORMATVERSIONS="1"' } },
      { systemId: WIDEVINE, system: 'widevine', kid: AUDIO_KID, pssh: WIDEVINE_PSSH },
    ],
    source: 'cpix',
  };

  it('puts each system’s pssh of the track’s key in the init, with the common one', () => {
    assert.deepEqual(initPsshBoxes(keys, 'video'), [WIDEVINE_PSSH, commonPssh([KID])]);
    assert.deepEqual(initPsshBoxes(keys, 'audio'), [WIDEVINE_PSSH, commonPssh([AUDIO_KID])]);
  });

  it('writes one EXT-X-KEY per system, the provider’s own line where it gives one', () => {
    const signalling = sampleSchemeSignalling(keys, 'video', initPsshBoxes(keys, 'video'));
    assert.deepEqual(signalling.hlsKeys, [
      `METHOD=SAMPLE-AES,URI="data:text/plain;base64,${WIDEVINE_PSSH.toString('base64')}",KEYID=0x${KID.toString('hex').toUpperCase()},KEYFORMAT="urn:uuid:${WIDEVINE}",KEYFORMATVERSIONS="1"`,
      'METHOD=SAMPLE-AES,URI="skd://fairplay-key-1",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"',
      'METHOD=SAMPLE-AES,URI="data:text/plain;charset=UTF-16;base64,UFJP",KEYFORMAT="com.microsoft.playready",KEYFORMATVERSIONS="1"',
    ]);
    assert.equal(signalling.hlsSessionKeys.length, 2, 'the PlayReady line is for media playlists only');
  });

  it('gives DASH each system of the key: pssh, or the provider’s XML with its name', () => {
    const dash = sampleSchemeSignalling(keys, 'audio', initPsshBoxes(keys, 'audio')).dash;
    assert.equal(dash[0]!.defaultKid, '11111111-1111-1111-1111-111111111111');
    assert.deepEqual(dash.map((element) => element.schemeIdUri), ['urn:mpeg:dash:mp4protection:2011', `urn:uuid:${WIDEVINE}`, 'urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b']);
    const video = sampleSchemeSignalling(keys, 'video', initPsshBoxes(keys, 'video')).dash;
    const playready = video.find((element) => element.schemeIdUri.endsWith('9a04f079-9840-4286-ab92-e65be0885f95'))!;
    assert.equal(playready.value, 'MSPR 2.0');
    assert.match(playready.childrenXml!, /mspr:pro/);
    noKeyBytes(video);
  });
});

describe('AES-128 signalling', () => {
  it('gives the key URI, and an IV only when the key source fixes one', () => {
    const keys = { ...rawKeys('aes-128'), keyUri: 'https://keys.example/k1' };
    assert.deepEqual(aes128Signalling(keys, 'video'), { hlsKeys: ['METHOD=AES-128,URI="https://keys.example/k1"'], hlsSessionKeys: ['METHOD=AES-128,URI="https://keys.example/k1"'], dash: [] });
    const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
    const fixed = { ...keys, keys: { video: { key: KEY, explicitIv: iv } } };
    assert.deepEqual(aes128Signalling(fixed, 'video').hlsKeys, ['METHOD=AES-128,URI="https://keys.example/k1",IV=0x000102030405060708090A0B0C0D0E0F']);
  });
});
