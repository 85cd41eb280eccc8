import { ByteSource, readAt } from './byte-source';

/**
 * Small reads at increasing offsets of a source (record and chunk headers),
 * served from one window read in a large block: a walk over a million
 * records costs a few thousand reads, not a million. `peek` answers from the
 * window without an await; only a miss (`load`) reads. The window adapts to
 * the stride: `wide` false reads just what was asked (records far apart).
 */
export class BlockReader {
  private readonly buf: Buffer;
  private winStart = 0;
  private winLength = 0;
  /** Read a whole window on a miss (true), or only the bytes asked for. */
  wide = true;

  constructor(
    readonly source: ByteSource,
    windowSize = 1024 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(windowSize);
  }

  get size(): number {
    return this.source.size;
  }

  /** `n` bytes at `pos` if the window holds them all (or all there are before the end), else null. Valid until the next load. */
  peek(pos: number, n: number): Buffer | null {
    const want = Math.max(0, Math.min(n, this.source.size - pos));
    if (pos < this.winStart || pos + want > this.winStart + this.winLength) return null;
    const from = pos - this.winStart;
    return this.buf.subarray(from, from + want);
  }

  /** Where `n` bytes at `pos` are in `window` when it holds all of them, else -1: a peek without a Buffer per call. */
  indexOf(pos: number, n: number): number {
    return pos >= this.winStart && pos + n <= this.winStart + this.winLength ? pos - this.winStart : -1;
  }

  /** The window's bytes (indexOf's offsets); valid until the next load. */
  get window(): Buffer {
    return this.buf;
  }

  /** `n` bytes at `pos` (fewer at the end of the source), reading a new window. Valid until the next load. */
  async load(pos: number, n: number): Promise<Buffer> {
    if (n > this.buf.length) return readAt(this.source, pos, n);
    const len = Math.max(0, Math.min(Math.max(this.wide ? this.buf.length : 64, n), this.buf.length, this.source.size - pos));
    this.winStart = pos;
    this.winLength = 0;
    this.winLength = len === 0 ? 0 : await this.source.read(this.buf, 0, len, pos);
    return this.buf.subarray(0, Math.min(n, this.winLength));
  }

  /** peek, else load: for callers that do not mind one await per call. */
  at(pos: number, n: number): Promise<Buffer> {
    const hit = this.peek(pos, n);
    return hit ? Promise.resolve(hit) : this.load(pos, n);
  }
}
