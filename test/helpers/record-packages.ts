/**
 * Loaded with `node --import` (through NODE_OPTIONS) by tests that check which npm packages a
 * command loads: every package resolved from node_modules is written, one per line, to the
 * file named by VIDPIPE_RECORD_PACKAGES when the process exits.
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const seen = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    const name = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url)?.[1];
    if (name) seen.add(name);
    return resolved;
  },
});
process.on('exit', () => writeFileSync(process.env.VIDPIPE_RECORD_PACKAGES!, [...seen].sort().join('\n')));
