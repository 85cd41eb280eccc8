import { preadFully } from '../engine/pread';
import { hex, InputError } from '../errors';
import { AvmlStore, loadSnappy } from './avml-store';
import { ImageFile } from './image-file';
import type { ParsedImage } from './open';
import {
  CHUNK_COMPRESSED, CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE, CHUNK_STREAM_ID, CHUNK_UNCOMPRESSED, ChunkIndex, MAX_CHUNK_DATA,
  MAX_VARINT, snappyLength, STREAM_ID,
} from './snappy-frames';

/**
 * AVML v2 "compressed LiME" (microsoft/avml; formats.md section 2.2): records of
 * a 32-byte header (magic, version, start, inclusive end, zero padding), a
 * Snappy framing-format stream holding end-start+1 bytes, and a u64 LE
 * trailer with the stream's byte length. Ranges are cut into <= 16 MiB blocks
 * and all-zero blocks are left out; AVML 0.17.0 wrote orphan headers (a bare
 * header, no stream, no trailer) for those.
 *
 * The index is built from headers alone: every chunk's uncompressed physical
 * address and length, its file offset, compressed or not. Nothing is
 * decompressed until a read touches it (avml-store.ts).
 */
export const AVML_MAGIC = 0x4c4d5641; // "AVML" on disk
export const AVML_VERSION = 2;
export const RECORD_HEADER_SIZE = 32;
export const TRAILER_SIZE = 8;
/** AVML's MAX_BLOCK_SIZE: ranges are written in blocks of at most this many bytes. */
export const AVML_BLOCK_SIZE = 0x1000 * 0x1000;

/** One AVML record: a block of physical memory and where its stream sits. */
export interface AvmlRecord {
  start: number;
  length: number;
  fileOffset: number;
}

export interface AvmlIndex {
  records: AvmlRecord[];
  /** File offsets of AVML 0.17.0 orphan headers (no payload). */
  orphans: { start: number; length: number; fileOffset: number }[];
  chunks: ChunkIndex;
  /** Skippable chunks (padding, reserved 0x80-0xfe) passed over. */
  skippedChunks: number;
}

/**
 * Reads small pieces of the file at increasing offsets. The window adapts to
 * the stride: when chunks are small (compressible memory) one read covers
 * many chunk headers; when they are large, only the header bytes are read.
 */
class HeaderReader {
  private readonly buf = Buffer.allocUnsafe(64 * 1024);
  private winStart = 0;
  private winLength = 0;
  /** Bytes to read on a miss; set by the caller from the last stride. */
  wide = true;

  constructor(private readonly fd: number, readonly size: number) {}

  /** `n` bytes at `pos`, or fewer at end of file. The view is valid until the next call. */
  at(pos: number, n: number): Buffer {
    if (pos < this.winStart || pos + n > this.winStart + this.winLength) {
      const want = this.wide ? this.buf.length : 64;
      const len = Math.max(0, Math.min(Math.max(want, n), this.size - pos));
      this.winStart = pos;
      this.winLength = preadFully(this.fd, this.buf, 0, len, pos);
    }
    const from = pos - this.winStart;
    return this.buf.subarray(from, Math.min(from + n, this.winLength));
  }
}

/** Chunks below this are "small": reading a window ahead costs less than a pread per chunk. */
const SMALL_CHUNK = 8 * 1024;

function readU64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Is there a whole, valid AVML v2 record header at `pos`? */
function isRecordHeader(r: HeaderReader, pos: number): boolean {
  const h = r.at(pos, RECORD_HEADER_SIZE);
  return h.length === RECORD_HEADER_SIZE && h.readUInt32LE(0) === AVML_MAGIC && h.readUInt32LE(4) === AVML_VERSION;
}

