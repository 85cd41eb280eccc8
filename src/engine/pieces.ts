/**
 * The layout of one virtual file: an ordered, gap-free list of pieces.
 * Views build these at mount time; the read path only looks them up.
 */
export type Piece =
  /** Bytes built in memory (headers, text). */
  | { kind: 'bytes'; length: number; data: Buffer }
  /** Bytes read from the source store at `offset`. */
  | { kind: 'source'; length: number; offset: number }
  /** Zeros (holes, padding). */
  | { kind: 'zero'; length: number };

/** A piece placed at its offset in the virtual file. */
export type PlacedPiece = Piece & { start: number };

export function bytesPiece(data: Buffer): Piece {
  return { kind: 'bytes', length: data.length, data };
}

export function zeroPiece(length: number): Piece {
  return { kind: 'zero', length };
}

export function sourcePiece(offset: number, length: number): Piece {
  return { kind: 'source', length, offset };
}

/**
 * Places pieces back to back, drops empty ones and merges neighbours that
 * continue each other (adjacent zeros, contiguous source runs), so the read
 * path crosses as few pieces as possible.
 */
export function placePieces(pieces: readonly Piece[]): PlacedPiece[] {
  const out: PlacedPiece[] = [];
  let at = 0;
  for (const p of pieces) {
    if (p.length === 0) continue;
    const last = out[out.length - 1];
    if (last && last.kind === 'zero' && p.kind === 'zero') {
      last.length += p.length;
    } else if (last && last.kind === 'source' && p.kind === 'source' && last.offset + last.length === p.offset) {
      last.length += p.length;
    } else {
      out.push({ ...p, start: at });
    }
    at += p.length;
  }
  return out;
}
