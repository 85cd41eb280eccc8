import * as fs from 'node:fs';
import { preadFully } from './pread';
import { RamRange } from '../types';
import { ByteSource } from './byte-source';
import { dataExtents } from './file-extents';
import { openRegularInput } from './open-input';

/**
 * A local image file opened read-only: it is evidence, never O_RDWR, never
 * written, its access time left alone (O_NOATIME; io/open-input.ts). A read is one blocking
 * pread into the caller's buffer: measured by `npm run bench` (README
 * "Performance"), a synchronous pread of page-cached data costs less than the
 * thread-pool hop of an async one, and the kernel page cache is the cache.
 */
export class FileSource implements ByteSource {
  readonly size: number;
  readonly mtime: Date;
  readonly label: string;

  /** Bytes the file system allocated to the file: fewer than `size` only for a sparse (or compressed) file. */
  private readonly allocated: number;

  private constructor(
    readonly path: string,
    readonly fd: number,
    stat: fs.Stats,
    readonly oneReadAtATime: boolean,
  ) {
    this.size = stat.size;
    this.mtime = stat.mtime;
    this.allocated = stat.blocks * 512;
    this.label = path;
  }

  /** `oneReadAtATime`: see ByteSource (the live /proc/kcore). */
  static open(path: string, { oneReadAtATime = false } = {}): FileSource {
    // A pipe has no size and cannot be read at offsets; a device reports size 0.
    const { fd, stat } = openRegularInput(path, 'an image file', 'memview reads images at offsets: save it to a file first');
    return new FileSource(path, fd, stat, oneReadAtATime);
  }

  read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    try {
      return Promise.resolve(preadFully(this.fd, target, targetOffset, Math.max(0, Math.min(length, this.size - position)), position));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * The file's bytes from offset `base` on, as a source of their own, read
   * with 64-bit positions: /proc/kcore under 5-level paging puts RAM past
   * 2^53, where a Number cannot name every byte. No `fd`: its positions are
   * not the file's. Closing it leaves the file open.
   */
  from(base: bigint): ByteSource {
    const size = Number(fs.fstatSync(this.fd, { bigint: true }).size - base);
    return {
      size,
      label: this.label,
      oneReadAtATime: this.oneReadAtATime,
      read: (target, targetOffset, length, position) => {
        try {
          return Promise.resolve(preadFully(this.fd, target, targetOffset, Math.max(0, Math.min(length, size - position)), base + BigInt(position)));
        } catch (e) {
          return Promise.reject(e);
        }
      },
      close: () => undefined,
    };
  }

  /** Where the file holds data (sparse-file holes left out), or null when that cannot be asked. */
  dataExtents(): RamRange[] | null {
    // Every byte allocated: no holes to look for, and no process to start.
    if (this.allocated >= this.size) return [{ start: 0, length: this.size }];
    return dataExtents(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
