/**
 * makedumpfile's flattened format (`makedumpfile -F`, what goes through a
 * pipe; QEMU before 8.2 writes its kdump output this way), formats.md
 * section 6.2: a 4096-byte header {signature[16] "makedumpfile", int64 type,
 * int64 version} (big-endian), then records {int64 offset, int64 buf_size}
 * (big-endian), each followed by buf_size bytes meaning "these bytes at this
 * offset of the diskdump file". A record with offset -1 and size -1 ends it.
 */

export const FLAT_SIGNATURE = Buffer.from('makedumpfile', 'latin1');
export const FLAT_HEADER_SIZE = 4096;
export const FLAT_RECORD_HEADER_SIZE = 16;
/** makedumpfile's TYPE_FLAT_HEADER and VERSION_FLAT_HEADER. */
export const FLAT_TYPE = 1;
export const FLAT_VERSION = 1;
export const FLAT_END = -1;

export interface FlatHeader {
  type: number;
  version: number;
}

/** The header, or null when `b` (at least 32 bytes) does not start with the signature. */
export function readFlatHeader(b: Buffer): FlatHeader | null {
  if (b.length < 32 || !b.subarray(0, 16).equals(flatSignatureField())) return null;
  return { type: Number(b.readBigInt64BE(16)), version: Number(b.readBigInt64BE(24)) };
}

export function writeFlatHeader(h: FlatHeader = { type: FLAT_TYPE, version: FLAT_VERSION }): Buffer {
  const b = Buffer.alloc(FLAT_HEADER_SIZE);
  flatSignatureField().copy(b, 0);
  b.writeBigInt64BE(BigInt(h.type), 16);
  b.writeBigInt64BE(BigInt(h.version), 24);
  return b;
}

/** The 16-byte signature field: "makedumpfile" NUL-padded. */
function flatSignatureField(): Buffer {
  const f = Buffer.alloc(16);
  FLAT_SIGNATURE.copy(f);
  return f;
}

export interface FlatRecordHeader {
  /** Where the bytes go in the diskdump file; FLAT_END on the last record. */
  offset: number;
  size: number;
}

/** Values beyond 2^53 (corrupt) become -2, which no valid record has. */
export function readFlatRecordHeader(b: Buffer, at = 0): FlatRecordHeader {
  const num = (v: bigint) => (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -1n ? -2 : Number(v));
  return { offset: num(b.readBigInt64BE(at)), size: num(b.readBigInt64BE(at + 8)) };
}

export function writeFlatRecordHeader(r: FlatRecordHeader): Buffer {
  const b = Buffer.alloc(FLAT_RECORD_HEADER_SIZE);
  b.writeBigInt64BE(BigInt(r.offset), 0);
  b.writeBigInt64BE(BigInt(r.size), 8);
  return b;
}
