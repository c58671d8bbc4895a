import type { ReportData, ReportRendition } from './model.js';
import type { TimelineTask } from '../core/package-summary.js';
import { NODE_KINDS, isNodeKind } from '../job/nodes.js';

/**
 * The job report as HTML: the ladder table, bit rate against quality, and the task
 * timeline, drawn as inline SVG so the page needs no script, library or network.
 */

/**
 * Text and attribute values in HTML (and the SVG inside it). Control characters other than
 * whitespace, and lone surrogates, are dropped: HTML forbids them (a NUL becomes U+FFFD, the
 * others are parse errors), and nothing shown on a page needs them.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/[\x00-\x08\x0B\x0E-\x1F\x7F-\x9F]|\p{Cs}/gu, '')
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const REPORT_CSS = `
.vp-report { font: 14px/1.4 system-ui, sans-serif; color: #1d2430; }
.vp-report h2 { font-size: 17px; margin: 24px 0 8px; }
.vp-report table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.vp-report th, .vp-report td { padding: 3px 10px; border-bottom: 1px solid #dde2ea; text-align: right; white-space: nowrap; }
.vp-report th:first-child, .vp-report td:first-child, .vp-report td.text { text-align: left; }
.vp-report .note { color: #5b6576; font-size: 13px; }
.vp-report .vp-charts { display: flex; flex-wrap: wrap; gap: 12px; }
.vp-report svg { max-width: 100%; height: auto; background: #fbfcfe; border: 1px solid #dde2ea; }
.vp-report svg text { font: 11px system-ui, sans-serif; fill: #1d2430; }
.vp-report svg .axis { stroke: #8a94a6; stroke-width: 1; }
.vp-report svg .grid { stroke: #e6e9ef; stroke-width: 1; }
`;

const CODEC_COLOURS: Record<string, string> = { h264: '#2f6fdb', hevc: '#d9822b', av1: '#1f9d6b', 'chosen (predicted)': '#c2410c', measured: '#111827' };

function kbps(bits: number | null): string {
  return bits === null ? '–' : String(Math.round(bits / 1000));
}

function bytes(size: number | null): string {
  if (size === null) return '–';
  return size >= 1e6 ? `${(size / 1e6).toFixed(2)} MB` : `${(size / 1e3).toFixed(1)} kB`;
}

function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined ? '–' : value.toFixed(digits);
}

function ladderTable(data: ReportData): string {
  const rows = data.renditions.map((r) => {
    const q = r.quality;
    const size = r.width !== null && r.height !== null ? `${r.width}×${r.height}` : r.channels !== null ? `${r.channels} ch` : '–';
    return `<tr><td>${escapeHtml(r.name)}</td><td class="text">${escapeHtml(r.codecs)}</td><td>${size}</td><td>${fixed(r.frameRate, 3)}</td>` +
      `<td>${kbps(r.targetBitrate)}</td><td>${kbps(r.averageBitrate)}</td><td>${kbps(r.peakBitrate)}</td><td>${bytes(r.sizeBytes)}</td><td>${r.segments ?? '–'}</td>` +
      `<td>${fixed(q?.psnr, 2)}</td><td>${fixed(q?.ssim, 4)}</td><td>${q ? (q.vmaf === null ? `<span title="${escapeHtml(q.vmafNote ?? '')}">n/a</span>` : fixed(q.vmaf, 2)) : '–'}</td></tr>`;
  });
  return `<table class="vp-ladder"><thead><tr><th>rendition</th><th>CODECS</th><th>size</th><th>fps</th><th>target kb/s</th><th>avg kb/s</th><th>peak kb/s</th><th>bytes</th><th>segments</th><th>PSNR dB</th><th>SSIM</th><th>VMAF</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>`;
}

/** "Nice" axis steps: 1, 2 or 5 × 10^n, about `count` of them over the range. */
function ticks(min: number, max: number, count: number): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(Number(v.toFixed(10)));
  return out;
}

interface ChartPoint {
  x: number;
  y: number;
  label: string;
  group: string;
}

