/**
 * An independent AVML writer for tests, written from the format description
 * (shared/reference/formats.md section 2.2 and the Snappy framing format), not
 * from memview's reader; it does not import src/. The `snappy` package only
 * compresses raw blocks; framing, CRC-32C and record layout are done here.
 */
import * as fs from 'node:fs';
import { compressSync } from 'snappy';
import { Range } from './machine';

/** AVML's MAX_BLOCK_SIZE (0x1000 * 0x1000). */
export const BLOCK = 16 * 1024 * 1024;
export const CHUNK = 65536;
const ZERO_BLOCK = Buffer.alloc(BLOCK);

export interface AvmlWriteOptions {
  /** 2: compressed (magic "AVML"); 1: plain LiME records as AVML writes them. */
  version?: 1 | 2;
  /** AVML 0.17.0: a bare header (no payload) for every all-zero block. */
  orphanHeaders?: boolean;
  /** Store every Nth data chunk as type 0x01 even when it compresses. */
  uncompressedEvery?: number;
  /** Put a skippable chunk before every Nth data chunk (alternating padding 0xfe and reserved 0x80-0xfd). */
  skippableEvery?: number;
  /** Repeat the stream identifier before every Nth data chunk (allowed mid-stream). */
  streamIdEvery?: number;
  /** Uncompressed bytes per data chunk (default 64 KiB, as AVML writes; the framing format allows any size from 1 up). */
  chunkBytes?: number;
  /** Store data chunks compressed (type 0x00) even when that saves nothing (allowed; tiny chunks then hit the Snappy decoder). */
  compressAlways?: boolean;
  /** Framed streams from elsewhere (e.g. the snappy package's own encoder) instead of ours. */
  frame?: (data: Buffer) => Promise<Buffer>;
}

export interface WrittenAvml {
  /** Blocks with a header and payload: [start, end) exclusive as AVML sees them. */
  blocks: { start: number; end: number; fileOffset: number }[];
  orphans: { start: number; end: number; fileOffset: number }[];
  /** Chunk header offsets of the data chunks, with the physical address each starts at. */
  chunks: { phys: number; fileOffset: number; length: number; type: number }[];
}

// ---- CRC-32C from the definition (reflected polynomial 0x82f63b78), one byte per step ----

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

export function crc32cRef(data: Uint8Array): number {
  let crc = ~0 >>> 0;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** framing_format.txt: masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
export function maskedCrc(data: Uint8Array): number {
  const c = crc32cRef(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function chunkHeader(type: number, length: number): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUIntLE(length, 1, 3);
  return h;
}

const STREAM_IDENTIFIER = Buffer.concat([chunkHeader(0xff, 6), Buffer.from('sNaPpY', 'latin1')]);

function recordHeader(magic: string, version: number, start: number, endExclusive: number): Buffer {
  const h = Buffer.alloc(32);
  h.write(magic, 0, 'latin1');
  h.writeUInt32LE(version, 4);
  h.writeBigUInt64LE(BigInt(start), 8);
  h.writeBigUInt64LE(BigInt(endExclusive - 1), 16);
  return h;
}

interface ChunkCounter {
  n: number;
}

/** One framed stream: identifier, then <= 64 KiB data chunks, compressed when that saves 1/8 (as snap does). */
function frameStream(
  data: Buffer,
  o: AvmlWriteOptions,
  counter: ChunkCounter,
  onChunk: (offsetInStream: number, physOffset: number, length: number, type: number) => void,
): Buffer {
  const parts: Buffer[] = [STREAM_IDENTIFIER];
  let size = STREAM_IDENTIFIER.length;
  const push = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  const chunk = o.chunkBytes ?? CHUNK;
  for (let off = 0; off < data.length; off += chunk) {
    const n = ++counter.n;
    const piece = data.subarray(off, Math.min(data.length, off + chunk));
    if (o.skippableEvery && n % o.skippableEvery === 0) {
      const type = (n / o.skippableEvery) % 2 ? 0xfe : 0x80 + (n % 0x7e);
      push(Buffer.concat([chunkHeader(type, 5), Buffer.from('junk!')]));
    }
    if (o.streamIdEvery && n % o.streamIdEvery === 0) push(STREAM_IDENTIFIER);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(maskedCrc(piece));
    const packed = compressSync(piece);
    const forced = o.uncompressedEvery !== undefined && n % o.uncompressedEvery === 0;
    const compress = !forced && (o.compressAlways || packed.length < piece.length - piece.length / 8);
    const type = compress ? 0x00 : 0x01;
    const payload = compress ? packed : piece;
    onChunk(size, off, piece.length, type);
    push(Buffer.concat([chunkHeader(type, 4 + payload.length), crc, payload]));
  }
  return Buffer.concat(parts, size);
}

/**
 * Writes what AVML would for a machine with these iomem ranges: each range
 * read as [start, end) with the inclusive iomem end used as exclusive (so its
 * last byte is dropped), cut into 16 MiB blocks from its start, all-zero
 * blocks left out (or, with orphanHeaders, given a bare header), every other
 * block a header + framed Snappy stream + u64 LE stream length (v2), or a
 * header + the bytes (v1).
 */
export async function writeAvml(
  file: string,
  ranges: readonly Range[],
  memory: (start: number, length: number) => Buffer,
  o: AvmlWriteOptions = {},
): Promise<WrittenAvml> {
  const version = o.version ?? 2;
  const magic = version === 2 ? 'AVML' : 'EMiL';
  const out: WrittenAvml = { blocks: [], orphans: [], chunks: [] };
  const counter: ChunkCounter = { n: 0 };
  const fd = fs.openSync(file, 'w');
  let pos = 0;
  const write = (b: Buffer) => {
    fs.writeSync(fd, b, 0, b.length, pos);
    pos += b.length;
  };
  try {
    for (const r of ranges) {
      const end = r.end; // AVML's off-by-one: inclusive end used as exclusive
      for (let start = r.start; start < end; start += BLOCK) {
        const stop = Math.min(end, start + BLOCK);
        const data = memory(start, stop - start);
        const header = recordHeader(magic, version, start, stop);
        if (data.equals(ZERO_BLOCK.subarray(0, data.length))) {
          if (o.orphanHeaders) {
            out.orphans.push({ start, end: stop, fileOffset: pos });
            write(header);
          }
          continue;
        }
        out.blocks.push({ start, end: stop, fileOffset: pos });
        write(header);
        if (version === 1) {
          write(data);
          continue;
        }
        const streamAt = pos;
        const framed = o.frame
          ? await o.frame(data)
          : frameStream(data, o, counter, (at, physOffset, length, type) =>
              out.chunks.push({ phys: start + physOffset, fileOffset: streamAt + at, length, type }),
            );
        write(framed);
        const trailer = Buffer.alloc(8);
        trailer.writeBigUInt64LE(BigInt(framed.length));
        write(trailer);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}