/** Walks every record and chunk of an AVML v2 image, reading headers only. */
export function readAvmlIndex(image: ImageFile): AvmlIndex {
  const fail = (what: string): never => {
    throw new InputError(`${image.path}: ${what}`);
  };
  const r = new HeaderReader(image.fd, image.size);
  const index: AvmlIndex = { records: [], orphans: [], chunks: new ChunkIndex(), skippedChunks: 0 };
  let prevEnd = 0;
  let pos = 0;
  while (pos < image.size) {
    const h = r.at(pos, RECORD_HEADER_SIZE);
    if (h.length < RECORD_HEADER_SIZE) {
      fail(`truncated AVML record at file offset ${hex(pos)}: header needs ${RECORD_HEADER_SIZE} bytes, the file ends after ${h.length}`);
    }
    const magic = h.readUInt32LE(0);
    const version = h.readUInt32LE(4);
    if (magic !== AVML_MAGIC) fail(`bad magic ${hex(magic)} at file offset ${hex(pos)} (expected an AVML record header, ${hex(AVML_MAGIC)})`);
    if (version !== AVML_VERSION) fail(`unsupported AVML version ${version} at file offset ${hex(pos)} (expected ${AVML_VERSION})`);
    const start = readU64(h, 8);
    const endInclusive = readU64(h, 16);
    if (h.readBigUInt64LE(24) !== 0n) fail(`AVML record header at file offset ${hex(pos)}: padding is not zero`);
    if (endInclusive < start) fail(`AVML record at file offset ${hex(pos)}: end ${hex(endInclusive)} is below start ${hex(start)}`);
    if (endInclusive >= Number.MAX_SAFE_INTEGER) fail(`AVML record at file offset ${hex(pos)}: end address ${hex(endInclusive)} is out of range`);
    if (start < prevEnd) {
      fail(`AVML record at file offset ${hex(pos)}: range ${hex(start)}-${hex(endInclusive)} overlaps or precedes the previous record (ends at ${hex(prevEnd - 1)})`);
    }
    const length = endInclusive - start + 1;
    const body = pos + RECORD_HEADER_SIZE;

    // AVML 0.17.0: a header with nothing after it (end of file, or the next header).
    if (body === image.size || isRecordHeader(r, body)) {
      index.orphans.push({ start, length, fileOffset: pos });
      prevEnd = start + length;
      pos = body;
      continue;
    }

    let at = body;
    let done = 0;
    let sawStreamId = false;
    while (done < length) {
      const c = r.at(at, CHUNK_HEADER_SIZE + CHUNK_CRC_SIZE + MAX_VARINT);
      if (c.length < CHUNK_HEADER_SIZE) {
        fail(`truncated AVML record at file offset ${hex(pos)}: the Snappy stream ends at the end of the file after ${done} of ${length} bytes`);
      }
      const type = c[0];
      const bodyLength = c[1] | (c[2] << 8) | (c[3] << 16);
      const next = at + CHUNK_HEADER_SIZE + bodyLength;
      if (next > image.size) {
        fail(`truncated AVML record at file offset ${hex(pos)}: Snappy chunk at file offset ${hex(at)} needs ${bodyLength} bytes, the file ends after ${image.size - at - CHUNK_HEADER_SIZE}`);
      }
      if (type === CHUNK_STREAM_ID) {
        const id = r.at(at + CHUNK_HEADER_SIZE, STREAM_ID.length);
        if (bodyLength !== STREAM_ID.length || !id.equals(STREAM_ID)) fail(`bad Snappy stream identifier at file offset ${hex(at)}`);
        sawStreamId = true;
      } else if (!sawStreamId) {
        fail(`AVML record at file offset ${hex(pos)}: expected the Snappy stream identifier at file offset ${hex(at)}, found chunk type ${hex(type)}`);
      } else if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
        if (bodyLength < CHUNK_CRC_SIZE) fail(`Snappy chunk at file offset ${hex(at)} is ${bodyLength} bytes, too short for its CRC`);
        const n = type === CHUNK_UNCOMPRESSED ? bodyLength - CHUNK_CRC_SIZE : snappyLength(c.subarray(CHUNK_HEADER_SIZE + CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE + bodyLength));
        if (n < 0 || n > MAX_CHUNK_DATA) fail(`Snappy chunk at file offset ${hex(at)} declares a bad uncompressed length`);
        if (done + n > length) {
          fail(`AVML record at file offset ${hex(pos)}: Snappy chunk at file offset ${hex(at)} holds more than the record's ${length} bytes`);
        }
        if (n > 0) index.chunks.add(start + done, at, bodyLength, n, type === CHUNK_COMPRESSED);
        done += n;
        r.wide = bodyLength < SMALL_CHUNK;
      } else if (type >= 0x80) {
        index.skippedChunks++; // padding (0xfe) or reserved skippable
      } else {
        fail(`unknown unskippable Snappy chunk type ${hex(type)} at file offset ${hex(at)}`);
      }
      at = next;
    }

    const t = r.at(at, TRAILER_SIZE);
    if (t.length < TRAILER_SIZE) fail(`truncated AVML record at file offset ${hex(pos)}: the file ends before its ${TRAILER_SIZE}-byte trailer at file offset ${hex(at)}`);
    const framed = at - body;
    const trailer = readU64(t, 0);
    if (trailer !== framed) {
      fail(`AVML record at file offset ${hex(pos)}: trailer at file offset ${hex(at)} says the Snappy stream is ${trailer} bytes, it is ${framed}`);
    }
    index.records.push({ start, length, fileOffset: pos });
    prevEnd = start + length;
    pos = at + TRAILER_SIZE;
  }
  return index;
}

