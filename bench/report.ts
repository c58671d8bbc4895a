/**
 * The figures `npm run bench` prints and writes: tables of runs, the profile of a vidpipe run,
 * and each figure beside its target (issue 16's Targets, issue 7's resume bound) with PASS/FAIL.
 */
import type { CpuAccount, VidpipeProfile } from './profile.js';

export interface TargetCheck {
  id: string;
  label: string;
  value: number | undefined;
  comparison: '<=' | '>=';
  target: number;
  unit: '×' | '%' | 'MiB' | 'dB' | 'n';
  pass: boolean | undefined;
  note?: string;
}

export function check(id: string, label: string, value: number | undefined, comparison: '<=' | '>=', target: number, unit: TargetCheck['unit'], note?: string): TargetCheck {
  const pass = value === undefined || !Number.isFinite(value) ? undefined : comparison === '<=' ? value <= target : value >= target;
  return { id, label, value, comparison, target, unit, pass, ...(note ? { note } : {}) };
}

function formatValue(value: number | undefined, unit: TargetCheck['unit']): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a';
  if (unit === '%') return `${(value * 100).toFixed(Math.abs(value) < 0.1 ? 1 : 0)} %`;
  if (unit === 'MiB') return `${value.toFixed(0)} MiB`;
  if (unit === 'dB') return `${value.toFixed(3)} dB`;
  if (unit === 'n') return String(value);
  return `${value.toFixed(2)}×`;
}

export function targetLines(checks: TargetCheck[]): string[] {
  const width = Math.max(...checks.map((c) => c.label.length), 20);
  return [
    `${'target'.padEnd(width)}  ${'measured'.padStart(10)}  ${'target'.padStart(10)}  result`,
    ...checks.map(
      (c) =>
        `${c.label.padEnd(width)}  ${formatValue(c.value, c.unit).padStart(10)}  ${`${c.comparison === '<=' ? '≤' : '≥'} ${formatValue(c.target, c.unit)}`.padStart(10)}  ${c.pass === undefined ? 'n/a' : c.pass ? 'PASS' : 'FAIL'}${c.note ? `  (${c.note})` : ''}`,
    ),
  ];
}

/** What one contender's run cost, as the tables show it. */
export interface RunFigures {
  wallSeconds: number;
  cpuSeconds: number;
  coresUsed: number;
  peakTreeRssMiB: number;
  peakRootRssMiB?: number;
  othersCores: number;
}

export interface CostRow extends RunFigures {
  label: string;
}

/** Cores used is shown as a share of one core, out of cores × 100 % (145 % of 200 %). */
export function costLines(rows: CostRow[], cores: number): string[] {
  const width = Math.max(...rows.map((r) => r.label.length), 10);
  return [
    `${''.padEnd(width)}  ${'wall'.padStart(8)}  ${'CPU'.padStart(8)}  ${'cores used'.padStart(10)}  ${'tree RSS'.padStart(9)}  ${'node RSS'.padStart(9)}  ${'others'.padStart(11)}`,
    ...rows.map(
      (r) =>
        `${r.label.padEnd(width)}  ${`${r.wallSeconds.toFixed(1)} s`.padStart(8)}  ${`${r.cpuSeconds.toFixed(1)} s`.padStart(8)}  ${`${(r.coresUsed * cores * 100).toFixed(0)} %`.padStart(10)}  ${`${r.peakTreeRssMiB.toFixed(0)} MiB`.padStart(9)}  ${(r.peakRootRssMiB === undefined ? '' : `${r.peakRootRssMiB.toFixed(0)} MiB`).padStart(9)}  ${`${r.othersCores.toFixed(2)} cores`.padStart(11)}`,
    ),
  ];
}

const s = (value: number) => `${value.toFixed(2)} s`;

