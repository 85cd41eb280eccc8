import { bytesPiece, Piece } from '../engine/pieces';
import { RamRange, rangeEnd, Segment } from '../types';
import { roundOutToPages } from '../maps/ranges';
import { rangePieces } from './ram-pieces';

/** LiME v1 range header, 32 bytes little-endian (LiME src/lime.h). */
export const LIME_MAGIC = 0x4c694d45;
export const LIME_VERSION = 1;
export const LIME_HEADER_SIZE = 32;

export function limeHeader(start: number, endInclusive: number): Buffer {
  const h = Buffer.alloc(LIME_HEADER_SIZE); // reserved bytes 0x18..0x1f stay zero
  h.writeUInt32LE(LIME_MAGIC, 0x00);
  h.writeUInt32LE(LIME_VERSION, 0x04);
  h.writeBigUInt64LE(BigInt(start), 0x08);
  h.writeBigUInt64LE(BigInt(endInclusive), 0x10);
  return h;
}

/** memory.lime: per RAM range, ascending, a header then exactly end-start+1 bytes. */
export function limePieces(segments: readonly Segment[], ranges: readonly RamRange[]): Piece[] {
  return ranges.flatMap((r) => [bytesPiece(limeHeader(r.start, rangeEnd(r) - 1)), ...rangePieces(segments, r)]);
}

/**
 * leechcore.lime: LiME with every range widened to whole pages (start down,
 * end up to ...fff), because LeechCore rejects other headers; the added bytes
 * come from the source where it holds them, else zeros.
 */
export function pageRoundedLimePieces(segments: readonly Segment[], ranges: readonly RamRange[]): Piece[] {
  return roundOutToPages(ranges).flatMap((r) => [bytesPiece(limeHeader(r.start, rangeEnd(r) - 1)), ...rangePieces(segments, r)]);
}
