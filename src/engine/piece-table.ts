import { PlacedPiece } from './pieces';

/** Piece kinds as numbers, for typed arrays and the native read path. */
export const PIECE_ZERO = 0;
export const PIECE_BYTES = 1;
export const PIECE_SOURCE = 2;

/**
 * A virtual file's layout as plain typed arrays: what a native read path
 * takes whole at mount time. Row i covers [starts[i], starts[i] + lengths[i]);
 * `offsets[i]` is the source offset (kind source) or the index into `bytes`
 * (kind bytes).
 */
export interface PieceTable {
  size: number;
  starts: Float64Array;
  lengths: Float64Array;
  kinds: Uint8Array;
  offsets: Float64Array;
  bytes: Buffer[];
}

export function toPieceTable(pieces: readonly PlacedPiece[]): PieceTable {
  const n = pieces.length;
  const table: PieceTable = {
    size: n ? pieces[n - 1].start + pieces[n - 1].length : 0,
    starts: new Float64Array(n),
    lengths: new Float64Array(n),
    kinds: new Uint8Array(n),
    offsets: new Float64Array(n),
    bytes: [],
  };
  pieces.forEach((p, i) => {
    table.starts[i] = p.start;
    table.lengths[i] = p.length;
    if (p.kind === 'source') {
      table.kinds[i] = PIECE_SOURCE;
      table.offsets[i] = p.offset;
    } else if (p.kind === 'bytes') {
      table.kinds[i] = PIECE_BYTES;
      table.offsets[i] = table.bytes.push(p.data) - 1;
    } else {
      table.kinds[i] = PIECE_ZERO;
    }
  });
  return table;
}
