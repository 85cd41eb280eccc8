/**
 * AVML v2 record framing (microsoft/avml src/image.rs; formats.md section 2.2),
 * read and written here only. Each record:
 *
 *   0x00 u32 magic 0x4c4d5641 ("AVML" on disk)   0x04 u32 version 2
 *   0x08 u64 start                                0x10 u64 end (inclusive)
 *   0x18 u64 padding (zero)
 *   then a Snappy framing-format stream (snappy-framing.ts) holding
 *   end - start + 1 bytes, then a u64 LE trailer: the stream's byte length.
 *
 * Ranges are cut into blocks of at most AVML_BLOCK_SIZE; all-zero blocks are
 * left out. AVML 0.17.0 wrote a bare header (no stream, no trailer) for them.
 */
export const AVML_MAGIC = 0x4c4d5641;
export const AVML_VERSION = 2;
export const AVML_HEADER_SIZE = 32;
export const AVML_TRAILER_SIZE = 8;
/** AVML's MAX_BLOCK_SIZE: ranges are written in blocks of at most this many bytes. */
export const AVML_BLOCK_SIZE = 0x1000 * 0x1000;

export interface AvmlHeader {
  magic: number;
  version: number;
  start: bigint;
  endInclusive: bigint;
  padding: bigint;
}

export function decodeAvmlHeader(b: Buffer, at = 0): AvmlHeader {
  return {
    magic: b.readUInt32LE(at),
    version: b.readUInt32LE(at + 4),
    start: b.readBigUInt64LE(at + 8),
    endInclusive: b.readBigUInt64LE(at + 16),
    padding: b.readBigUInt64LE(at + 24),
  };
}

export function encodeAvmlHeader(start: number, endInclusive: number): Buffer {
  const h = Buffer.alloc(AVML_HEADER_SIZE);
  h.writeUInt32LE(AVML_MAGIC, 0);
  h.writeUInt32LE(AVML_VERSION, 4);
  h.writeBigUInt64LE(BigInt(start), 8);
  h.writeBigUInt64LE(BigInt(endInclusive), 16);
  return h;
}

/** Is `b[at..]` a whole AVML v2 record header (magic and version)? */
export function isAvmlHeader(b: Buffer, at = 0): boolean {
  return b.length - at >= AVML_HEADER_SIZE && b.readUInt32LE(at) === AVML_MAGIC && b.readUInt32LE(at + 4) === AVML_VERSION;
}
