import * as fs from 'node:fs';

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
