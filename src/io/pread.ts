import * as fs from 'node:fs';

/**
 * Reads `length` bytes at `position` (a bigint past 2^53) into `target[offset..]`
 * with as many preads as it takes; returns the byte count, short only at end of file.
 * The one synchronous read loop: FileSource and the bench use it.
 */
export function preadFully(fd: number, target: Uint8Array, offset: number, length: number, position: number | bigint): number {
  let done = 0;
  while (done < length) {
    const at = typeof position === 'bigint' ? position + BigInt(done) : position + done;
    const n = fs.readSync(fd, target, offset + done, length - done, at);
    if (n === 0) break;
    done += n;
  }
  return done;
}
