/**
 * Latin-1 text written straight into a growing buffer: a map of a million
 * lines (iomem.txt, memprocfs.memmap) without a million strings to collect.
 */
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Hex digits of a u32 (at least one). */
function digitsOf(x: number): number {
  let d = 1;
  while (x >>> (4 * d) !== 0 && d < 8) d++;
  return d;
}

export class TextBytes {
  private buf: Buffer;
  private n = 0;

  constructor(capacity = 4096) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** Latin-1 text (short: a byte at a time beats a call into Buffer.write for a few characters). */
  text(s: string): this {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.n + i] = s.charCodeAt(i);
    this.n += s.length;
    return this;
  }

  /** `v` (an integer, 0 <= v < 2^53) in lowercase hex, zero-padded to `digits`. */
  hex(v: number, digits = 1): this {
    const hi = Math.floor(v / 0x100000000);
    const lo = v >>> 0;
    const loDigits = hi > 0 ? 8 : digitsOf(lo);
    const width = Math.max(digits, (hi > 0 ? digitsOf(hi) : 0) + loDigits);
    this.room(width);
    let i = this.n + width - 1;
    let x = lo;
    for (let k = 0; k < loDigits; k++, x >>>= 4) this.buf[i--] = HEX[x & 15];
    for (x = hi; x > 0; x >>>= 4) this.buf[i--] = HEX[x & 15];
    while (i >= this.n) this.buf[i--] = 48; // '0'
    this.n += width;
    return this;
  }

  /** The bytes written: a view when the buffer is mostly full, else a copy that fits them. */
  toBuffer(): Buffer {
    const used = this.buf.subarray(0, this.n);
    return 4 * this.n >= 3 * this.buf.length ? used : Buffer.from(used);
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
