import { Segment } from '../types';
import { Piece, sourcePiece, zeroPiece } from './pieces';

/**
 * Pieces that serve physical addresses [start, end) from a source's segments:
 * segment bytes where the source has them, zeros everywhere else. Segments
 * must be sorted by `phys` and must not overlap (sources guarantee it).
 */
export function physicalPieces(segments: readonly Segment[], start: number, end: number): Piece[] {
  const out: Piece[] = [];
  let pos = start;
  let i = firstSegmentEndingAfter(segments, start);
  for (; i < segments.length && pos < end; i++) {
    const s = segments[i];
    if (s.phys >= end) break;
    if (s.phys > pos) {
      out.push(zeroPiece(s.phys - pos));
      pos = s.phys;
    }
    const stop = Math.min(end, s.phys + s.length);
    if (stop > pos) {
      out.push(s.offset === null ? zeroPiece(stop - pos) : sourcePiece(s.offset + (pos - s.phys), stop - pos));
      pos = stop;
    }
  }
  if (pos < end) out.push(zeroPiece(end - pos));
  return out;
}

function firstSegmentEndingAfter(segments: readonly Segment[], addr: number): number {
  let lo = 0;
  let hi = segments.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (segments[mid].phys + segments[mid].length <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
