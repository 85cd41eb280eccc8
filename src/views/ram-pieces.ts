import { physicalPieces } from '../engine/physical';
import { Piece, zeroPiece } from '../engine/pieces';
import { appendAll, RamRange, rangeEnd, Segment } from '../types';

/** The bytes of one RAM range, from the source's segments (zeros where it has none). */
export function rangePieces(segments: readonly Segment[], r: RamRange): Piece[] {
  return physicalPieces(segments, r.start, rangeEnd(r));
}

/** Physical [0, end of last range): RAM from the source, zeros in every hole. */
export function paddedPieces(segments: readonly Segment[], ranges: readonly RamRange[]): Piece[] {
  const pieces: Piece[] = [];
  let pos = 0;
  for (const r of ranges) {
    if (r.start > pos) pieces.push(zeroPiece(r.start - pos));
    appendAll(pieces, rangePieces(segments, r));
    pos = rangeEnd(r);
  }
  return pieces;
}

/** The RAM ranges concatenated, nothing between them (what LiME format=raw writes). */
export function rawPieces(segments: readonly Segment[], ranges: readonly RamRange[]): Piece[] {
  return ranges.flatMap((r) => rangePieces(segments, r));
}
