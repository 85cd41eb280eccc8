/**
 * LiME v1 range header (LiME src/lime.h, "LiME Memory Range Header Version 1";
 * formats.md section 2.1), 32 bytes little-endian, read and written here only:
 *
 *   0x00 u32 magic 0x4c694d45 ("EMiL" on disk)   0x04 u32 version 1
 *   0x08 u64 s_addr                               0x10 u64 e_addr (inclusive)
 *   0x18 u64 reserved (zero)
 *
 * then exactly e_addr - s_addr + 1 bytes of memory; the next header follows.
 */
export const LIME_MAGIC = 0x4c694d45;
export const LIME_VERSION = 1;
export const LIME_HEADER_SIZE = 32;

export interface LimeHeader {
  magic: number;
  version: number;
  /** s_addr and e_addr as written (u64): a reader checks they are addresses. */
  start: bigint;
  endInclusive: bigint;
}

export function encodeLimeHeader(start: number, endInclusive: number): Buffer {
  const h = Buffer.alloc(LIME_HEADER_SIZE);
  writeLimeHeader(h, 0, start, endInclusive);
  return h;
}

/**
 * The header at `target[at]` (views write a million of them into one buffer).
 * u64 fields as two u32 halves: exact for addresses below 2^53, no BigInt per field.
 */
export function writeLimeHeader(target: Buffer, at: number, start: number, endInclusive: number): void {
  target.writeUInt32LE(LIME_MAGIC, at + 0x00);
  target.writeUInt32LE(LIME_VERSION, at + 0x04);
  target.writeUInt32LE(start % 2 ** 32, at + 0x08);
  target.writeUInt32LE(Math.floor(start / 2 ** 32), at + 0x0c);
  target.writeUInt32LE(endInclusive % 2 ** 32, at + 0x10);
  target.writeUInt32LE(Math.floor(endInclusive / 2 ** 32), at + 0x14);
  target.fill(0, at + 0x18, at + LIME_HEADER_SIZE); // reserved
}

/** The fields of the header at `b[at]` (which must hold LIME_HEADER_SIZE bytes). */
export function decodeLimeHeader(b: Buffer, at = 0): LimeHeader {
  return {
    magic: b.readUInt32LE(at),
    version: b.readUInt32LE(at + 4),
    start: b.readBigUInt64LE(at + 8),
    endInclusive: b.readBigUInt64LE(at + 16),
  };
}

/** Offsets of the u64 fields, for messages that name the byte at fault. */
export const LIME_START_FIELD = 0x08;
export const LIME_END_FIELD = 0x10;
