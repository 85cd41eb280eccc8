/**
 * The Snappy framing format (google/snappy framing_format.txt) as AVML writes
 * it: a stream of chunks, each a type byte and a u24 LE length, then the body.
 * Data chunks (compressed 0x00, uncompressed 0x01) start their body with the
 * masked CRC-32C of their uncompressed bytes; a compressed body is a raw
 * Snappy block, whose varint preamble is its uncompressed length.
 *
 *   [type u8][length u24 LE][body: length bytes]
 *   stream identifier: type 0xff, body "sNaPpY"
 *   data: [masked crc32c u32 LE][data]
 */
import { crc32c, maskCrc } from './crc32c';

export const CHUNK_HEADER_SIZE = 4; // type byte + u24 LE length
export const CHUNK_CRC_SIZE = 4;
export const CHUNK_COMPRESSED = 0x00;
export const CHUNK_UNCOMPRESSED = 0x01;
export const CHUNK_STREAM_ID = 0xff;
/** Types 0x80-0xfe (0xfe: padding) are skippable; 0x02-0x7f are reserved and unskippable. */
export const FIRST_SKIPPABLE = 0x80;
export const STREAM_ID = Buffer.from('sNaPpY', 'latin1');
/** Most uncompressed bytes one data chunk may hold. */
export const MAX_CHUNK_DATA = 65536;
/** Longest varint preamble of a raw Snappy block (u32). */
export const MAX_VARINT = 5;
/** The largest body a u24 length allows. */
export const MAX_CHUNK_BODY = 0xffffff;

export interface ChunkHeader {
  type: number;
  /** Body bytes after the 4-byte header. */
  bodyLength: number;
}

export function decodeChunkHeader(b: Buffer, at = 0): ChunkHeader {
  return { type: b[at], bodyLength: b[at + 1] | (b[at + 2] << 8) | (b[at + 3] << 16) };
}

export function encodeChunkHeader(type: number, bodyLength: number): Buffer {
  if (bodyLength > MAX_CHUNK_BODY) throw new RangeError(`Snappy chunk body ${bodyLength} exceeds the u24 length`);
  return Buffer.from([type, bodyLength & 0xff, (bodyLength >>> 8) & 0xff, bodyLength >>> 16]);
}

/** Length of the raw Snappy block's output, from its varint preamble; -1 if malformed. */
export function snappyLength(b: Uint8Array): number {
  let result = 0;
  for (let i = 0; i < Math.min(b.length, MAX_VARINT); i++) {
    result += (b[i] & 0x7f) * 2 ** (7 * i);
    if ((b[i] & 0x80) === 0) return result;
  }
  return -1;
}

/** The masked CRC-32C a data chunk stores for its uncompressed bytes. */
export function chunkCrc(data: Uint8Array): number {
  return maskCrc(crc32c(data));
}
