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
  /** No Range header, or one this server ignores (not bytes, malformed, abusive): answer 200 with the whole file. */
  | { kind: 'whole' }
  /** Syntactically valid but no range overlaps the file: 416. */
  | { kind: 'unsatisfiable' }
  /** Disjoint, non-adjacent ranges, in the order the client first asked for each. */
  | { kind: 'ranges'; ranges: ByteRange[] };

/** More ranges than this in one request is abuse (RFC 9110 §14.2 allows ignoring them). */
const MAX_RANGES = 50;

/**
 * What one part of a multipart/byteranges body costs besides its bytes: the boundary line, its
 * Content-Type and Content-Range headers and the CRLFs (about 110 bytes for a segment). An
 * estimate is enough: it only decides when the whole file is cheaper than the parts.
 */
export const MULTIPART_PART_OVERHEAD = 120;

/**
 * The ranges of a Range header on a file of `size` bytes. Overlapping and adjacent ranges are
 * merged (RFC 9110 §15.3.7.2 allows coalescing regardless of order), so no byte is sent twice;
 * a request whose multipart answer would be larger than the file itself is answered with the
 * file (200), as §14.2 allows for many small or overlapping ranges: what a client can make the
 * server send is bounded by the file's size whatever it asks.
 */
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
    const end = parts[2] === '' ? Infinity : Number(parts[2]);
    if (end < start) return { kind: 'whole' };
    if (start < size) ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  const merged = coalesce(ranges);
  if (merged.length > 1) {
    const body = merged.reduce((sum, r) => sum + (r.end - r.start + 1) + MULTIPART_PART_OVERHEAD, 0);
    if (body > size) return { kind: 'whole' };
  }
  return { kind: 'ranges', ranges: merged };
}

/**
 * Merges overlapping and adjacent ranges. The merged ranges keep the order in which the client
 * first asked for one of their members (RFC 9110 §15.3.7.2: parts in the order requested,
 * excluding those coalesced into others).
 */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  const byStart = ranges.map((range, order) => ({ ...range, order })).sort((a, b) => a.start - b.start || a.order - b.order);
  const merged: (ByteRange & { order: number })[] = [];
  for (const range of byStart) {
    const last = merged.at(-1);
    if (last && range.start <= last.end + 1) {
      last.end = Math.max(last.end, range.end);
      last.order = Math.min(last.order, range.order);
    } else {
      merged.push({ ...range });
    }
  }
  return merged.sort((a, b) => a.order - b.order).map(({ start, end }) => ({ start, end }));
}
