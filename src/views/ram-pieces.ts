import { appendPhysical, physicalTable } from '../engine/physical';
import { PieceTable, PieceTableBuilder } from '../engine/piece-table';
import { RamRange, rangeEnd, Segment } from '../types';

/** The bytes of one RAM range, from the source's segments (zeros where it has none). */
export function appendRange(out: PieceTableBuilder, segments: readonly Segment[], r: RamRange): void {
  appendPhysical(out, segments, r.start, rangeEnd(r));
}

/** One RAM range as a file of its own. */
export function rangeTable(segments: readonly Segment[], r: RamRange): PieceTable {
  return physicalTable(segments, r.start, rangeEnd(r));
}

/** Rows a view of `ranges` over `segments` needs when the segments cover the ranges (the usual source): a row per segment, one per range. */
export function rowsHint(segments: readonly Segment[], ranges: readonly RamRange[]): number {
  return segments.length + ranges.length + 4;
}

/** Physical [0, end of last range): RAM from the source, zeros in every hole. */
export function paddedTable(segments: readonly Segment[], ranges: readonly RamRange[]): PieceTable {
  const out = new PieceTableBuilder(rowsHint(segments, ranges), 16);
  for (const r of ranges) {
    out.zero(r.start - out.size);
    appendRange(out, segments, r);
  }
  return out.build();
}

/** The RAM ranges concatenated, nothing between them (what LiME format=raw writes). */
export function rawTable(segments: readonly Segment[], ranges: readonly RamRange[]): PieceTable {
  const out = new PieceTableBuilder(segments.length + 4, 16);
  for (const r of ranges) appendRange(out, segments, r);
  return out.build();
}
