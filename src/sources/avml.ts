import { hex, InputError } from '../errors';
import { AVML_HEADER_SIZE, AVML_MAGIC, AVML_VERSION, AVML_TRAILER_SIZE, decodeAvmlHeader, isAvmlHeader } from '../formats/avml';
import {
  CHUNK_COMPRESSED,
  CHUNK_CRC_SIZE,
  CHUNK_HEADER_SIZE,
  CHUNK_STREAM_ID,
  CHUNK_UNCOMPRESSED,
  decodeChunkHeader,
  FIRST_SKIPPABLE,
  MAX_CHUNK_DATA,
  MAX_VARINT,
  snappyLength,
  STREAM_ID,
} from '../formats/snappy-framing';
import { BlockReader } from '../io/block-reader';
import { ByteSource } from '../io/byte-source';
import { ChunkStore } from '../io/chunk-store';
import { avmlDecoder, AvmlChunkIndex, loadSnappy } from './avml-chunks';
import { avmlRangeNotes, avmlRanges } from './avml-ranges';
import type { ParsedImage } from './parsed';

/**
 * AVML v2 "compressed LiME" (formats/avml.ts): the index is built from
 * headers alone: every chunk's uncompressed physical address and length, its
 * file offset, compressed or not. Nothing is decompressed until a read
 * touches it (the chunk store, io/chunk-store.ts, with avml-chunks.ts as its
 * decoder).
 */

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
  chunks: AvmlChunkIndex;
  /** Skippable chunks (padding, reserved 0x80-0xfe) passed over. */
  skippedChunks: number;
}

/** Chunks below this are "small": reading a window ahead costs less than a read per chunk. */
const SMALL_CHUNK = 8 * 1024;

