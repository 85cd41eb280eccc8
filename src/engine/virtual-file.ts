import { Piece, PlacedPiece, placePieces } from './pieces';
import { PieceTable, toPieceTable } from './piece-table';
import { ByteSource, readExactly } from '../io/byte-source';

/**
 * The one read path. A virtual file is a list of placed pieces; a read finds
 * the first piece by binary search over their start offsets and fills the
 * buffer piece by piece. Reads past the end are short.
 */
export class VirtualFile {
  readonly size: number;
  private readonly pieces: PlacedPiece[];
  private readonly starts: Float64Array;

  /** `source` is read by the native read path too: by its fd where it has one, else through read(). */
  constructor(
    pieces: readonly Piece[],
    readonly source: ByteSource | null,
  ) {
    this.pieces = placePieces(pieces);
    this.starts = Float64Array.from(this.pieces, (p) => p.start);
    const last = this.pieces[this.pieces.length - 1];
    this.size = last ? last.start + last.length : 0;
    if (!source && this.pieces.some((p) => p.kind === 'source')) {
      throw new Error('virtual file has source pieces but no byte source');
    }
  }

  /** The placed pieces, for `info` and for tests. */
  layout(): readonly PlacedPiece[] {
    return this.pieces;
  }

  /** The layout as typed arrays (for a native read path). */
  table(): PieceTable {
    return toPieceTable(this.pieces);
  }

  /** Bytes that are not zero-pieces: what the file would occupy if written sparse. */
  dataBytes(): number {
    let n = 0;
    for (const p of this.pieces) if (p.kind !== 'zero') n += p.length;
    return n;
  }

  /** Index of the piece holding `offset` (offset < size). */
  private find(offset: number): number {
    const starts = this.starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The file as a ByteSource (a scan reads a view's bytes through the same interface as an image's). */
  asByteSource(label: string): ByteSource {
    return {
      size: this.size,
      label,
      read: (target, targetOffset, length, position) =>
        this.read(Buffer.from(target.buffer, target.byteOffset + targetOffset, Math.max(0, length)), position, length),
      close: () => {},
    };
  }

  /** Fills `target[0..)` from `position`; resolves with the byte count (short at EOF). */
  async read(target: Buffer, position: number, length: number): Promise<number> {
    if (position >= this.size || length <= 0) return 0;
    const end = Math.min(this.size, position + length);
    let i = this.find(position);
    let pos = position;
    while (pos < end) {
      const p = this.pieces[i++];
      const within = pos - p.start;
      const n = Math.min(end, p.start + p.length) - pos;
      const into = pos - position;
      if (p.kind === 'bytes') p.data.copy(target, into, within, within + n);
      else if (p.kind === 'zero') target.fill(0, into, into + n);
      else await readExactly(this.source!, target, into, n, p.offset + within);
      pos += n;
    }
    return end - position;
  }
}
