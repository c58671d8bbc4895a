/** The storage registry: which backend a URI goes to, and the questions callers ask it instead of testing schemes. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { VidpipeError } from '../../src/errors.js';
import { fileBackend } from '../../src/storage/file-backend.js';
import { isOnThisMachine, isShared, localFolderOf, locationBelow, locationHolds, portableConfig, registerBackend, uriBelow } from '../../src/storage/backends.js';
import { inputBaseName, parseLocation } from '../../src/storage/index.js';
import { workPrefixOf } from '../../src/queue/submit.js';

describe('storage backends by scheme', () => {
  it('names folders and files below a location as each backend writes them', () => {
    const s3 = parseLocation('s3://vod/talks');
    assert.equal(locationBelow(s3, 'talk').text, 's3://vod/talks/talk/');
    assert.equal(uriBelow(locationBelow(s3, 'talk'), 'video/init.mp4'), 's3://vod/talks/talk/video/init.mp4');
    const local = parseLocation('out');
    assert.equal(locationBelow(local, 'talk').text, path.resolve('out', 'talk'));
    assert.equal(uriBelow(local, 'talk/master.m3u8'), path.resolve('out', 'talk', 'master.m3u8'));
    assert.equal(localFolderOf(local), path.resolve('out'));
    assert.equal(localFolderOf(s3), undefined);
  });

  it('says whether a URI is below a location, never across backends or buckets', () => {
    const out = parseLocation('s3://media/vod/');
    assert.equal(locationHolds(out, 's3://media/vod/talk/master.m3u8'), true);
    assert.equal(locationHolds(out, 's3://media/uploads/talk.mp4'), false);
    assert.equal(locationHolds(out, 's3://other/vod/talk.mp4'), false);
    assert.equal(locationHolds(parseLocation('/srv/vod'), 's3://media/vod/talk.mp4'), false);
    assert.equal(locationHolds(parseLocation('/srv/vod'), '/srv/vod/talk/master.m3u8'), true);
    assert.equal(locationHolds(parseLocation('/srv/vod'), '/srv/vodka/x'), false);
  });

  it('knows which backends queue workers reach, and which inputs are read in place', () => {
    assert.equal(isShared('s3://media/in/talk.mp4'), true);
    assert.equal(isShared('/tmp/talk.mp4'), false);
    assert.equal(isShared('https://cdn.example/talk.mp4'), false);
    assert.equal(isShared('gs://bucket/talk.mp4'), false);
    assert.equal(isOnThisMachine('talk.mp4'), true);
    assert.equal(isOnThisMachine('file:///srv/talk.mp4'), true);
    assert.equal(isOnThisMachine('s3://media/talk.mp4'), false);
    assert.equal(workPrefixOf('s3://media/vod', 'jm0001'), 's3://media/vod/.vidpipe-work/jm0001/');
    assert.throws(() => workPrefixOf('/srv/vod', 'jm0001'), (error: VidpipeError) => error.code === 'USAGE' && /--out \/srv\/vod is not on S3/.test(error.message));
  });

  it('names inputs by their last segment: URLs decoded, S3 keys and paths as written', () => {
    assert.equal(inputBaseName('https://cdn.example/a/My%20Talk.mp4?sig=1'), 'My Talk.mp4');
    assert.equal(inputBaseName('s3://media/in/My%20Talk.mp4'), 'My%20Talk.mp4');
    assert.equal(inputBaseName('/srv/in/talk.mov'), 'talk.mov');
  });

  it('sends a queue worker where the objects are, never the credentials', () => {
    const own = { s3: { endpoint: 'http://minio:9000', region: 'eu-west-1', timeoutSeconds: 5, credentials: { accessKeyId: 'AKIA', secretAccessKey: 'secret' } } };
    assert.deepEqual(portableConfig(own), { s3: { endpoint: 'http://minio:9000', region: 'eu-west-1' } });
  });

  it('refuses a second backend for a scheme that is taken', () => {
    assert.throws(() => registerBackend({ ...fileBackend, name: 'other-file' }), (error: VidpipeError) => error.code === 'INTERNAL' && /scheme file:\/\/ is taken/.test(error.message));
  });
});
