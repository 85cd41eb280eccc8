import { bytesPiece, Piece } from '../engine/pieces';
import { RamRange, rangeEnd, Segment } from '../types';
import { encodeLimeHeader } from '../formats/lime';
import { roundOutToPages } from '../maps/ranges';
import { rangePieces } from './ram-pieces';

/** memory.lime: per RAM range, ascending, a header then exactly end-start+1 bytes. */
export function limePieces(segments: readonly Segment[], ranges: readonly RamRange[]): Piece[] {
  return ranges.flatMap((r) => [bytesPiece(encodeLimeHeader(r.start, rangeEnd(r) - 1)), ...rangePieces(segments, r)]);
}

/**
 * leechcore.lime: LiME with every range widened to whole pages (start down,
 * end up to ...fff), because LeechCore rejects other headers; the added bytes
 * come from the source where it holds them, else zeros.
 */
export function pageRoundedLimePieces(segments: readonly Segment[], ranges: readonly RamRange[]): Piece[] {
  return roundOutToPages(ranges).flatMap((r) => [bytesPiece(encodeLimeHeader(r.start, rangeEnd(r) - 1)), ...rangePieces(segments, r)]);
}
