import { escapeHtml, REPORT_CSS, renderReportSection } from '../report/html.js';
import { reportFromPackage } from '../report/model.js';
import type { PackageLayout } from './package-layout.js';
import { PLAYER_ENGINES, PLAYER_LIBRARIES, playerLibraryFile, type PlayerEngine } from './player-assets.js';
import { PLAYER_SCRIPT } from './player-script.js';
import type { ClearKey } from '../settings/command-options.js';

/** A script the page loads: a player library's file (never a CDN), or inline text. */
export type PlayerAsset = { file: () => string | undefined } | { text: string };

export const PLAYER_ASSETS: Record<string, PlayerAsset> = {
  ...Object.fromEntries(PLAYER_LIBRARIES.map((library) => [library.served, { file: () => playerLibraryFile(library) }])),
  'player.js': { text: PLAYER_SCRIPT },
};

export const PAGE_CSS = `
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2430; background: #f4f6fa; }
header { padding: 12px 24px; background: #1d2430; color: #fff; display: flex; gap: 24px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header a { color: #9cc2ff; }
main { padding: 16px 24px; max-width: 1000px; }
#vp-stage { position: relative; background: #000; max-width: 960px; }
#vp-video { width: 100%; display: block; aspect-ratio: 16 / 9; background: #000; }
#vp-seek { position: relative; margin: 8px 0; max-width: 960px; }
#vp-seekbar { width: 100%; }
#vp-thumb { position: absolute; bottom: 28px; display: none; border: 2px solid #fff; box-shadow: 0 2px 8px rgba(0,0,0,.5); background-repeat: no-repeat; pointer-events: none; }
#vp-thumb span { position: absolute; bottom: 0; left: 0; right: 0; background: rgba(0,0,0,.6); color: #fff; font-size: 11px; text-align: center; }
.vp-controls { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
#vp-info { font-family: ui-monospace, monospace; font-size: 12px; color: #394256; }
`;

/** The player page: hls.js, dash.js or Shaka Player on the package's entry manifests, a rendition picker, storyboard thumbnails, and the report. */
export function renderPlayerPage(layout: PackageLayout, requested?: PlayerEngine, indexHref?: string, clearKeys: ClearKey[] = []): string {
  const engine = requested ?? (layout.hls ? 'hls' : 'dash');
  const { name, manifest, library } = PLAYER_ENGINES[engine];
  // `manifest` names which of the two the engine plays.
  const config = { engine, manifest, hls: layout.hls ?? null, dash: layout.dash ?? null, storyboard: layout.storyboard ?? null, ...(clearKeys.length > 0 ? { clearKeys } : {}) };
  const engineLinks = Object.entries(PLAYER_ENGINES)
    .filter(([, e]) => (e.manifest === 'hls' ? layout.hls : layout.dash))
    .map(([id, e]) => `<a href="?engine=${id}">${e.manifest === 'hls' ? 'HLS' : 'DASH'} (${e.name})</a>`);
  const links = [
    indexHref ? `<a href="${escapeHtml(indexHref)}">all packages</a>` : '',
    ...engineLinks,
    layout.download ? `<a href="${escapeHtml(layout.download)}" download>download MP4</a>` : '',
    layout.summary ? `<a href="${escapeHtml(layout.base)}_vidpipe/report.html">report as a page</a>` : '',
  ].filter(Boolean);
  const report = layout.summary
    ? renderReportSection(reportFromPackage(layout.summary))
    : '<p>This package has no <code>vidpipe.json</code>, so there is no report to show.</p>';
  // JSON inside <script> must not be able to close the element.
  const configJson = JSON.stringify(config).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(layout.title)} · vidpipe serve</title>
<style>${PAGE_CSS}${REPORT_CSS}</style></head>
<body>
<header><h1>${escapeHtml(layout.title)}</h1><span>playing ${manifest === 'hls' ? 'HLS' : 'DASH'} with <b id="vp-engine">${name}</b></span>${links.join(' ')}</header>
<main>
<div id="vp-stage"><video id="vp-video" controls muted playsinline crossorigin="anonymous"${layout.poster ? ` poster="${escapeHtml(layout.poster)}"` : ''}>${
    layout.storyboard ? `<track id="vp-storyboard" kind="metadata" label="storyboard" src="${escapeHtml(layout.storyboard)}" default>` : ''
  }</video></div>
<div id="vp-seek"><input id="vp-seekbar" type="range" min="0" max="1000" step="1" value="0" aria-label="seek"><div id="vp-thumb"><span></span></div></div>
<div class="vp-controls"><label>Rendition <select id="vp-rendition"><option value="-1">auto</option></select></label><span id="vp-info">loading…</span></div>
<h2>Report</h2>
${report}
</main>
<script type="application/json" id="vp-config">${configJson}</script>
<script src="/_vidpipe/${library}"></script>
<script src="/_vidpipe/player.js"></script>
</body></html>
`;
}
