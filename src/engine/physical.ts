import { countAtOrBelow, Segment } from '../types';
import { PieceTable, PieceTableBuilder } from './piece-table';

/**
 * Appends the rows that serve physical addresses [start, end) from a
 * source's segments: segment bytes where the source has them, zeros
 * everywhere else. Segments must be sorted by `phys` and must not overlap
 * (sources guarantee it).
 */
export function appendPhysical(out: PieceTableBuilder, segments: readonly Segment[], start: number, end: number): void {
  let pos = start;
  for (let i = firstSegmentEndingAfter(segments, start); i < segments.length && pos < end; i++) {
    const s = segments[i];
    if (s.phys >= end) break;
    if (s.phys > pos) {
      out.zero(s.phys - pos);
      pos = s.phys;
    }
    const stop = Math.min(end, s.phys + s.length);
    if (stop > pos) {
      if (s.offset === null) out.zero(stop - pos);
      else out.source(s.offset + (pos - s.phys), stop - pos);
      pos = stop;
    }
  }
  if (pos < end) out.zero(end - pos);
}

/** Physical [start, end) of the segments as a file of its own. */
export function physicalTable(segments: readonly Segment[], start: number, end: number): PieceTable {
  const out = new PieceTableBuilder();
  appendPhysical(out, segments, start, end);
  return out.build();
}

function firstSegmentEndingAfter(segments: readonly Segment[], addr: number): number {
  return countAtOrBelow(segments.length, (i) => segments[i].phys + segments[i].length, addr);
}
