import { ByteSource } from './byte-source';
import { countAtOrBelow } from '../types';

/** Several sources read as one, back to back in the order given (the parts of a split RAM dump). */
export class ConcatSource implements ByteSource {
  readonly size: number;
  /** Offset of each part in the whole. */
  readonly offsets: number[];

  constructor(
    readonly parts: readonly ByteSource[],
    readonly label: string,
  ) {
    let at = 0;
    this.offsets = parts.map((p) => {
      const o = at;
      at += p.size;
      return o;
    });
    this.size = at;
  }

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const end = Math.min(this.size, position + length);
    let pos = position;
    let i = this.partAt(pos);
    while (pos < end && i < this.parts.length) {
      const from = pos - this.offsets[i];
      const n = Math.min(end - pos, this.parts[i].size - from);
      const got = await this.parts[i].read(target, targetOffset + (pos - position), n, from);
      pos += got;
      if (got < n) break; // a part shorter than it was: the read is short here
      i++;
    }
    return Math.max(0, pos - position);
  }

  /** The part holding offset `pos` (binary search over the offsets). */
  private partAt(pos: number): number {
    return Math.max(0, countAtOrBelow(this.parts.length, (i) => this.offsets[i], pos) - 1);
  }

  close(): void {
    for (const p of this.parts) p.close();
  }
}
