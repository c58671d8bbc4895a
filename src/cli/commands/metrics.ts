import { resolveBinaries } from '../../ffmpeg/binaries.js';
import { measureVideo } from '../../metrics/for-video.js';
import type { CliIO } from '../io.js';
import type { GlobalOptions, MetricsOptions } from '../../settings/command-options.js';
import { installInterruptHandler } from '../signals.js';
import { formatJson, formatTable } from './list.js';

/** `vidpipe metrics <id>`: PSNR/SSIM of a published package against its source, stored with its renditions. */
export async function runMetrics(id: string, options: MetricsOptions, global: GlobalOptions & { dbPath: string }, io: CliIO): Promise<number> {
  const binaries = await resolveBinaries({ ffmpeg: global.ffmpeg, ffprobe: global.ffprobe }, io.env);
  const controller = new AbortController();
  const uninstall = installInterruptHandler(() => controller.abort(), io.stderr);
  try {
    let shown = -1;
    const result = await measureVideo({
      db: global.dbPath, id, binaries, source: options.source, packageDir: options.packageDir, signal: controller.signal,
      onProgress: (fraction) => {
        const percent = Math.floor(fraction * 10) * 10;
        if (global.quiet || global.json || percent === shown) return;
        shown = percent;
        io.stderr(`vidpipe: metrics ${percent}%`);
      },
    });
    if (global.json) {
      io.stdout(JSON.stringify(result));
    } else {
      io.stdout(
        formatTable(
          [{ header: 'RENDITION' }, { header: 'PSNR DB', align: 'right' }, { header: 'MIN', align: 'right' }, { header: 'SSIM', align: 'right' }, { header: 'MIN', align: 'right' }, { header: 'VMAF', align: 'right' }, { header: 'FRAMES', align: 'right' }],
          Object.entries(result.renditions).map(([name, q]) => [
            name, q.psnr.toFixed(2), q.psnrMin.toFixed(2), q.ssim.toFixed(4), q.ssimMin.toFixed(4), q.vmaf === null ? 'n/a' : q.vmaf.toFixed(2), String(q.frames),
          ]),
        ) + (Object.values(result.renditions).some((q) => q.vmaf === null) ? 'VMAF: n/a — this ffmpeg has no libvmaf filter\n' : ''),
      );
    }
    return 0;
  } finally {
    uninstall();
  }
}
