import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseAttributes, parseMaster, parseMedia, isMasterText } from '../../src/validate/hls-playlist.js';
import { expandTemplate, parseIsoDuration } from '../../src/validate/dash.js';
import { sniffFormat } from '../../src/validate/tracks.js';
import { fromProblems, percentOff } from '../../src/validate/result.js';

describe('validate: playlist and MPD reading', () => {
  it('reads attribute lists with quoted commas', () => {
    assert.deepEqual(parseAttributes('BANDWIDTH=1000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360'), {
      BANDWIDTH: '1000',
      CODECS: 'avc1.64001f,mp4a.40.2',
      RESOLUTION: '640x360',
    });
  });

  it('pairs STREAM-INF with the next URI line and tells master from media playlists', () => {
    const text = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5\n\na/index.m3u8\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI="a/i.m3u8"\n';
    assert.equal(isMasterText(text), true);
    const master = parseMaster(text);
    assert.equal(master.streams[0]!.uri, 'a/index.m3u8');
    assert.equal(master.iFrameStreams[0]!.uri, 'a/i.m3u8');
    assert.equal(isMasterText('#EXTM3U\n#EXTINF:2,\ns.ts\n'), false);
  });

  it('continues an EXT-X-BYTERANGE without offset where the previous range of the same file ended', () => {
    const playlist = parseMedia('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI="i.mp4"\n#EXTINF:2.0,\n#EXT-X-BYTERANGE:100@10\nf.m4s\n#EXTINF:2.0,\n#EXT-X-BYTERANGE:50\nf.m4s\n#EXT-X-ENDLIST\n');
    assert.deepEqual(playlist.segments.map((s) => s.byteRange), [{ length: 100, offset: 10 }, { length: 50, offset: 110 }]);
    assert.equal(playlist.segments[1]!.mapUri, 'i.mp4');
    assert.deepEqual(playlist.targetDurations, [2]);
    assert.equal(playlist.endList, true);
  });

  it('parses MPD durations and expands SegmentTemplate identifiers', () => {
    assert.equal(parseIsoDuration('PT1H2M3.5S'), 3723.5);
    assert.equal(parseIsoDuration('PT5S'), 5);
    assert.equal(parseIsoDuration('5 seconds'), undefined);
    assert.equal(expandTemplate('v/$RepresentationID$/seg_$Number%05d$.m4s', { RepresentationID: 'h264-720p', Number: 7 }), 'v/h264-720p/seg_00007.m4s');
    assert.equal(expandTemplate('$Time$-$$.m4s', { RepresentationID: 'a', Time: 96000 }), '96000-$.m4s');
    assert.throws(() => expandTemplate('$Time$.m4s', { RepresentationID: 'a' }), /\$Time\$/);
  });

  it('recognises segment formats from their first bytes', () => {
    const ts = Buffer.alloc(376);
    ts[0] = 0x47;
    ts[188] = 0x47;
    assert.equal(sniffFormat(ts), 'ts');
    assert.equal(sniffFormat(Buffer.from('\0\0\0\x18stypmsdh', 'latin1')), 'fmp4');
    assert.equal(sniffFormat(Buffer.from('WEBVTT\n\n', 'latin1')), 'webvtt');
    assert.equal(sniffFormat(Buffer.from('<html>', 'latin1')), 'unknown');
  });

  it('reports problems as one failing result showing the first three', () => {
    const result = fromProblems('x', ['a', 'b', 'c', 'd'], 'fine');
    assert.equal(result.status, 'fail');
    assert.equal(result.message, 'a; b; c (+1 more)');
    assert.equal(fromProblems('x', [], 'fine').status, 'pass');
    assert.equal(percentOff(110, 100), '+10.0 %');
  });
});
