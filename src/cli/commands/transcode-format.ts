import type { TranscodeResult } from '../../core/result.js';
import type { TranscodePlanView } from '../../job/run-job.js';
import { printable } from '../io.js';

const kbps = (bits: number) => `${Math.round(bits / 1000)}k`;

/** Human summary of one finished (or failed) input. */
export function formatResult(result: TranscodeResult): string {
  if (result.status !== 'succeeded') {
    const lines = [`✖ ${result.input}: ${result.error?.message ?? result.status}`];
    if (result.error?.hint) lines.push(`  hint: ${result.error.hint}`);
    if (result.error?.stderrTail) lines.push(...result.error.stderrTail.split('\n').map((l) => `  ffmpeg: ${l}`));
    return lines.map(printable).join('\n');
  }
  const lines = [
    `✔ ${result.input} → ${result.outputs.root} (${result.durationSeconds?.toFixed(2)} s, video ${result.id}, ${result.timings.total?.toFixed(1)} s)`,
    `  HLS:  ${result.outputs.hls}`,
    `  DASH: ${result.outputs.dash}`,
  ];
  if (result.package?.note) lines.push(`  package: ${result.package.name} (${result.package.note})`);
  if (result.outputs.poster) lines.push(`  poster: ${result.outputs.poster}`);
  if (result.resumed) lines.push(`  resumed job ${result.resumed.fromJob}: reused ${result.resumed.reusedTasks.length} finished tasks`);
  for (const discarded of result.discardedWorkDirs ?? []) lines.push(`  discarded work folder ${discarded}`);
  for (const note of result.source?.notes ?? []) lines.push(`  source: ${note}`);
  for (const r of result.renditions) {
    const shape = r.kind === 'video' ? `${r.width}x${r.height}@${r.frameRate}` : `${r.channels}ch ${r.sampleRate} Hz ${r.language}`;
    lines.push(`  ${r.name.padEnd(16)} ${shape.padEnd(18)} ${r.codecs.padEnd(14)} avg ${kbps(r.averageBitrate).padStart(6)} peak ${kbps(r.peakBitrate).padStart(6)}`);
  }
  return lines.map(printable).join('\n');
}

/** The task graph as text: one line per node with what it waits for. */
export function formatPlan(view: TranscodePlanView): string {
  const { plan } = view;
  const lines = [`${view.input}: ${plan.kind} job, ${plan.durationSeconds.toFixed(3)} s, segments ${plan.segmentDurationSeconds.toFixed(3)} s`];
  if (plan.video) {
    const v = plan.video;
    lines.push(`  frame rate ${v.frameRate.num}/${v.frameRate.den}, GOP ${v.gopFrames} frames, ${v.totalFrames} frames in ${v.chunks.length} chunks${v.deinterlace ? ', deinterlaced' : ''}`);
    for (const r of v.renditions) lines.push(`  ${r.id}: ${r.width}x${r.height} ${r.bitrateKbps}k (max ${r.maxrateKbps}k, buffer ${r.bufsizeKbps}k)${r.level ? ` ${r.profile}@${r.level}` : ''}`);
  }
  for (const a of plan.audio) lines.push(`  ${a.id}: ${a.codec === 'opus' ? 'Opus (DASH only)' : a.codec === 'eac3' ? 'E-AC-3' : 'AAC'} ${a.bitrateKbps}k ${a.channels}ch ${a.sampleRate} Hz, ${a.language} "${a.name}"${a.isDefault ? ' (default)' : ''}`);
  if (plan.loudnessTarget !== undefined) lines.push(`  loudness: normalised to ${plan.loudnessTarget} LUFS, true peak ≤ -1 dBTP`);
  lines.push('', `task graph (${view.tasks.length} tasks):`);
  for (const t of view.tasks) lines.push(`  ${t.id.padEnd(28)} ${t.label}${t.dependsOn.length ? `  ← ${summariseDeps(t.dependsOn)}` : ''}`);
  return lines.map(printable).join('\n');
}

function summariseDeps(deps: string[]): string {
  if (deps.length <= 3) return deps.join(', ');
  return `${deps.slice(0, 2).join(', ')} … (${deps.length})`;
}
