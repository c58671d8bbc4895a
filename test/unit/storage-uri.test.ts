import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { VidpipeError } from '../../src/errors.js';
import {
  cacheControlFor,
  contentTypeFor,
  IMMUTABLE_CACHE_CONTROL,
  MANIFEST_CACHE_CONTROL,
  SIDE_FILE_CACHE_CONTROL,
} from '../../src/storage/content-types.js';
import { parseLocation } from '../../src/storage/index.js';
import { joinKey, parseObjectUri, sanitiseName } from '../../src/storage/uri.js';

function assertUsageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof VidpipeError, `expected a VidpipeError, got ${String(error)}`);
    assert.equal(error.code, 'USAGE');
    assert.match(error.message, pattern);
    return true;
  });
}

describe('parseLocation', () => {
  it('normalises S3 prefixes to empty or ending with "/"', () => {
    const s3 = (bucket: string, prefix: string) => ({ backend: 's3', text: `s3://${bucket}/${prefix}`, parts: { bucket, prefix } });
    assert.deepEqual(parseLocation('s3://my-bucket'), s3('my-bucket', ''));
    assert.deepEqual(parseLocation('s3://my-bucket/'), s3('my-bucket', ''));
    assert.deepEqual(parseLocation('s3://my-bucket/vod/talks'), s3('my-bucket', 'vod/talks/'));
    assert.deepEqual(parseLocation('S3://my.bucket.01/vod//talks/'), s3('my.bucket.01', 'vod/talks/'));
  });

  it('resolves local paths and file:// URLs to absolute paths', () => {
    const local = (folder: string) => ({ backend: 'file', text: folder, parts: { path: folder } });
    assert.deepEqual(parseLocation('out/sample'), local(path.resolve('out/sample')));
    const absolute = path.resolve('/srv/vod');
    assert.deepEqual(parseLocation(pathToFileURL(absolute).href), local(absolute));
  });

  it('rejects invalid bucket names with the rule that was broken', () => {
    assertUsageError(() => parseLocation('s3://ab/x'), /3 to 63/);
    assertUsageError(() => parseLocation('s3://My_Bucket/x'), /lowercase/);
    assertUsageError(() => parseLocation('s3://-bucket/x'), /start and end/);
    assertUsageError(() => parseLocation('s3://my..bucket'), /"\.\."/);
    assertUsageError(() => parseLocation('s3://192.168.1.10/x'), /IP address/);
    assertUsageError(() => parseLocation('s3:///prefix'), /invalid bucket/);
  });

  it('rejects prefixes that climb with "..", empty text and unknown schemes', () => {
    assertUsageError(() => parseLocation('s3://my-bucket/vod/../etc'), /\.\./);
    assertUsageError(() => parseLocation('   '), /empty/);
    assertUsageError(() => parseLocation('http://example.com/vod'), /unsupported/);
  });
});

describe('parseObjectUri', () => {
  it('keeps the key exactly and refuses folder URIs', () => {
    assert.deepEqual(parseObjectUri('s3://in-bucket/videos/My Talk.mp4'), { bucket: 'in-bucket', key: 'videos/My Talk.mp4' });
    assertUsageError(() => parseObjectUri('s3://in-bucket/videos/'), /folder/);
    assertUsageError(() => parseObjectUri('s3://in-bucket'), /folder/);
    assertUsageError(() => parseObjectUri('/local/file.mp4'), /not an s3/);
  });
});

describe('joinKey', () => {
  it('appends keys below the prefix', () => {
    assert.equal(joinKey('vod/talk/', 'video/720p/seg_00001.m4s'), 'vod/talk/video/720p/seg_00001.m4s');
    assert.equal(joinKey('vod/talk', 'master.m3u8'), 'vod/talk/master.m3u8');
    assert.equal(joinKey('', 'master.m3u8'), 'master.m3u8');
    assert.equal(joinKey('vod/', 'a..b/x.m4s'), 'vod/a..b/x.m4s', '".." inside a name is not a segment');
  });

  it('refuses keys that could escape the prefix', () => {
    assertUsageError(() => joinKey('vod/', '../other/master.m3u8'), /climbs out/);
    assertUsageError(() => joinKey('vod/', 'video/../../x'), /climbs out/);
    assertUsageError(() => joinKey('vod/', '/etc/passwd'), /absolute/);
    assertUsageError(() => joinKey('vod/', 'C:/x.m4s'), /absolute/);
    assertUsageError(() => joinKey('vod/', 'video\\..\\x'), /backslash/);
    assertUsageError(() => joinKey('vod/', 'video//x.m4s'), /empty/);
    assertUsageError(() => joinKey('vod/', './x.m4s'), /"\."/);
    assertUsageError(() => joinKey('vod/', ''), /empty/);
    assertUsageError(() => joinKey('vod/', 'a\nb'), /control/);
  });
});

