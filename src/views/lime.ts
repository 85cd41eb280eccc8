import { PieceTable, PieceTableBuilder } from '../engine/piece-table';
import { RamRange, rangeEnd, Segment } from '../types';
import { LIME_HEADER_SIZE, writeLimeHeader } from '../formats/lime';
import { roundOutToPages } from '../maps/ranges';
import { appendRange, rowsHint } from './ram-pieces';

/** memory.lime, LiME v1: per RAM range, ascending, a header then exactly end-start+1 bytes. */
export function limeTable(segments: readonly Segment[], ranges: readonly RamRange[]): PieceTable {
  const out = new PieceTableBuilder(rowsHint(segments, ranges), ranges.length * LIME_HEADER_SIZE);
  for (const r of ranges) {
    const at = out.appendBytes(LIME_HEADER_SIZE);
    writeLimeHeader(out.byteBuffer, at, r.start, rangeEnd(r) - 1);
    appendRange(out, segments, r);
  }
  return out.build();
}

/**
 * leechcore.lime: LiME with every range widened to whole pages (start down,
 * end up to ...fff), because LeechCore rejects other headers; the added bytes
 * come from the source where it holds them, else zeros. `exact`:
 * memory.lime's table, when built.
 */
export function pageRoundedLimeTable(segments: readonly Segment[], ranges: readonly RamRange[], exact?: PieceTable): PieceTable {
  const rounded = roundOutToPages(ranges);
  // A map of whole pages apart: the same file as memory.lime, built once (32 MB of headers per million ranges).
  return rounded === ranges && exact ? exact : limeTable(segments, rounded);
}
