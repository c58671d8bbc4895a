import { escapeHtml } from '../report/html.js';
import type { PackageLayout } from './package-layout.js';
import { PAGE_CSS } from './page.js';

/** One package of an output folder, as the index lists it. */
export interface IndexEntry {
  /** Its folder name. */
  name: string;
  /** Its player page. */
  href: string;
  layout: PackageLayout;
  /** From the metadata records (`serve --db`), where the package's vidpipe.json is not read: */
  durationSeconds?: number;
  renditions?: string[];
  /** Where the package is published (a path or URI). */
  location?: string;
}

const INDEX_CSS = `
table.vp-index { border-collapse: collapse; background: #fff; }
.vp-index th, .vp-index td { padding: 6px 12px; border-bottom: 1px solid #dde2ea; text-align: left; vertical-align: middle; }
.vp-index td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.vp-index img { display: block; width: 160px; max-height: 90px; object-fit: cover; background: #000; }
.vp-index .renditions { font-family: ui-monospace, monospace; font-size: 12px; color: #394256; }
`;

/** 0:07, 12:03, 1:02:03. */
function clock(seconds: number): string {
  const total = Math.round(seconds);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

function row({ name, href, layout, ...recorded }: IndexEntry): string {
  const result = layout.summary?.result;
  const renditions = (recorded.renditions ?? result?.renditions.map((rendition) => rendition.name))?.join(', ');
  const durationSeconds = recorded.durationSeconds ?? result?.durationSeconds;
  const location = recorded.location === undefined ? '' : `<br><small class="location">${escapeHtml(recorded.location)}</small>`;
  const poster = layout.thumbnail ? `<img src="${escapeHtml(layout.thumbnail)}" alt="" loading="lazy">` : '';
  const title = layout.title === name ? escapeHtml(name) : `${escapeHtml(layout.title)} <small>(${escapeHtml(name)})</small>`;
  return `<tr data-package="${escapeHtml(name)}"><td><a href="${escapeHtml(href)}">${poster}</a></td><td><a href="${escapeHtml(href)}">${title}</a>${location}</td>` +
    `<td class="num">${durationSeconds === undefined ? '–' : clock(durationSeconds)}</td>` +
    `<td class="renditions">${renditions ? escapeHtml(renditions) : '–'}</td></tr>`;
}

/** The page at / when `vidpipe serve` is given an output folder: its packages, each linking to its player page. */
export function renderIndexPage(folder: string, entries: IndexEntry[], emptyHint?: string): string {
  const body = entries.length
    ? `<table class="vp-index"><thead><tr><th>Poster</th><th>Package</th><th>Duration</th><th>Renditions</th></tr></thead><tbody>\n${entries.map(row).join('\n')}\n</tbody></table>`
    : `<p>${emptyHint ?? `No packages here yet. Make one with <code>vidpipe transcode input.mp4 --out ${escapeHtml(folder)}</code>; this page lists it on the next reload.`}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(folder)} · vidpipe serve</title>
<style>${PAGE_CSS}${INDEX_CSS}</style></head>
<body>
<header><h1>${escapeHtml(folder)}</h1><span>${entries.length} package${entries.length === 1 ? '' : 's'}</span></header>
<main>
${body}
</main>
</body></html>
`;
}
