/** Piece kinds as numbers, for typed arrays and the native read path. */
export const PIECE_ZERO = 0;
export const PIECE_BYTES = 1;
export const PIECE_SOURCE = 2;

/**
 * A virtual file's layout as plain typed arrays: what views build, what the
 * read path looks up, what the native read path takes whole at mount time.
 * Row i covers [starts[i], starts[i] + lengths[i]), rows back to back from 0;
 * `offsets[i]` is the source offset (kind source) or where the row's bytes
 * start in `bytes` (kind bytes: every header and text of the file, in one
 * buffer, so a million LiME headers are one allocation, not a million).
 */
export interface PieceTable {
  size: number;
  starts: Float64Array;
  lengths: Float64Array;
  kinds: Uint8Array;
  offsets: Float64Array;
  bytes: Buffer;
}

/**
 * Builds a PieceTable row by row, merging a row into the previous one when
 * it continues it (zeros after zeros, the next source bytes, the next bytes
 * of `bytes`), so the read path crosses as few rows as possible. Empty rows
 * are dropped. Grows by doubling: no object per row.
 */
export class PieceTableBuilder {
  private n = 0;
  private at = 0;
  private starts: Float64Array;
  private lengths: Float64Array;
  private kinds: Uint8Array;
  private offsets: Float64Array;
  private blob: Buffer;
  private blobLength = 0;

  /** `rows`, `byteCount`: expected sizes (a hint; the builder grows past them). */
  constructor(rows = 16, byteCount = 256) {
    const cap = Math.max(4, rows);
    this.starts = new Float64Array(cap);
    this.lengths = new Float64Array(cap);
    this.kinds = new Uint8Array(cap);
    this.offsets = new Float64Array(cap);
    this.blob = Buffer.alloc(Math.max(16, byteCount));
  }

  /** The file size so far (where the next row starts). */
  get size(): number {
    return this.at;
  }

  zero(length: number): void {
    if (length <= 0) return;
    const last = this.n - 1;
    if (last >= 0 && this.kinds[last] === PIECE_ZERO) this.lengths[last] += length;
    else this.push(PIECE_ZERO, length, 0);
    this.at += length;
  }

  source(offset: number, length: number): void {
    if (length <= 0) return;
    const last = this.n - 1;
    if (last >= 0 && this.kinds[last] === PIECE_SOURCE && this.offsets[last] + this.lengths[last] === offset) this.lengths[last] += length;
    else this.push(PIECE_SOURCE, length, offset);
    this.at += length;
  }

  /** Bytes copied in (the caller may reuse `data`). */
  bytes(data: Uint8Array): void {
    const at = this.appendBytes(data.length);
    this.blob.set(data, at);
  }

  /**
   * Appends a bytes row of `length` bytes that the caller writes itself into
   * `byteBuffer` at the offset returned (a million headers, no Buffer each).
   */
  appendBytes(length: number): number {
    const at = this.blobLength;
    if (length <= 0) return at;
    if (at + length > this.blob.length) {
      const grown = Buffer.alloc(Math.max(2 * this.blob.length, at + length));
      this.blob.copy(grown, 0, 0, at);
      this.blob = grown;
    }
    const last = this.n - 1;
    if (last >= 0 && this.kinds[last] === PIECE_BYTES && this.offsets[last] + this.lengths[last] === at) this.lengths[last] += length;
    else this.push(PIECE_BYTES, length, at);
    this.blobLength += length;
    this.at += length;
    return at;
  }

  /** Where appendBytes' bytes go; valid until the next append. */
  get byteBuffer(): Buffer {
    return this.blob;
  }

  /**
   * The table; the builder must not be used afterwards. Arrays that are
   * mostly full are handed out as views of themselves (a copy of hundreds of
   * MB costs more than their spare quarter), others are trimmed.
   */
  build(): PieceTable {
    const n = this.n;
    const fit = <T extends Float64Array | Uint8Array>(a: T): T => (a.length === n ? a : ((4 * n >= 3 * a.length ? a.subarray(0, n) : a.slice(0, n)) as T));
    return {
      size: this.at,
      starts: fit(this.starts),
      lengths: fit(this.lengths),
      kinds: fit(this.kinds),
      offsets: fit(this.offsets),
      bytes: this.blobLength === this.blob.length ? this.blob : Buffer.from(this.blob.subarray(0, this.blobLength)),
    };
  }

  private push(kind: number, length: number, offset: number): void {
    if (this.n === this.starts.length) this.grow();
    const i = this.n++;
    this.starts[i] = this.at;
    this.lengths[i] = length;
    this.kinds[i] = kind;
    this.offsets[i] = offset;
  }

  private grow(): void {
    const cap = this.starts.length * 2;
    const more = <T extends Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.starts = more(this.starts, (k) => new Float64Array(k));
    this.lengths = more(this.lengths, (k) => new Float64Array(k));
    this.kinds = more(this.kinds, (k) => new Uint8Array(k));
    this.offsets = more(this.offsets, (k) => new Float64Array(k));
  }
}

/** A file of one run of bytes (a text): `data` itself, not a copy (iomem.txt of a million ranges is 32 MB). */
export function bytesTable(data: Buffer): PieceTable {
  const n = data.length > 0 ? 1 : 0;
  return {
    size: data.length,
    starts: new Float64Array(n),
    lengths: Float64Array.from({ length: n }, () => data.length),
    kinds: new Uint8Array(n).fill(PIECE_BYTES),
    offsets: new Float64Array(n),
    bytes: data,
  };
}
