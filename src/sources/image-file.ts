import * as fs from 'node:fs';
import { preadFully } from '../engine/pread';
import { InputError } from '../errors';

/**
 * A source image opened read-only (it is evidence: never O_RDWR, never
 * written, its access time left alone). Parsers read headers through
 * `readAt` at mount time.
 */
export class ImageFile {
  readonly size: number;
  readonly mtime: Date;

  private constructor(readonly path: string, readonly fd: number, stat: fs.Stats) {
    this.size = stat.size;
    this.mtime = stat.mtime;
  }

  static open(path: string): ImageFile {
    let fd: number;
    try {
      fd = openReadOnly(path);
    } catch (e) {
      throw new InputError(`${path}: ${describeOpenError(e)}`);
    }
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) {
      fs.closeSync(fd);
      throw new InputError(`${path}: is a directory, not an image file`);
    }
    // A pipe has no size and cannot be read at offsets; a device reports size 0.
    if (!stat.isFile()) {
      fs.closeSync(fd);
      throw new InputError(`${path}: not a regular file (a pipe or a device); memview reads images at offsets: save it to a file first`);
    }
    return new ImageFile(path, fd, stat);
  }

  /** Up to `length` bytes at `position` (fewer at end of file). */
  readAt(position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    const done = preadFully(this.fd, buf, 0, length, position);
    return done === length ? buf : buf.subarray(0, done);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

/**
 * O_RDONLY, plus O_NOATIME where allowed (the file's owner, or root): reading
 * evidence must not touch its access time, which timelines rely on. Others
 * get EPERM for O_NOATIME and open without it.
 */
function openReadOnly(path: string): number {
  const { O_RDONLY, O_NOATIME } = fs.constants;
  if (O_NOATIME !== undefined) {
    try {
      return fs.openSync(path, O_RDONLY | O_NOATIME);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }
  return fs.openSync(path, O_RDONLY);
}

export function describeOpenError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (try as root)';
  if (code === 'EISDIR') return 'is a directory, not an image file';
  return (e as Error).message;
}
