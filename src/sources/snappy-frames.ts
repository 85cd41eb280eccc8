/**
 * The Snappy framing format (google/snappy framing_format.txt) as AVML writes
 * it: a stream of chunks, each a type byte and a u24 LE length, data chunks
 * starting with a masked CRC-32C of their uncompressed bytes. And the index
 * of data chunks that lets a read decompress only what it touches.
 */
export const CHUNK_HEADER_SIZE = 4; // type byte + u24 LE length
export const CHUNK_CRC_SIZE = 4;
export const CHUNK_COMPRESSED = 0x00;
export const CHUNK_UNCOMPRESSED = 0x01;
export const CHUNK_PADDING = 0xfe;
export const CHUNK_STREAM_ID = 0xff;
export const STREAM_ID = Buffer.from('sNaPpY', 'latin1');
/** Most uncompressed bytes one data chunk may hold. */
export const MAX_CHUNK_DATA = 65536;
/** Longest varint preamble of a raw Snappy block (u32). */
export const MAX_VARINT = 5;

/**
 * Every data chunk of the image, sorted by physical address (records are
 * ascending and each stream fills its record without gaps). Columns, not
 * objects: a 1 TiB image has some 16 million chunks.
 */
export class ChunkIndex {
  count = 0;
  phys = new Float64Array(1024);
  /** File offset of the chunk header (type byte). */
  fileOffset = new Float64Array(1024);
  /** The chunk header's length field: CRC + data. */
  bodyLength = new Uint32Array(1024);
  /** Uncompressed bytes. */
  length = new Uint32Array(1024);
  compressed = new Uint8Array(1024);

  add(phys: number, fileOffset: number, bodyLength: number, length: number, compressed: boolean): void {
    if (this.count === this.phys.length) this.grow();
    const i = this.count++;
    this.phys[i] = phys;
    this.fileOffset[i] = fileOffset;
    this.bodyLength[i] = bodyLength;
    this.length[i] = length;
    this.compressed[i] = compressed ? 1 : 0;
  }

  /** Index of the chunk holding physical address `addr`, or -1. */
  find(addr: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.phys[mid] <= addr) lo = mid;
      else hi = mid - 1;
    }
    return this.count > 0 && this.phys[lo] <= addr && addr < this.phys[lo] + this.length[lo] ? lo : -1;
  }

  private grow(): void {
    const n = this.phys.length * 2;
    const widen = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.phys = widen(this.phys, (k) => new Float64Array(k));
    this.fileOffset = widen(this.fileOffset, (k) => new Float64Array(k));
    this.bodyLength = widen(this.bodyLength, (k) => new Uint32Array(k));
    this.length = widen(this.length, (k) => new Uint32Array(k));
    this.compressed = widen(this.compressed, (k) => new Uint8Array(k));
  }
}

/** Length of the raw Snappy block's output, from its varint preamble; -1 if malformed. */
export function snappyLength(b: Buffer): number {
  let result = 0;
  for (let i = 0; i < Math.min(b.length, MAX_VARINT); i++) {
    result += (b[i] & 0x7f) * 2 ** (7 * i);
    if ((b[i] & 0x80) === 0) return result;
  }
  return -1;
}

