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
 * The header at `target[at]` (views write a million of them into one buffer),
 * byte by byte: exact for addresses below 2^53, no BigInt per field.
 */
export function writeLimeHeader(target: Buffer, at: number, start: number, endInclusive: number): void {
  u32(target, at + 0x00, LIME_MAGIC);
  u32(target, at + 0x04, LIME_VERSION);
  u32(target, at + 0x08, start >>> 0);
  u32(target, at + 0x0c, Math.floor(start / 2 ** 32));
  u32(target, at + 0x10, endInclusive >>> 0);
  u32(target, at + 0x14, Math.floor(endInclusive / 2 ** 32));
  u32(target, at + 0x18, 0); // reserved
  u32(target, at + 0x1c, 0);
}

function u32(b: Buffer, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = v >>> 24;
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
