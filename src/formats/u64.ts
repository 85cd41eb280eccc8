/**
 * A little-endian u64 field as a number without a BigInt (a million headers
 * are read field by field): exact below 2^53, where every address and offset
 * of a real image is; -1 above, and the reader takes it as a bigint for its
 * message.
 */
export function u64Number(b: Buffer, at: number): number {
  const hi = b.readUInt32LE(at + 4);
  return hi < 0x200000 ? hi * 0x100000000 + b.readUInt32LE(at) : -1;
}