/** The profile of one vidpipe run; `ranges` adds min–max of each work item's CPU over all rounds. */
export function profileLines(profile: VidpipeProfile, ranges?: Map<string, [number, number]>): string[] {
  const lines: string[] = [];
  lines.push('  phases          from      to   length      CPU  idle core-s  node CPU  node RSS');
  for (const p of profile.phases) {
    lines.push(`  ${p.phase.padEnd(12)} ${s(p.start).padStart(7)} ${s(p.end).padStart(7)} ${s(p.seconds).padStart(8)} ${s(p.cpuSeconds).padStart(8)} ${s(p.idleCoreSeconds).padStart(12)} ${s(p.nodeCpuSeconds).padStart(9)} ${`${p.nodePeakRssMiB.toFixed(0)} MiB`.padStart(9)}`);
  }
  lines.push('', '  stage                 tasks    span (from–to)      busy       CPU');
  for (const st of profile.stages) {
    const span = st.tasks > 0 ? `${st.spanStart.toFixed(2)}–${st.spanEnd.toFixed(2)} s` : '';
    lines.push(`  ${st.kind.padEnd(20)} ${String(st.tasks).padStart(6)} ${span.padStart(18)} ${(st.tasks > 0 ? s(st.busySeconds) : '').padStart(9)} ${s(st.cpuSeconds).padStart(9)}`);
  }
  lines.push(`  ${'node (vidpipe itself)'.padEnd(20)} ${''.padStart(6)} ${''.padStart(18)} ${''.padStart(9)} ${s(profile.nodeCpuSeconds).padStart(9)}`);
  lines.push('', '  children by work           n       CPU    CPU range   Σ wall   max RSS');
  for (const w of profile.work) {
    const range = ranges?.get(w.work);
    lines.push(
      `  ${w.work.padEnd(24)} ${String(w.processes).padStart(3)} ${s(w.cpuSeconds).padStart(9)} ${(range ? `${range[0].toFixed(2)}–${range[1].toFixed(2)}` : '').padStart(12)} ${s(w.wallSeconds).padStart(8)} ${`${w.maxRssMiB.toFixed(0)} MiB`.padStart(9)}`,
    );
  }
  if (profile.chunks.length > 0) {
    lines.push('', '  chunk   frames  decoded before start   wall       CPU   CPU/frame');
    for (const c of profile.chunks) {
      lines.push(
        `  ${String(c.index).padStart(5)} ${String(c.frames).padStart(8)} ${(c.framesDecodedBefore === undefined ? '–' : String(c.framesDecodedBefore)).padStart(21)} ${s(c.wallSeconds).padStart(7)} ${s(c.cpuSeconds).padStart(9)} ${`${((c.cpuSeconds / Math.max(1, c.frames)) * 1000).toFixed(0)} ms`.padStart(10)}`,
      );
    }
  }
  return lines;
}

/**
 * The per-stage CPU account of vidpipe runs (cpuAccount) beside the total of the runs it is
 * compared with: what each part costs, the next round's starting point (issue 27).
 */
export function accountLines(rows: { label: string; account?: CpuAccount; cpuSeconds: number }[]): string[] {
  const width = Math.max(...rows.map((r) => r.label.length), 14);
  const cell = (value: number | undefined, w: number) => (value === undefined ? '' : value.toFixed(2)).padStart(w);
  return [
    `  ${'CPU, s'.padEnd(width)}  ${'head'.padStart(6)}  ${'encode'.padStart(7)}  ${'warm-ups≈'.padStart(9)}  ${'decoded twice≈'.padStart(14)}  ${'warm-up cuts'.padStart(12)}  ${'tail'.padStart(6)}  ${'total'.padStart(7)}`,
    ...rows.map(({ label, account: a, cpuSeconds }) =>
      `  ${label.padEnd(width)}  ${cell(a?.head, 6)}  ${cell(a?.encode, 7)}  ${cell(a?.warmups, 9)}  ${cell(a?.decodedTwice, 14)}  ${cell(a?.warmupCuts, 12)}  ${cell(a?.tail, 6)}  ${cell(cpuSeconds, 7)}`,
    ),
  ];
}
