/**
 * Protection signalling in the manifests (content-protection.md §2, §4): EXT-X-KEY after
 * EXT-X-MAP in media and I-frame playlists, EXT-X-SESSION-KEY once per key in the multivariant
 * playlist, the lowest EXT-X-VERSION the attributes allow, and DASH ContentProtection elements
 * with the cenc namespace, read back by hls-parser and mpd-parser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as HLS from 'hls-parser';
import { parse as parseMpd } from 'mpd-parser';
import { writeIFramePlaylist, writeMediaPlaylist, writeMultivariantPlaylist } from '../../src/manifest/hls.js';
import { writeMpd } from '../../src/manifest/dash.js';
import type { PackageModel, TrackProtection } from '../../src/manifest/model.js';
import { sampleModel, videoTrack } from '../helpers/manifest-model.js';

const KID = '01234567-89ab-cdef-0123-456789abcdef';
const PSSH = Buffer.from('0000002070737368000000001077efecc0b24d02ace33c1e52e2fb4b00000000', 'hex').toString('base64');
const FAIRPLAY = 'METHOD=SAMPLE-AES,URI="skd://key-1",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"';
const IDENTITY = 'METHOD=SAMPLE-AES,URI="https://keys.example/k1",KEYFORMAT="identity",KEYFORMATVERSIONS="1"';

const CBCS: TrackProtection = {
  hlsKeys: [FAIRPLAY, IDENTITY],
  hlsSessionKeys: [FAIRPLAY, IDENTITY],
  dash: [
    { schemeIdUri: 'urn:mpeg:dash:mp4protection:2011', value: 'cbcs', defaultKid: KID },
    { schemeIdUri: 'urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b', pssh: PSSH },
    { schemeIdUri: 'urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed', value: 'Widevine', childrenXml: `<cenc:pssh>${PSSH}</cenc:pssh>` },
  ],
};

function protectedModel(): PackageModel {
  const model = sampleModel();
  for (const track of [...model.videos, ...model.audios]) track.protection = CBCS;
  return model;
}

describe('HLS key tags', () => {
  it('writes EXT-X-KEY after EXT-X-MAP in media and I-frame playlists, one per KEYFORMAT', () => {
    const model = protectedModel();
    for (const text of [writeMediaPlaylist(model.videos[0]!, model), writeIFramePlaylist(model.videos[0]!, model)]) {
      const lines = text.split('\n');
      const map = lines.findIndex((line) => line.startsWith('#EXT-X-MAP:'));
      const keys = lines.flatMap((line, index) => (line.startsWith('#EXT-X-KEY:') ? [index] : []));
      assert.deepEqual(keys, [map + 1, map + 2]);
      assert.equal(lines[keys[0]!], `#EXT-X-KEY:${FAIRPLAY}`);
      assert.ok(keys[1]! < lines.findIndex((line) => line.startsWith('#EXTINF')));
      const parsed = HLS.parse(text) as HLS.types.MediaPlaylist;
      assert.equal(parsed.segments[0]!.key?.method, 'SAMPLE-AES');
    }
  });

  it('lists each session key once in the multivariant playlist', () => {
    const text = writeMultivariantPlaylist(protectedModel());
    assert.equal(text.split('\n').filter((line) => line.startsWith('#EXT-X-SESSION-KEY:')).length, 2);
    const parsed = HLS.parse(text) as HLS.types.MasterPlaylist;
    assert.deepEqual(parsed.sessionKeyList.map((key) => key.format), ['com.apple.streamingkeydelivery', 'identity']);
  });

  it('raises EXT-X-VERSION only as far as the key attributes need', () => {
    const aes: TrackProtection = { hlsKeys: ['METHOD=AES-128,URI="https://keys.example/k",IV=0x000102030405060708090A0B0C0D0E0F'], hlsSessionKeys: [], dash: [] };
    const ts = videoTrack('ts-360p', 'h264', 640, 360, 500_000, 400_000, { initUri: '', protection: aes });
    const model: PackageModel = { ...sampleModel(), videos: [ts] };
    assert.match(writeMediaPlaylist(ts, model), /^#EXT-X-VERSION:3$/m, 'decimal EXTINF already needs more than IV');
    const withFormat = { ...ts, protection: { ...aes, hlsKeys: [IDENTITY] } };
    assert.match(writeMediaPlaylist(withFormat, { ...model, videos: [withFormat] }), /^#EXT-X-VERSION:5$/m);
    assert.doesNotMatch(writeMultivariantPlaylist(sampleModel()), /KEY/, 'a clear package signals nothing');
  });
});

describe('DASH ContentProtection', () => {
  it('signals the scheme, the default KID and each system on the audio and video sets', () => {
    const mpd = writeMpd(protectedModel());
    assert.match(mpd, /<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:cenc="urn:mpeg:cenc:2013"/);
    const parsed = parseMpd(mpd, { manifestUri: 'https://example.com/manifest.mpd' });
    const video = parsed.playlists![0]!;
    const protection = video.contentProtection!;
    assert.equal(protection.mp4protection?.attributes?.['cenc:default_KID'], KID);
    assert.deepEqual(Buffer.from(protection['com.widevine.alpha']!.pssh!), Buffer.from(PSSH, 'base64'));
    const sets = mpd.split('<AdaptationSet').slice(1);
    const audio = sets.find((set) => set.includes('contentType="audio"'))!;
    assert.ok(audio.indexOf('<ContentProtection') < audio.indexOf('<Role'), 'ContentProtection before Role');
    assert.equal(sets.filter((set) => set.includes('contentType="text"')).some((set) => set.includes('ContentProtection')), false, 'subtitles stay clear');
    assert.doesNotMatch(writeMpd(sampleModel()), /cenc/);
  });

  it('refuses one AdaptationSet of tracks protected differently', () => {
    const model = protectedModel();
    model.videos[1] = { ...model.videos[1]!, protection: { ...CBCS, dash: CBCS.dash.slice(0, 1) } };
    assert.throws(() => writeMpd(model), /protected differently/);
  });
});
