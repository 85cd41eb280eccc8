/**
 * Raw Snappy block decompression into a caller's buffer (google/snappy
 * format_description.txt), for chunks so small that the native module's
 * per-call cost and its own output Buffer outweigh the work: AVML streams
 * may hold one-byte chunks. Every read and copy is bounds-checked: a corrupt
 * block is an error, never a read or write outside the buffers.
 *
 * Block: varint uncompressed length, then elements, each a tag byte whose two
 * low bits say what follows: 00 a literal (length-1 in the upper six bits, or
 * in the 1-4 bytes after the tag when those bits are 60-63), 01/10/11 a copy
 * of earlier output (offset in 11 bits, 2 bytes or 4 bytes).
 */
import { snappyLength } from '../formats/snappy-framing';

export class SnappyError extends Error {}

/** Decodes the raw Snappy block `src` into `dst[at ..]`; it must hold exactly `length` bytes. */
export function snappyDecompressInto(src: Uint8Array, dst: Uint8Array, at: number, length: number): void {
  const declared = snappyLength(src);
  if (declared !== length) throw new SnappyError(`block declares ${declared} bytes, ${length} expected`);
  let ip = 0;
  while (src[ip++] & 0x80);
  const outEnd = at + length;
  if (outEnd > dst.length) throw new SnappyError('output overrun');
  let op = at;
  const need = (n: number) => {
    if (ip + n > src.length) throw new SnappyError('input overrun');
  };
  while (ip < src.length) {
    const tag = src[ip++];
    const kind = tag & 3;
    if (kind === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const bytes = n - 59;
        need(bytes);
        n = 0;
        for (let k = 0; k < bytes; k++) n += src[ip + k] * 2 ** (8 * k);
        ip += bytes;
      }
      n += 1;
      need(n);
      if (op + n > outEnd) throw new SnappyError('output overrun');
      dst.set(src.subarray(ip, ip + n), op);
      ip += n;
      op += n;
      continue;
    }
    let n: number;
    let offset: number;
    if (kind === 1) {
      need(1);
      n = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[ip++];
    } else if (kind === 2) {
      need(2);
      n = (tag >>> 2) + 1;
      offset = src[ip] | (src[ip + 1] << 8);
      ip += 2;
    } else {
      need(4);
      n = (tag >>> 2) + 1;
      offset = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16)) + src[ip + 3] * 2 ** 24;
      ip += 4;
    }
    if (offset === 0 || offset > op - at) throw new SnappyError('copy offset before the start of the output');
    if (op + n > outEnd) throw new SnappyError('output overrun');
    // Byte by byte: a copy may overlap the bytes it produces (a run).
    for (let k = 0; k < n; k++, op++) dst[op] = dst[op - offset];
  }
  if (op !== outEnd) throw new SnappyError(`block ends after ${op - at} of ${length} bytes`);
}
