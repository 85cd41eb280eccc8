import { ByteSource } from './byte-source';

/**
 * Small reads at increasing offsets of a ByteSource (record headers while
 * indexing), served from one window read ahead: many headers per read when
 * records are small, one read per header when they are large.
 */
export class WindowReader {
  private buf: Buffer;
  private winStart = 0;
  private winLength = 0;

  constructor(private readonly source: ByteSource, windowBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(windowBytes);
  }

  /** Up to `n` bytes at `pos` (fewer at the end of the source); valid until the next call. */
  async at(pos: number, n: number): Promise<Buffer> {
    if (pos < this.winStart || pos + n > this.winStart + this.winLength) {
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
      const len = Math.max(0, Math.min(this.buf.length, this.source.size - pos));
      this.winStart = pos;
      this.winLength = len === 0 ? 0 : await this.source.read(this.buf, 0, len, pos);
    }
    const from = pos - this.winStart;
    return this.buf.subarray(from, Math.min(from + n, this.winLength));
  }
}
