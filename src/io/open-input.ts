import * as fs from 'node:fs';
import { InputError } from '../errors';

/**
 * Opens an input (a source image, a map or a boot log) the way evidence is
 * opened: read-only; O_NOATIME where allowed (the file's owner, or root), so
 * reading it leaves its access time alone (timelines rely on it; others get
 * EPERM for O_NOATIME and open without it); O_NONBLOCK, so a FIFO with no
 * writer or a device cannot hang the open (no effect on regular files). Then
 * fstat: the caller decides from what the descriptor is, never from the name.
 */
export function openInput(path: string): { fd: number; stat: fs.Stats } {
  const { O_RDONLY, O_NOATIME, O_NONBLOCK } = fs.constants;
  let fd: number | undefined;
  if (O_NOATIME !== undefined) {
    try {
      fd = fs.openSync(path, O_RDONLY | O_NONBLOCK | O_NOATIME);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    }
  }
  fd ??= fs.openSync(path, O_RDONLY | O_NONBLOCK);
  try {
    return { fd, stat: fs.fstatSync(fd) };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** What a non-regular file is, in words: "a FIFO (named pipe)", "a character device", ... */
export function fileKind(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/**
 * Opens an input that must be a regular file (`what`: "an image file", "a map
 * file"): one line naming the path for an open error, a directory, or a FIFO,
 * socket or device (`advice` says what to do instead).
 */
export function openRegularInput(path: string, what: string, advice: string): { fd: number; stat: fs.Stats } {
  let opened: { fd: number; stat: fs.Stats };
  try {
    opened = openInput(path);
  } catch (e) {
    throw new InputError(`${path}: ${describeOpenError(e, what)}`);
  }
  const { fd, stat } = opened;
  if (stat.isFile()) return opened;
  fs.closeSync(fd);
  if (stat.isDirectory()) throw new InputError(`${path}: is a directory, not ${what}`);
  throw new InputError(`${path}: is ${fileKind(stat)}, not ${what}; ${advice}`);
}

/** An open or read error of an input, in words (`what` the input should have been). */
export function describeOpenError(e: unknown, what = 'an image file'): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (try as root)';
  if (code === 'EISDIR') return `is a directory, not ${what}`;
  if (code === 'ENXIO') return 'is a socket (or a device without a driver), not a file; save the data to a file first';
  if (code === 'ELOOP') return 'symbolic link loop (ELOOP): the link points back at itself';
  if (code === 'ENAMETOOLONG') return 'name too long (ENAMETOOLONG: at most 255 bytes per name, 4095 per path)';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  return (e as Error).message;
}
