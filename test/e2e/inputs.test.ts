/**
 * Valid everyday inputs that are not a plain MP4 starting at 0 s (MPEG-TS, browser WebM, offset
 * clocks, joined files, extreme aspect ratios) and inputs whose package would silently differ from
 * what they hold (program changes, corrupt frames, clock jumps): each through the real CLI, with
 * the hostile corpus's package checks plus `vidpipe validate`.
 */
import { INPUT_CASES } from '../helpers/inputs.js';
import { runCorpus } from '../helpers/corpus.js';

runCorpus('valid inputs, odd timelines and what a package holds', INPUT_CASES, { validate: true, tempPrefix: 'vidpipe-inputs-' });
