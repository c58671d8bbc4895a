/**
 * HTTP Range requests (RFC 9110 §14): `bytes=a-b`, `bytes=a-` (to the end), `bytes=-n`
 * (the last n bytes), and several of them separated by commas.
 */
export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export type RangeRequest =
  /** No Range header, or one this server ignores (not bytes, malformed): answer 200 with the whole file. */
  | { kind: 'whole' }
  /** Syntactically valid but no range overlaps the file: 416. */
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: ByteRange[] };

/** More ranges than this in one request is abuse (RFC 9110 §14.2 allows ignoring them). */
const MAX_RANGES = 50;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'whole' };
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match) return { kind: 'whole' };
  const specs = match[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'whole' };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const parts = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (!parts || (parts[1] === '' && parts[2] === '')) return { kind: 'whole' };
    if (parts[1] === '') {
      const suffix = Number(parts[2]);
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(parts[1]);
    const end = parts[2] === '' ? size - 1 : Number(parts[2]);
    if (end < start) return { kind: 'whole' };
    if (start < size) ranges.push({ start, end: Math.min(end, size - 1) });
  }
  return ranges.length === 0 ? { kind: 'unsatisfiable' } : { kind: 'ranges', ranges };
}
