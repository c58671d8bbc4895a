/**
 * Stream-copied cuts through the real CLI (test/helpers/cuts.ts): each makes a package that
 * passes `vidpipe validate`, lasts as long as players play the cut, starts on the picture they
 * show first, and keeps the flash and its beep together.
 */
import { runCorpus } from '../helpers/corpus.js';
import { CUT_CASES } from '../helpers/cuts.js';

runCorpus('stream-copied cuts: edit lists, empty edits, cuts off the key frames', CUT_CASES, { validate: true, tempPrefix: 'vidpipe-cuts-' });
