import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OPTIONS_DOC, OPTION_NOTES, renderOptionsDoc } from '../../scripts/options-doc.js';
import { COMMANDS } from '../../src/cli/command-table.js';

describe('docs/options.md', () => {
  it('is what `npm run docs` generates from the option tables (run it after changing an option)', () => {
    assert.equal(readFileSync(OPTIONS_DOC, 'utf8'), renderOptionsDoc());
  });

  it('documents every option of every command', () => {
    const doc = renderOptionsDoc();
    for (const spec of Object.values(COMMANDS)) {
      assert.ok(doc.includes(`## vidpipe ${spec.name}\n`), spec.name);
      for (const option of spec.options) assert.ok(doc.includes(`--${/--([\w-]+)/.exec(option.flags)![1]}`), `${spec.name} ${option.flags}`);
    }
  });

  it('has notes only for options that exist', () => {
    for (const [command, notes] of Object.entries(OPTION_NOTES)) {
      const spec = (COMMANDS as Record<string, { options: { flags: string }[] }>)[command];
      assert.ok(spec, command);
      for (const flag of Object.keys(notes)) assert.ok(spec.options.some((option) => new RegExp(`(^|[ ,])${flag}\\b`).test(option.flags)), `${command} ${flag}`);
    }
  });
});