/** A block of physical memory that a record header names, with or without data. */
export interface Block {
  start: number;
  length: number;
}

/**
 * The RAM ranges behind AVML's blocks. AVML cuts each iomem range into 16 MiB
 * blocks from its start and leaves out all-zero blocks, so a full 16 MiB block
 * followed, a whole number of blocks later, by another block is one range with
 * zero blocks left out: merge them (the hole is served as zeros). Orphan
 * headers (0.17.0) name left-out blocks exactly, so they join ranges too.
 * AVML also uses the inclusive iomem end as exclusive, dropping each range's
 * last byte; a range that ends one byte short of a 1 KiB boundary is given
 * that byte back (as a zero) so the views show the iomem range.
 */
export function avmlRanges(blocks: readonly Block[]): { ranges: Block[]; zeroBlocks: number; extended: number } {
  const sorted = [...blocks].sort((a, b) => a.start - b.start);
  const ranges: Block[] = [];
  let zeroBlocks = 0;
  let last: Block | undefined;
  for (const b of sorted) {
    const range = ranges[ranges.length - 1];
    const gap = last ? b.start - (last.start + last.length) : -1;
    if (range && last && gap >= 0 && (gap === 0 || (last.length === AVML_BLOCK_SIZE && gap % AVML_BLOCK_SIZE === 0))) {
      zeroBlocks += gap / AVML_BLOCK_SIZE;
      range.length = b.start + b.length - range.start;
    } else {
      ranges.push({ start: b.start, length: b.length });
    }
    last = b;
  }
  let extended = 0;
  for (const r of ranges) {
    if ((r.start + r.length + 1) % 0x400 === 0) {
      r.length += 1;
      extended++;
    }
  }
  return { ranges, zeroBlocks, extended };
}

/** What `avmlRanges` did and the orphan headers seen, as notes for `memview info` (AVML v1 and v2 alike). */
export function avmlRangeNotes(blocks: number, rebuilt: ReturnType<typeof avmlRanges>, orphans: readonly { fileOffset: number }[]): string[] {
  const notes = [`${blocks} AVML blocks (<= 16 MiB each) merged into ${rebuilt.ranges.length} RAM ranges`];
  if (rebuilt.zeroBlocks > 0) notes.push(`${rebuilt.zeroBlocks} all-zero 16 MiB blocks inside RAM ranges were left out by AVML; served as zeros`);
  if (orphans.length > 0) {
    notes.push(`AVML 0.17.0 orphan headers (all-zero blocks, no payload): ${orphans.length}, at file offsets ${offsets(orphans)}; served as zeros`);
  } else {
    notes.push('all-zero blocks at the edge of a range look like non-RAM in an AVML file; pass --map iomem.txt for the exact ranges');
  }
  if (rebuilt.extended > 0) {
    notes.push(`AVML drops the last byte of each iomem range (inclusive end used as exclusive): ${rebuilt.extended} ranges extended by that byte, served as zero`);
  }
  return notes;
}

export interface AvmlOptions {
  cacheBytes: number;
  verify: boolean;
}

const LISTED = 4;

function offsets(list: readonly { fileOffset: number }[]): string {
  const shown = list.slice(0, LISTED).map((o) => hex(o.fileOffset)).join(', ');
  return list.length > LISTED ? `${shown}, ...` : shown;
}

/** An AVML v2 image: index its chunks, rebuild its RAM ranges, serve it through a decoding store. */
export function parseAvml(image: ImageFile, options: AvmlOptions): ParsedImage {
  loadSnappy();
  const index = readAvmlIndex(image);
  const { records, orphans } = index;
  if (records.length === 0) throw new InputError(`${image.path}: AVML image holds no memory data (${orphans.length} headers without payload)`);
  const rebuilt = avmlRanges([...records, ...orphans]);
  const notes = [
    `AVML v2: ${records.length} records, ${index.chunks.count} Snappy chunks indexed; reads decompress only the chunks they touch`,
    ...avmlRangeNotes(records.length + orphans.length, rebuilt, orphans),
  ];
  if (index.skippedChunks > 0) notes.push(`${index.skippedChunks} skippable Snappy chunks (padding) passed over`);
  return {
    ranges: rebuilt.ranges,
    segments: records.map((r) => ({ phys: r.start, length: r.length, offset: r.start })),
    mapOrigin: 'AVML record headers',
    notes,
    store: new AvmlStore(image.path, image.fd, index.chunks, { cacheBytes: options.cacheBytes, verify: options.verify }),
  };
}
