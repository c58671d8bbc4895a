/**
 * The settings module: every setting has its entry in the option table (checked by the compiler,
 * and here), the table is what --help and docs/options.md show, and one parser turns the command
 * line, an upload's sidecar and object metadata into the same typed settings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SETTINGS,
  TRANSCODE_OPTIONS,
  TRANSCODE_TABLE,
  parseTranscodeOptions,
  parseUploadOverrides,
  type JobSettings,
} from '../../src/settings/job-settings.js';
import { parseListOptions, parseSampleOptions, parseServeOptions, parseWatchOptions, parseWorkerOptions, parseGlobalOptions } from '../../src/settings/command-options.js';
import { attributeName, longFlag, type OptionTable } from '../../src/settings/option.js';
import { VidpipeError } from '../../src/errors.js';

const settingsOf = (record: Record<string, unknown>) => parseTranscodeOptions(record).settings;
const usage = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (e: unknown) => e instanceof VidpipeError && e.code === 'USAGE' && pattern.test(e.message), String(pattern));

describe('the option table and the settings', () => {
  it('has an entry for every setting: a flag, a flag shared with another setting, or a reason it has none', () => {
    const table: Record<string, object> = TRANSCODE_TABLE;
    for (const key of Object.keys(DEFAULT_SETTINGS)) {
      const entry = table[key];
      assert.ok(entry, `setting ${key} has an entry`);
      assert.ok('flags' in entry || 'sameFlagAs' in entry || 'notOnCommandLine' in entry, key);
      if ('sameFlagAs' in entry) assert.ok('flags' in table[entry.sameFlagAs as string]!, `${key} shares an existing flag`);
    }
  });

  it('refuses, at compile time, a table that forgets a setting', () => {
    const { codecs: _forgotten, ...rest } = TRANSCODE_TABLE;
    // @ts-expect-error -- a table of JobSettings without `codecs` is not an OptionTable<JobSettings>
    const incomplete: OptionTable<JobSettings> = rest;
    assert.ok(incomplete);
    // An entry must say how the setting is set, or why it is not on the command line.
    // @ts-expect-error -- {} is neither a flag, a shared flag nor a notOnCommandLine marker
    const unmarked: OptionTable<Pick<JobSettings, 'gopSeconds'>> = { gopSeconds: {} };
    assert.ok(unmarked);
  });

  it('is what --help and the docs list: every flag entry once, with its default from DEFAULT_SETTINGS', () => {
    const flags = Object.values(TRANSCODE_TABLE).flatMap((entry: object) => ('flags' in entry ? [entry.flags] : []));
    assert.deepEqual(TRANSCODE_OPTIONS.map((spec) => spec.flags), flags);
    const shown = (flag: string) => TRANSCODE_OPTIONS.find((spec) => longFlag(spec.flags) === flag)?.defaultValue;
    assert.equal(shown('--segment-duration'), String(DEFAULT_SETTINGS.segmentDurationSeconds));
    assert.equal(shown('--audio-ladder'), DEFAULT_SETTINGS.audioLadderKbps.join(','));
    assert.equal(shown('--stall-timeout'), String(DEFAULT_SETTINGS.stallTimeoutSeconds));
    assert.equal(attributeName('--no-thumbnails'), 'thumbnails');
  });

  it('parses with the defaults written once', () => {
    assert.deepEqual(settingsOf({}), DEFAULT_SETTINGS);
    const flags = parseTranscodeOptions({}).flags;
    assert.equal(flags.out, 'vidpipe-out');
    assert.equal(flags.s3TimeoutSeconds, 60);
  });
});

describe('one parser for every source of settings', () => {
  it('parses --ladder names and explicit rates', () => {
    assert.deepEqual(settingsOf({ ladder: '1080p,720p,480p:1500' }).rungs, [{ size: 1080, kbps: 6000 }, { size: 720, kbps: 3000 }, { size: 480, kbps: 1500 }]);
    usage(() => settingsOf({ ladder: 'big' }), /--ladder/);
    usage(() => settingsOf({ ladder: '32p' }), /outside/);
  });

  it('parses codecs and presets', () => {
    assert.deepEqual(settingsOf({ codecs: 'h264,H265,av1,avc' }).codecs, ['h264', 'hevc', 'av1']);
    usage(() => settingsOf({ codecs: 'vp9' }), /--codecs/);
    assert.equal(settingsOf({ preset: 'SLOW' }).preset, 'slow');
    usage(() => settingsOf({ preset: 'turbo' }), /--preset/);
  });

  it('reads an upload\'s JSON as typed values, and its metadata as the command line would give them', () => {
    const fromCli = settingsOf({ ladder: '360p:700,144p', segmentDuration: '4', thumbnails: false });
    const sidecar = parseUploadOverrides({ ladder: [{ size: 360, kbps: 700 }, '144p'], segmentDuration: 4, thumbnails: false }, 'sidecar');
    const metadata = parseUploadOverrides({ ladder: '360p:700,144p', 'segment-duration': '4', thumbnails: 'false' }, 'metadata');
    for (const upload of [sidecar, metadata]) {
      assert.deepEqual(upload.settings.rungs, fromCli.rungs);
      assert.equal(upload.settings.segmentDurationSeconds, 4);
      assert.equal(upload.settings.thumbnails, false);
    }
    // Only what an upload may ask for: not local files, not this machine's concurrency.
    usage(() => parseUploadOverrides({ concurrency: 64 }, 'sc'), /^sc: unknown setting "concurrency"/);
    usage(() => parseUploadOverrides({ subtitles: ['/etc/passwd'] }, 'sc'), /unknown setting "subtitles"/);
  });

  it('checks --stall-timeout (0: never) and every other number, naming the flag', () => {
    assert.equal(settingsOf({ stallTimeout: '0' }).stallTimeoutSeconds, 0);
    assert.equal(settingsOf({ stallTimeout: '2.5' }).stallTimeoutSeconds, 2.5);
    usage(() => settingsOf({ stallTimeout: '-1' }), /^--stall-timeout: "-1"/);
    usage(() => settingsOf({ stallTimeout: 'soon' }), /^--stall-timeout: "soon"/);
    assert.equal(settingsOf({}).sourceQuietSeconds, 2);
    assert.equal(settingsOf({ sourceQuiet: '0' }).sourceQuietSeconds, 0);
    assert.equal(settingsOf({ sourceQuiet: '30' }).sourceQuietSeconds, 30);
    usage(() => settingsOf({ sourceQuiet: '-1' }), /^--source-quiet: "-1"/);
    usage(() => settingsOf({ chunkDuration: '0' }), /^--chunk-duration/);
    usage(() => parseTranscodeOptions({ s3Timeout: 'x' }), /^--s3-timeout/);
    usage(() => parseWorkerOptions({ concurrency: '0' }), /^--concurrency/);
    usage(() => parseWorkerOptions({ lockDuration: 'long' }), /^--lock-duration/);
    usage(() => parseWatchOptions({ interval: '0' }), /^--interval/);
    usage(() => parseWatchOptions({ maxAttempts: '1.5' }), /^--max-attempts/);
    usage(() => parseListOptions({ limit: '0' }), /^--limit/);
    usage(() => parseServeOptions({ port: '70000' }), /^--port: at most 65535/);
    usage(() => parseSampleOptions({ duration: '0' }), /^--duration/);
    usage(() => parseSampleOptions({ size: 'big' }), /^--size: "big" is not WIDTHxHEIGHT/);
    usage(() => parseGlobalOptions({ progress: 'fancy' }), /^--progress: "fancy" is not one of auto, tty, plain, none/);
    assert.deepEqual(parseSampleOptions({ size: '640x360', rate: '25' }), { durationSeconds: 12, size: { width: 640, height: 360 }, frameRate: 25 });
    assert.equal(parseServeOptions({ port: '0' }).port, 0);
  });
});
