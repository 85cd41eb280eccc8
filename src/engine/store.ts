import { preadFully } from './pread';
import * as fs from 'node:fs';
import { LRUCache } from 'lru-cache';

/** Where `source` pieces get their bytes: an image file, or a decoded stream. */
export interface ByteStore {
  /** Copies `length` bytes from store `position` into `target` at `targetOffset`. */
  read(target: Buffer, targetOffset: number, length: number, position: number): Promise<void>;
}

/** Raised by stores when the backing file no longer holds the bytes (truncated while mounted). */
export class SourceIOError extends Error {
  readonly code = 'EIO';
}

/** Reads a file descriptor at a position, failing on a short read. */
export function readFully(fd: number, target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
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

/**
 * An image file read in place: each read is one blocking pread into the
 * reply buffer. The kernel page cache is the cache. Measured by `npm run
 * bench` (README "Performance"): a synchronous pread of page-cached data
 * costs less than the thread-pool hop of an async one, and a block cache on
 * top only adds copies and memory.
 */
export class FileStore implements ByteStore {
  constructor(private readonly fd: number) {}

  read(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    let done: number;
    try {
      done = preadFully(this.fd, target, targetOffset, length, position);
    } catch (e) {
      return Promise.reject(e);
    }
    if (done < length) return Promise.reject(new SourceIOError(`short read at source offset 0x${(position + done).toString(16)}`));
    return Promise.resolve();
  }
}

/**
 * A file read in fixed-size blocks through one bounded LRU cache (byte budget).
 * Not the default for image files (see FileStore); kept for stores whose
 * reads are expensive and for the bench's comparison.
 * Concurrent misses on the same block share one read. With a zero budget the
 * cache is bypassed and reads go straight to the file.
 */
export class CachedFileStore implements ByteStore {
  private readonly cache: LRUCache<number, Buffer> | null;
  private readonly pending = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly fd: number,
    private readonly fileSize: number,
    readonly blockSize = 256 * 1024,
    cacheBytes = 64 * 1024 * 1024,
  ) {
    this.cache = cacheBytes >= blockSize
      ? new LRUCache<number, Buffer>({ maxSize: cacheBytes, sizeCalculation: (b) => b.length })
      : null;
  }

  async read(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    if (!this.cache || length >= this.blockSize) {
      return readFully(this.fd, target, targetOffset, length, position);
    }
    const end = position + length;
    let pos = position;
    while (pos < end) {
      const index = Math.floor(pos / this.blockSize);
      const blockStart = index * this.blockSize;
      const block = await this.block(index);
      const from = pos - blockStart;
      const n = Math.min(end, blockStart + block.length) - pos;
      if (n <= 0) throw new SourceIOError(`short read at source offset 0x${pos.toString(16)}`);
      block.copy(target, targetOffset + (pos - position), from, from + n);
      pos += n;
    }
  }

  private block(index: number): Promise<Buffer> {
    const hit = this.cache!.get(index);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(index);
    if (!p) {
      const start = index * this.blockSize;
      const len = Math.max(0, Math.min(this.blockSize, this.fileSize - start));
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
}
