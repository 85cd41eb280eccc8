/**
 * Latin-1 text written straight into a growing buffer: a map of a million
 * lines (iomem.txt, memprocfs.memmap) without a million strings to collect.
 */
export class TextBytes {
  private buf: Buffer;
  private n = 0;

  constructor(capacity = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  text(s: string): this {
    this.room(s.length);
    this.n += this.buf.write(s, this.n, 'latin1');
    return this;
  }

  /** `v` (an integer, 0 <= v < 2^53) in lowercase hex, zero-padded to `digits`. */
  hex(v: number, digits = 1): this {
    let len = 1;
    for (let x = Math.floor(v / 16); x > 0; x = Math.floor(x / 16)) len++;
    const width = Math.max(len, digits);
    this.room(width);
    let x = v;
    for (let i = this.n + width - 1; i >= this.n; i--) {
      const d = x % 16;
      this.buf[i] = d < 10 ? 48 + d : 87 + d;
      x = Math.floor(x / 16);
    }
    this.n += width;
    return this;
  }

  /** The bytes written (a copy that fits them). */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.n));
  }

  get length(): number {
    return this.n;
  }

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.n + k));
    this.buf.copy(grown, 0, 0, this.n);
    this.buf = grown;
  }
}
