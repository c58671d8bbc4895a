/**
 * The hostile and unusual input corpus (test/helpers/hostile.ts), one test per case, through the
 * real CLI: each input either becomes a correct, playable package or is refused with exit 2, a
 * one-line reason and nothing published.
 */
import { HOSTILE_CASES } from '../helpers/hostile.js';
import { runCorpus } from '../helpers/corpus.js';

runCorpus('hostile and unusual input', HOSTILE_CASES);
