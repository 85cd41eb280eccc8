import * as fs from 'node:fs';
import { LRUCache } from 'lru-cache';
import { ByteSource, SourceIOError } from '../src/io/byte-source';

/**
 * Read-path variants that production does not use, kept for the bench's
 * comparison (bench/sweep.ts, README "Performance"): async preads on the
 * thread pool, and a block cache on top of them. memview's FileSource does
 * one blocking pread per request (measured faster).
 */

/** Reads a file descriptor at a position with async preads, failing on a short read. */
export function readFully(fd: number, target: Uint8Array, targetOffset: number, length: number, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (done: number): void => {
      if (done === length) return resolve();
      fs.read(fd, target, targetOffset + done, length - done, position + done, (err, n) => {
        if (err) return reject(err);
        if (n === 0) return reject(new SourceIOError(`short read at source offset 0x${(position + done).toString(16)}`));
        step(done + n);
      });
    };
    step(0);
  });
}

/** Async preads on the thread pool, one per request. */
export class AsyncFileSource implements ByteSource {
  constructor(
    readonly fd: number,
    readonly size: number,
    readonly label = 'async',
  ) {}

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const n = Math.max(0, Math.min(length, this.size - position));
    await readFully(this.fd, target, targetOffset, n, position);
    return n;
  }

  close(): void {}
}

/**
 * A file read in fixed-size blocks through one bounded LRU cache (byte budget).
 * Concurrent misses on the same block share one read. With a zero budget the
 * cache is bypassed and reads go straight to the file.
 */
export class CachedFileSource implements ByteSource {
  private readonly cache: LRUCache<number, Buffer> | null;
  private readonly pending = new Map<number, Promise<Buffer>>();

  constructor(
    readonly fd: number,
    readonly size: number,
    readonly blockSize = 256 * 1024,
    cacheBytes = 64 * 1024 * 1024,
    readonly label = 'cached',
  ) {
    this.cache = cacheBytes >= blockSize ? new LRUCache<number, Buffer>({ maxSize: cacheBytes, sizeCalculation: (b) => b.length }) : null;
  }

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const total = Math.max(0, Math.min(length, this.size - position));
    if (!this.cache || total >= this.blockSize) {
      await readFully(this.fd, target, targetOffset, total, position);
      return total;
    }
    const end = position + total;
    let pos = position;
    while (pos < end) {
      const index = Math.floor(pos / this.blockSize);
      const blockStart = index * this.blockSize;
      const block = await this.block(index);
      const from = pos - blockStart;
      const n = Math.min(end, blockStart + block.length) - pos;
      if (n <= 0) throw new SourceIOError(`short read at source offset 0x${pos.toString(16)}`);
      target.set(block.subarray(from, from + n), targetOffset + (pos - position));
      pos += n;
    }
    return total;
  }

  private block(index: number): Promise<Buffer> {
    const hit = this.cache!.get(index);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(index);
    if (!p) {
      const start = index * this.blockSize;
      const len = Math.max(0, Math.min(this.blockSize, this.size - start));
      const buf = Buffer.allocUnsafe(len);
      p = readFully(this.fd, buf, 0, len, start).then(
        () => {
          this.pending.delete(index);
          this.cache!.set(index, buf);
          return buf;
        },
        (err) => {
          this.pending.delete(index);
          throw err;
        },
      );
      this.pending.set(index, p);
    }
    return p;
  }

  close(): void {}
}
