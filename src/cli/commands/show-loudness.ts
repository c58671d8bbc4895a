import type { LoudnessReport, LoudnessValues } from '../../core/result.js';

function values(v: LoudnessValues): string {
  return `${v.integrated.toFixed(1)} LUFS  LRA ${v.range.toFixed(1)} LU  TP ${v.truePeak.toFixed(1)} dBTP`;
}

function signed(db: number): string {
  return `${db >= 0 ? '+' : ''}${db.toFixed(2)} dB`;
}

function isReport(value: unknown): value is LoudnessReport {
  const report = value as LoudnessReport | undefined;
  return typeof report === 'object' && report !== null && typeof report.input?.integrated === 'number' && typeof report.renditions === 'object';
}

/** The title and label/value lines of `show`'s Loudness section; undefined when none was recorded. */
export function loudnessSection(properties: Record<string, unknown>): { title: string; fields: [string, string][] } | undefined {
  const report = properties.loudness;
  if (!isReport(report)) return undefined;
  const target = report.target === undefined ? 'measured only' : `target ${report.target} LUFS, true peak ≤ ${report.truePeakLimit} dBTP`;
  const method = report.method === 'none' ? 'level unchanged' : `${report.method} gain ${signed(report.gainDb ?? 0)}`;
  const fields: [string, string][] = [
    ['source', values(report.input)],
    ['applied', method],
    ...Object.entries(report.renditions).map(([name, v]): [string, string] => [name, values(v)]),
  ];
  return { title: `Loudness (EBU R128, ${target})`, fields };
}
