import { stat, writeFile } from 'node:fs/promises';
import { VidpipeError } from '../../errors.js';
import { loadReport } from '../../report/from-database.js';
import { renderReportDocument } from '../../report/html.js';
import { reportFromPackage, type ReportData } from '../../report/model.js';
import { readPackageSummary } from '../../core/package-summary.js';
import { describePackage } from '../../serve/package-layout.js';
import type { CliIO } from '../io.js';
import type { GlobalOptions, ReportOptions } from '../../settings/command-options.js';
import { formatJson, formatTable } from './list.js';

/** A package folder (with vidpipe.json) or a video id from the database. */
async function reportFor(target: string, db: string): Promise<ReportData> {
  if ((await stat(target).catch(() => undefined))?.isDirectory()) {
    const summary = (await readPackageSummary(target)) ?? (await describePackage(target)).summary;
    if (!summary) throw new VidpipeError('INPUT_NOT_FOUND', `${target} has no vidpipe.json`, { hint: 'give a package vidpipe made, or a video id' });
    return reportFromPackage(summary);
  }
  return loadReport(db, target);
}

function kbps(bits: number | null): string {
  return bits === null ? '-' : String(Math.round(bits / 1000));
}

export function formatReportText(data: ReportData): string {
  const table = formatTable(
    [
      { header: 'RENDITION' }, { header: 'CODECS' }, { header: 'SIZE' },
      { header: 'AVG KB/S', align: 'right' }, { header: 'PEAK KB/S', align: 'right' }, { header: 'BYTES', align: 'right' },
      { header: 'PSNR', align: 'right' }, { header: 'SSIM', align: 'right' },
    ],
    data.renditions.map((r) => [
      r.name, r.codecs, r.width && r.height ? `${r.width}x${r.height}` : r.channels ? `${r.channels}ch` : '-',
      kbps(r.averageBitrate), kbps(r.peakBitrate), r.sizeBytes === null ? '-' : String(r.sizeBytes),
      r.quality ? r.quality.psnr.toFixed(2) : '-', r.quality ? r.quality.ssim.toFixed(4) : '-',
    ]),
  );
  const timed = data.tasks.filter((t) => t.startedAt && t.finishedAt).sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
  const start = Math.min(...timed.map((t) => Date.parse(t.startedAt!)));
  const tasks = formatTable(
    [{ header: 'TASK' }, { header: 'STATUS' }, { header: 'START S', align: 'right' }, { header: 'END S', align: 'right' }, { header: 'WORKER' }],
    timed.map((t) => [t.id, t.status, ((Date.parse(t.startedAt!) - start) / 1000).toFixed(2), ((Date.parse(t.finishedAt!) - start) / 1000).toFixed(2), t.worker ?? '-']),
  );
  return `${data.title} (video ${data.videoId}, job ${data.jobId})\n\n${table}\n${tasks}`;
}

/** `vidpipe report <id|dir> [--html file]`: the job report as text, JSON, or one self-contained HTML file. */
export async function runReport(target: string, raw: ReportOptions, global: GlobalOptions & { dbPath: string }, io: CliIO): Promise<number> {
  const data = await reportFor(target, global.dbPath);
  if (raw.html) {
    await writeFile(raw.html, renderReportDocument(data));
    if (!global.json) io.stderr(`vidpipe: report written to ${raw.html}`);
  }
  if (global.json) io.stdout(formatJson(data));
  else if (!raw.html) io.stdout(formatReportText(data));
  return 0;
}
