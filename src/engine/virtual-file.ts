import { PIECE_BYTES, PIECE_SOURCE, PIECE_ZERO, PieceTable } from './piece-table';
import { ByteSource, readExactly } from '../io/byte-source';
import { countAtOrBelow } from '../types';

/**
 * The one read path. A virtual file is a piece table (engine/piece-table.ts);
 * a read finds the first row by binary search over their start offsets and
 * fills the buffer row by row. Reads past the end are short.
 */
export class VirtualFile {
  readonly size: number;
  private data: number | undefined;

  /** `source` is read by the native read path too: by its fd where it has one, else through read(). */
  constructor(
    private readonly rows: PieceTable,
    readonly source: ByteSource | null,
  ) {
    this.size = rows.size;
    if (!source && rows.kinds.includes(PIECE_SOURCE)) throw new Error('virtual file has source pieces but no byte source');
  }

  /** The layout as typed arrays (export walks it; the native read path takes it whole). */
  table(): PieceTable {
    return this.rows;
  }

  /** Bytes that are not zero rows: what the file would occupy if written sparse. */
  dataBytes(): number {
    if (this.data === undefined) {
      const { kinds, lengths } = this.rows;
      let n = 0;
      for (let i = 0; i < kinds.length; i++) if (kinds[i] !== PIECE_ZERO) n += lengths[i];
      this.data = n;
    }
    return this.data;
  }

  /** Index of the row holding `offset` (offset < size). */
  private find(offset: number): number {
    const starts = this.rows.starts;
    return Math.max(0, countAtOrBelow(starts.length, (i) => starts[i], offset) - 1);
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
    const { starts, lengths, kinds, offsets, bytes } = this.rows;
    const end = Math.min(this.size, position + length);
    let i = this.find(position);
    let pos = position;
    while (pos < end) {
      const within = pos - starts[i];
      const n = Math.min(end, starts[i] + lengths[i]) - pos;
      const into = pos - position;
      const kind = kinds[i];
      if (kind === PIECE_BYTES) bytes.copy(target, into, offsets[i] + within, offsets[i] + within + n);
      else if (kind === PIECE_ZERO) target.fill(0, into, into + n);
      else await readExactly(this.source!, target, into, n, offsets[i] + within);
      pos += n;
      i++;
    }
    return end - position;
  }
}