describe('sanitiseName', () => {
  it('drops the extension and folders and replaces unsafe characters', () => {
    assert.equal(sanitiseName('My Talk (final).MOV'), 'My-Talk-final');
    assert.equal(sanitiseName('/home/u/videos/clip 01.mp4'), 'clip-01');
    assert.equal(sanitiseName('C:\\Users\\u\\clip.mp4'), 'clip');
    assert.equal(sanitiseName('talk.v2.mp4'), 'talk.v2');
    assert.equal(sanitiseName('a/b/../evil;rm -rf $HOME.mp4'), 'evil-rm-rf-HOME');
  });

  it('never starts with "-" or "." and never comes out empty', () => {
    assert.equal(sanitiseName('--help.mp4'), 'help');
    assert.equal(sanitiseName('-rf'), 'rf');
    assert.equal(sanitiseName('.hidden'), 'hidden');
    assert.equal(sanitiseName('...mp4'), 'media');
    assert.equal(sanitiseName('!!!.mp4'), 'media');
    assert.equal(sanitiseName(''), 'media');
    assert.equal(sanitiseName('con.mp4'), 'con_');
  });

  it('keeps letters and digits of any script', () => {
    assert.equal(sanitiseName('Überraschung Café.mkv'), 'Überraschung-Café');
    assert.equal(sanitiseName('東京 2024 ライブ.mp4'), '東京-2024-ライブ');
    assert.equal(sanitiseName('Cafe\u0301.mp4'), 'Café', 'combining accents are composed (NFC)');
    assert.equal(sanitiseName('party 🎉 night.mp4'), 'party-night');
  });

  it('caps the length at 100 characters and 200 UTF-8 bytes', () => {
    const long = sanitiseName(`${'a'.repeat(150)}.mp4`);
    assert.equal(long, 'a'.repeat(100));
    const wide = sanitiseName(`${'東'.repeat(100)}.mp4`);
    assert.ok(Buffer.byteLength(wide) <= 200, `${Buffer.byteLength(wide)} bytes`);
    assert.equal(wide, '東'.repeat(66));
    assert.equal(sanitiseName(`${'a'.repeat(99)} b.mp4`), 'a'.repeat(99), 'no trailing "-" after the cut');
  });
});

describe('content types and cache control', () => {
  it('maps each package file type', () => {
    const expected: Array<[string, string]> = [
      ['master.m3u8', 'application/vnd.apple.mpegurl'],
      ['manifest.mpd', 'application/dash+xml'],
      ['video/h264-720p/seg_00001.m4s', 'video/iso.segment'],
      ['video/h264-720p/init.mp4', 'video/mp4'],
      ['audio/aac-128k/init.mp4', 'audio/mp4'],
      ['audio-en/init.mp4', 'audio/mp4'],
      ['video/audio-described/init.mp4', 'video/mp4'],
      ['legacy/seg.ts', 'video/mp2t'],
      ['audio/track.aac', 'audio/aac'],
      ['poster.jpg', 'image/jpeg'],
      ['storyboard/sprite.PNG', 'image/png'],
      ['storyboard/storyboard.vtt', 'text/vtt'],
      ['info.json', 'application/json'],
      ['index.html', 'text/html; charset=utf-8'],
      ['notes.xyz', 'application/octet-stream'],
    ];
    for (const [key, type] of expected) assert.equal(contentTypeFor(key), type, key);
  });

  it('caches manifests briefly, media for a year, side files for a minute', () => {
    assert.equal(cacheControlFor('master.m3u8'), MANIFEST_CACHE_CONTROL);
    assert.equal(cacheControlFor('video/a/index.M3U8'), MANIFEST_CACHE_CONTROL);
    assert.equal(cacheControlFor('manifest.mpd'), MANIFEST_CACHE_CONTROL);
    for (const key of ['v/seg.m4s', 'v/init.mp4', 'poster.jpg', 'sprite.png', 'storyboard.vtt', 'a/seg.aac', 'x.ts']) {
      assert.equal(cacheControlFor(key), IMMUTABLE_CACHE_CONTROL, key);
    }
    assert.equal(cacheControlFor('info.json'), SIDE_FILE_CACHE_CONTROL);
    assert.equal(MANIFEST_CACHE_CONTROL, 'public, max-age=10');
    assert.equal(IMMUTABLE_CACHE_CONTROL, 'public, max-age=31536000, immutable');
  });
});