function u64(v: bigint): number {
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** Walks every record and chunk of an AVML v2 image, reading headers only. */
export async function readAvmlIndex(image: ByteSource): Promise<AvmlIndex> {
  const fail = (what: string): never => {
    throw new InputError(`${image.label}: ${what}`);
  };
  const r = new BlockReader(image, 64 * 1024);
  const at = (pos: number, n: number) => r.peek(pos, n) ?? r.load(pos, n);
  const index: AvmlIndex = { records: [], orphans: [], chunks: new AvmlChunkIndex(), skippedChunks: 0 };
  let prevEnd = 0;
  let pos = 0;
  while (pos < image.size) {
    const h = await at(pos, AVML_HEADER_SIZE);
    if (h.length < AVML_HEADER_SIZE) {
      fail(`truncated AVML record at file offset ${hex(pos)}: header needs ${AVML_HEADER_SIZE} bytes, the file ends after ${h.length}`);
    }
    const header = decodeAvmlHeader(h);
    if (header.magic !== AVML_MAGIC) fail(`bad magic ${hex(header.magic)} at file offset ${hex(pos)} (expected an AVML record header, ${hex(AVML_MAGIC)})`);
    if (header.version !== AVML_VERSION) fail(`unsupported AVML version ${header.version} at file offset ${hex(pos)} (expected ${AVML_VERSION})`);
    const start = u64(header.start);
    const endInclusive = u64(header.endInclusive);
    if (header.padding !== 0n) fail(`AVML record header at file offset ${hex(pos)}: padding is not zero`);
    if (endInclusive < start) fail(`AVML record at file offset ${hex(pos)}: end ${hex(endInclusive)} is below start ${hex(start)}`);
    if (endInclusive >= Number.MAX_SAFE_INTEGER) fail(`AVML record at file offset ${hex(pos)}: end address ${hex(endInclusive)} is out of range`);
    if (start < prevEnd) {
      fail(
        `AVML record at file offset ${hex(pos)}: range ${hex(start)}-${hex(endInclusive)} overlaps or precedes the previous record (ends at ${hex(prevEnd - 1)})`,
      );
    }
    const length = endInclusive - start + 1;
    const body = pos + AVML_HEADER_SIZE;

    // AVML 0.17.0: a header with nothing after it (end of file, or the next header).
    if (body === image.size || isAvmlHeader(await at(body, AVML_HEADER_SIZE))) {
      index.orphans.push({ start, length, fileOffset: pos });
      prevEnd = start + length;
      pos = body;
      continue;
    }

    const stream = await indexRecordStream(r, fail, { fileOffset: pos, start, length }, index.chunks);
    index.skippedChunks += stream.skipped;
    const chunkAt = stream.end;
    const t = await at(chunkAt, AVML_TRAILER_SIZE);
    if (t.length < AVML_TRAILER_SIZE)
      fail(`truncated AVML record at file offset ${hex(pos)}: the file ends before its ${AVML_TRAILER_SIZE}-byte trailer at file offset ${hex(chunkAt)}`);
    const framed = chunkAt - body;
    const trailer = u64(t.readBigUInt64LE(0));
    if (trailer !== framed) {
      fail(`AVML record at file offset ${hex(pos)}: trailer at file offset ${hex(chunkAt)} says the Snappy stream is ${trailer} bytes, it is ${framed}`);
    }
    index.records.push({ start, length, fileOffset: pos });
    prevEnd = start + length;
    pos = chunkAt + AVML_TRAILER_SIZE;
  }
  return index;
}

/**
 * Indexes the Snappy chunks of one record's stream (it starts right after the
 * record header) into `chunks`; returns where the stream ends (its trailer)
 * and how many skippable chunks it passed over. `fail` throws.
 */
export async function indexRecordStream(
  r: BlockReader,
  fail: (what: string) => never,
  record: AvmlRecord,
  chunks: AvmlChunkIndex,
): Promise<{ end: number; skipped: number }> {
  const { fileOffset: pos, start, length } = record;
  const size = r.size;
  const at = (p: number, n: number) => r.peek(p, n) ?? r.load(p, n);
  let chunkAt = pos + AVML_HEADER_SIZE;
  let done = 0;
  let skipped = 0;
  let sawStreamId = false;
  while (done < length) {
    const c = await at(chunkAt, CHUNK_HEADER_SIZE + CHUNK_CRC_SIZE + MAX_VARINT);
    if (c.length < CHUNK_HEADER_SIZE) {
      fail(`truncated AVML record at file offset ${hex(pos)}: the Snappy stream ends at the end of the file after ${done} of ${length} bytes`);
    }
    // The record's trailer (the stream's length) where a chunk should be: the stream stopped short of its data.
    if (sawStreamId && c.length >= AVML_TRAILER_SIZE && c.readBigUInt64LE(0) === BigInt(chunkAt - pos - AVML_HEADER_SIZE)) {
      const block = `AVML block at file offset ${hex(pos)} (${hex(start)}-${hex(start + length - 1)})`;
      const where = `its Snappy stream ends at its trailer (file offset ${hex(chunkAt)})`;
      fail(done === 0 ? `${block} has no data: ${where} before any data chunk` : `${block} is incomplete: ${where} after ${done} of its ${length} bytes`);
    }
    const { type, bodyLength } = decodeChunkHeader(c);
    const next = chunkAt + CHUNK_HEADER_SIZE + bodyLength;
    if (next > size) {
      fail(
        `truncated AVML record at file offset ${hex(pos)}: Snappy chunk at file offset ${hex(chunkAt)} needs ${bodyLength} bytes, the file ends after ${size - chunkAt - CHUNK_HEADER_SIZE}`,
      );
    }
    if (type === CHUNK_STREAM_ID) {
      const id = await at(chunkAt + CHUNK_HEADER_SIZE, STREAM_ID.length);
      if (bodyLength !== STREAM_ID.length || !id.equals(STREAM_ID)) fail(`bad Snappy stream identifier at file offset ${hex(chunkAt)}`);
      sawStreamId = true;
    } else if (!sawStreamId) {
      fail(`AVML record at file offset ${hex(pos)}: expected the Snappy stream identifier at file offset ${hex(chunkAt)}, found chunk type ${hex(type)}`);
    } else if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
      if (bodyLength < CHUNK_CRC_SIZE) fail(`Snappy chunk at file offset ${hex(chunkAt)} is ${bodyLength} bytes, too short for its CRC`);
      const n =
        type === CHUNK_UNCOMPRESSED
          ? bodyLength - CHUNK_CRC_SIZE
          : snappyLength(c.subarray(CHUNK_HEADER_SIZE + CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE + bodyLength));
      if (n < 0 || n > MAX_CHUNK_DATA) fail(`Snappy chunk at file offset ${hex(chunkAt)} declares a bad uncompressed length`);
      if (done + n > length) {
        fail(`AVML record at file offset ${hex(pos)}: Snappy chunk at file offset ${hex(chunkAt)} holds more than the record's ${length} bytes`);
      }
      if (n > 0) {
        chunks.addChunk(start + done, chunkAt, CHUNK_HEADER_SIZE + bodyLength, n, done > 0);
      }
      done += n;
      r.wide = bodyLength < SMALL_CHUNK;
    } else if (type >= FIRST_SKIPPABLE) {
      skipped++; // padding (0xfe) or reserved skippable
    } else {
      fail(`unknown unskippable Snappy chunk type ${hex(type)} at file offset ${hex(chunkAt)}`);
    }
    chunkAt = next;
  }
  return { end: chunkAt, skipped };
}

export interface AvmlOptions {
  /** Check every chunk's masked CRC-32C against its decompressed bytes. */
  verify: boolean;
}

/** An AVML v2 image: index its chunks, rebuild its RAM ranges, serve it through a decoding store. */
export async function parseAvml(image: ByteSource, options: AvmlOptions): Promise<ParsedImage> {
  loadSnappy();
  const index = await readAvmlIndex(image);
  const { records, orphans } = index;
  if (records.length === 0) throw new InputError(`${image.label}: AVML image holds no memory data (${orphans.length} headers without payload)`);
  const rebuilt = avmlRanges([...records, ...orphans]);
  const notes = [
    `AVML v2: ${records.length} records, ${index.chunks.dataChunks} Snappy chunks indexed; reads decompress only the chunks they touch`,
    ...avmlRangeNotes(records.length + orphans.length, rebuilt, orphans),
  ];
  if (index.skippedChunks > 0) notes.push(`${index.skippedChunks} skippable Snappy chunks (padding) passed over`);
  return {
    ranges: rebuilt.ranges,
    segments: records.map((r) => ({ phys: r.start, length: r.length, offset: r.start })),
    mapOrigin: 'AVML record headers',
    notes,
    bytes: new ChunkStore(image.label, index.chunks, avmlDecoder(image, index.chunks, options.verify)),
  };
}
