/**
 * A process that claims work folders on command, for the lock race tests: reads lines
 * "claim <dir> <at-epoch-ms>" (claims at that moment, so many claimers start together),
 * "release <dir>" and answers each with one line: "won", "busy", "released" or "error <message>".
 */
import { createInterface } from 'node:readline';
import { claimWorkDir, releaseWorkDir } from '../../src/core/work-lock.js';

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
lines.on('line', (line) => {
  const [command, dir, at] = line.split(' ');
  void (async () => {
    try {
      if (command === 'claim') {
        const wait = Number(at) - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        try {
          await claimWorkDir(dir!, false);
          process.stdout.write('won\n');
        } catch (error) {
          const e = error as { code?: string; message: string };
          process.stdout.write(e.code === 'BUSY' ? 'busy\n' : `error ${e.message}\n`);
        }
      } else if (command === 'release') {
        await releaseWorkDir(dir!);
        process.stdout.write('released\n');
      }
    } catch (error) {
      process.stdout.write(`error ${(error as Error).message}\n`);
    }
  })();
});
lines.on('close', () => process.exit(0));