function scatterChart(points: ChartPoint[], axis: { x: string; y: string; yDigits: number }): string {
  const width = 560;
  const height = 300;
  const pad = { left: 56, right: 90, top: 16, bottom: 40 };
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const xMax = Math.max(...xs) * 1.1;
  const yLow = Math.min(...ys);
  const yHigh = Math.max(...ys);
  const yPad = (yHigh - yLow) * 0.15 || Math.abs(yHigh) * 0.02 || 1;
  const [yMin, yMax] = [yLow - yPad, yHigh + yPad];
  const sx = (v: number) => pad.left + (v / xMax) * (width - pad.left - pad.right);
  const sy = (v: number) => height - pad.bottom - ((v - yMin) / (yMax - yMin)) * (height - pad.top - pad.bottom);
  const parts: string[] = [];
  for (const t of ticks(0, xMax, 6)) {
    parts.push(`<line class="grid" x1="${sx(t)}" x2="${sx(t)}" y1="${pad.top}" y2="${height - pad.bottom}"/><text x="${sx(t)}" y="${height - pad.bottom + 14}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(yMin, yMax, 5)) {
    parts.push(`<line class="grid" x1="${pad.left}" x2="${width - pad.right}" y1="${sy(t)}" y2="${sy(t)}"/><text x="${pad.left - 6}" y="${sy(t) + 4}" text-anchor="end">${t.toFixed(axis.yDigits)}</text>`);
  }
  parts.push(`<line class="axis" x1="${pad.left}" x2="${width - pad.right}" y1="${height - pad.bottom}" y2="${height - pad.bottom}"/>`);
  parts.push(`<line class="axis" x1="${pad.left}" x2="${pad.left}" y1="${pad.top}" y2="${height - pad.bottom}"/>`);
  parts.push(`<text x="${(width - pad.right + pad.left) / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(axis.x)}</text>`);
  parts.push(`<text transform="translate(14 ${(height - pad.bottom + pad.top) / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(axis.y)}</text>`);
  const groups = [...new Set(points.map((p) => p.group))];
  for (const group of groups) {
    const colour = CODEC_COLOURS[group] ?? '#444';
    const members = points.filter((p) => p.group === group).sort((a, b) => a.x - b.x);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${members.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of members) {
      parts.push(`<circle class="vp-point" cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="4" fill="${colour}"><title>${escapeHtml(`${p.label}: ${p.x} kb/s, ${p.y.toFixed(axis.yDigits)}`)}</title></circle>`);
      parts.push(`<text x="${(sx(p.x) + 7).toFixed(1)}" y="${(sy(p.y) - 6).toFixed(1)}">${escapeHtml(p.label)}</text>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(`${axis.y} against ${axis.x}`)}">${parts.join('')}</svg>`;
}

function qualityCharts(data: ReportData): string {
  const measured = data.renditions.filter((r): r is ReportRendition & { quality: NonNullable<ReportRendition['quality']> } => r.kind === 'video' && r.quality !== null && r.averageBitrate !== null);
  if (measured.length === 0) {
    return `<p class="note">No quality metrics recorded for this package. Run <code>vidpipe transcode --metrics</code>, or <code>vidpipe metrics ${escapeHtml(data.videoId)}</code>.</p>`;
  }
  const point = (r: (typeof measured)[number], y: number): ChartPoint => ({ x: Math.round(r.averageBitrate! / 1000), y, label: r.name, group: r.codec });
  const vmafNote = measured.every((r) => r.quality.vmaf === null) ? `<p class="note">VMAF not measured: ${escapeHtml(measured[0]!.quality.vmafNote ?? 'unavailable')}.</p>` : '';
  return `<div class="vp-charts">${scatterChart(measured.map((r) => point(r, r.quality.psnr)), { x: 'average bit rate (kb/s)', y: 'PSNR (dB)', yDigits: 1 })}` +
    `${scatterChart(measured.map((r) => point(r, r.quality.ssim)), { x: 'average bit rate (kb/s)', y: 'SSIM', yDigits: 3 })}</div>` +
    `<p class="note">Each rendition compared frame by frame with the source scaled to the rendition's size (${escapeHtml(measured[0]!.quality.reference.replace(/ to \d+x\d+/, ''))}).</p>${vmafNote}`;
}

/**
 * How the ladder was chosen. Auto: each candidate size's bitrate–quality curve from the probe
 * encodes, the rate the analysis chose on it (predicted) and what the encoded rung measured
 * (with --metrics); every rung's mode and why a rung was not packaged.
 */
function ladderChoice(data: ReportData): string {
  const ladder = data.ladder;
  if (!ladder) return '';
  const metric = ladder.metric ?? 'psnr';
  const value = (q: { psnr: number; vmaf?: number } | undefined) => (q ? (metric === 'vmaf' ? q.vmaf : q.psnr) : undefined);
  const rows = ladder.rungs.map((r) =>
    `<tr><td>${escapeHtml(r.name)}</td><td class="text">${r.status}</td><td class="text">${r.mode}${r.crf === undefined ? '' : ` ${r.crf}`}</td><td>${fixed(r.targetKbps, 0)}</td>` +
    `<td>${fixed(r.measured?.averageKbps, 0)}</td><td>${fixed(r.measured?.peakKbps, 0)}</td><td>${fixed(value(r.predicted), 2)}</td><td>${fixed(value(r.measured?.quality), 2)}</td>` +
    `<td class="text">${escapeHtml(r.reason ?? '')}</td></tr>`,
  );
  const head = ladder.method === 'auto'
    ? `<p class="note">Per-title ladder (<code>--ladder auto</code>): every rung at the lowest rate that reaches ${metric.toUpperCase()} ${ladder.target}, capped at the table's rate; analysis ${fixed(ladder.analysisSeconds, 1)} s over ${Math.round((ladder.sampledFraction ?? 0) * 100)} % of the frames.</p>`
    : '<p class="note">Fixed ladder (the table\'s rates); rungs that measured at or above the rung over them were dropped.</p>';
  const table = `<table class="vp-ladder-choice"><thead><tr><th>rung</th><th>status</th><th>mode</th><th>target kb/s</th><th>avg kb/s</th><th>peak kb/s</th><th>predicted ${metric.toUpperCase()}</th><th>measured ${metric.toUpperCase()}</th><th>note</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const points: ChartPoint[] = [];
  for (const p of ladder.probes ?? []) {
    const y = metric === 'vmaf' ? p.vmaf : p.psnr;
    if (y !== undefined) points.push({ x: Math.round(p.kbps), y, label: `crf ${p.crf}`, group: `${p.codec}-${p.size}p` });
  }
  for (const r of ladder.rungs.filter((rung) => rung.status === 'packaged')) {
    const predicted = value(r.predicted);
    if (r.predicted && predicted !== undefined) points.push({ x: Math.round(r.predicted.kbps), y: predicted, label: `${r.name} chosen`, group: 'chosen (predicted)' });
    const measured = value(r.measured?.quality);
    if (r.measured && measured !== undefined) points.push({ x: Math.round(r.measured.averageKbps), y: measured, label: r.name, group: 'measured' });
  }
  // A fixed ladder has no probe curves: its measured points are the quality charts' already.
  const chart = ladder.method === 'auto' && points.length > 0 ? `<div class="vp-charts">${scatterChart(points, { x: 'bit rate (kb/s)', y: metric === 'vmaf' ? 'VMAF' : 'PSNR (dB)', yDigits: 1 })}</div>` : '';
  return `<h2>Ladder choice</h2>${head}${table}${chart}`;
}

/** Lanes: the fewest rows such that no two tasks in a row overlap, i.e. what ran side by side. */
export function assignLanes(tasks: { start: number; end: number }[]): number[] {
  const laneEnds: number[] = [];
  const order = tasks.map((t, i) => ({ ...t, i })).sort((a, b) => a.start - b.start || a.end - b.end);
  const lanes = new Array<number>(tasks.length).fill(0);
  for (const t of order) {
    let lane = laneEnds.findIndex((end) => end <= t.start);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = t.end;
    lanes[t.i] = lane;
  }
  return lanes;
}

function timeline(tasks: TimelineTask[]): string {
  const timed = tasks
    .filter((t) => t.startedAt !== null && t.finishedAt !== null)
    .map((t) => ({ task: t, start: Date.parse(t.startedAt!), end: Date.parse(t.finishedAt!) }))
    .sort((a, b) => a.start - b.start);
  if (timed.length === 0) return '<p class="note">No task timings recorded.</p>';
  const lanes = assignLanes(timed);
  const t0 = timed[0]!.start;
  const total = Math.max(1, Math.max(...timed.map((t) => t.end)) - t0);
  const rowHeight = 18;
  const labelWidth = 190;
  const width = 900;
  const height = 30 + timed.length * rowHeight;
  const sx = (ms: number) => labelWidth + ((ms - t0) / total) * (width - labelWidth - 20);
  const parts: string[] = [];
  for (const s of ticks(0, total / 1000, 8)) {
    parts.push(`<line class="grid" x1="${sx(t0 + s * 1000).toFixed(1)}" x2="${sx(t0 + s * 1000).toFixed(1)}" y1="4" y2="${height - 22}"/><text x="${sx(t0 + s * 1000).toFixed(1)}" y="${height - 8}" text-anchor="middle">${s} s</text>`);
  }
  timed.forEach(({ task, start, end }, row) => {
    const y = 4 + row * rowHeight;
    const colour = isNodeKind(task.kind) ? NODE_KINDS[task.kind].colour : '#6b7280';
    const seconds = ((end - start) / 1000).toFixed(2);
    const tip = `${task.id} (${task.status}) ${new Date(start).toISOString()} → ${new Date(end).toISOString()}, ${seconds} s, worker ${task.worker ?? '?'}, lane ${lanes[row]! + 1}`;
    parts.push(`<text x="4" y="${y + 12}">${escapeHtml(task.id)}</text>`);
    parts.push(`<rect class="vp-task" data-task="${escapeHtml(task.id)}" x="${sx(start).toFixed(1)}" y="${y + 2}" width="${Math.max(1.5, sx(end) - sx(start)).toFixed(1)}" height="${rowHeight - 5}" rx="2" fill="${colour}"${task.status === 'succeeded' || task.status === 'skipped' ? '' : ' opacity="0.45"'}><title>${escapeHtml(tip)}</title></rect>`);
  });
  const workers = [...new Set(timed.map((t) => t.task.worker ?? '?'))];
  const laneCount = Math.max(...lanes) + 1;
  return `<svg class="vp-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="task timeline">${parts.join('')}</svg>` +
    `<p class="note">${timed.length} tasks over ${(total / 1000).toFixed(2)} s; at most ${laneCount} ran at once; worker${workers.length > 1 ? 's' : ''}: ${escapeHtml(workers.join(', '))}.</p>`;
}

/** The report as a fragment (no <html>), for the served player page. */
export function renderReportSection(data: ReportData): string {
  const duration = data.durationSeconds === null ? '' : `, ${data.durationSeconds.toFixed(3)} s`;
  return `<section class="vp-report" id="vp-report">` +
    `<p class="note">Video ${escapeHtml(data.videoId)}, job ${escapeHtml(data.jobId)}, source ${escapeHtml(data.source)}${duration}.</p>` +
    `<h2>Ladder</h2>${ladderTable(data)}` +
    `<p class="note">Average and peak bit rates are measured from the segment files (RFC 8216 §4.1).</p>` +
    (data.kind === 'video' ? `<h2>Bit rate and quality</h2>${qualityCharts(data)}${ladderChoice(data)}` : '') +
    `<h2>Task timeline</h2>${timeline(data.tasks)}</section>`;
}

/** A complete, self-contained HTML document (inline CSS and SVG, nothing fetched). */
export function renderReportDocument(data: ReportData): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>vidpipe report: ${escapeHtml(data.title)}</title><style>body{margin:24px;}${REPORT_CSS}</style></head>` +
    `<body><h1 style="font:600 22px system-ui,sans-serif">vidpipe report: ${escapeHtml(data.title)}</h1>${renderReportSection(data)}</body></html>\n`;
}
