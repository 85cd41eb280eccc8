import Fuse from 'fuse-native';
import { VirtualFile } from '../engine/virtual-file';

/** A file to serve; `name` may contain `/` for files in subdirectories. */
export interface ServedFile {
  name: string;
  file: VirtualFile;
}

export interface MountOptions {
  allowOther?: boolean;
  debug?: boolean;
  /** Source mtime, shown on every file. */
  mtime: Date;
  /** Called with each read error (the mount answers EIO and stays up). */
  onReadError?: (name: string, err: Error) => void;
}

export interface Mounted {
  mountpoint: string;
  unmount(): Promise<void>;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;

/**
 * Serves files read-only over FUSE. Knows files and reads, nothing of the
 * formats: every byte comes from VirtualFile.read.
 */
export function mountFiles(mountpoint: string, served: readonly ServedFile[], options: MountOptions): Promise<Mounted> {
  const files = new Map<string, VirtualFile>();
  const dirs = new Map<string, string[]>([['/', []]]);
  for (const s of served) {
    const parts = s.name.split('/');
    let dir = '/';
    for (const part of parts.slice(0, -1)) {
      const child = dir === '/' ? `/${part}` : `${dir}/${part}`;
      if (!dirs.has(child)) {
        dirs.set(child, []);
        dirs.get(dir)!.push(part);
      }
      dir = child;
    }
    dirs.get(dir)!.push(parts[parts.length - 1]);
    files.set('/' + s.name, s.file);
  }

  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const t = options.mtime;
  const stat = (mode: number, size: number, blocks: number) => ({ mode, size, blocks, uid, gid, nlink: 1, mtime: t, atime: t, ctime: t, blksize: 4096 });
  const refuse = (...args: unknown[]) => (args[args.length - 1] as (e: number) => void)(Fuse.EROFS);

  const ops = {
    getattr(p: string, cb: (err: number, st?: object) => void) {
      const f = files.get(p);
      if (f) return cb(0, stat(S_IFREG | 0o444, f.size, Math.ceil(f.dataBytes() / 512)));
      if (dirs.has(p)) return cb(0, stat(S_IFDIR | 0o555, 4096, 8));
      cb(Fuse.ENOENT);
    },
    readdir(p: string, cb: (err: number, names?: string[]) => void) {
      const names = dirs.get(p);
      if (!names) return cb(Fuse.ENOENT);
      cb(0, names);
    },
    open(p: string, flags: number, cb: (err: number, fd?: number) => void) {
      if (!files.has(p)) return cb(dirs.has(p) ? Fuse.EISDIR : Fuse.ENOENT);
      if ((flags & O_ACCMODE) !== 0 || flags & O_TRUNC) return cb(Fuse.EROFS);
      cb(0, 0);
    },
    release(_p: string, _fd: number, cb: (err: number) => void) {
      cb(0);
    },
    read(p: string, _fd: number, buf: Buffer, len: number, pos: number, cb: (n: number) => void) {
      const f = files.get(p);
      if (!f) return cb(Fuse.ENOENT);
      f.read(buf, pos, len).then(cb, (err: Error) => {
        options.onReadError?.(p.slice(1), err);
        cb(Fuse.EIO);
      });
    },
    statfs(_p: string, cb: (err: number, st?: object) => void) {
      cb(0, { bsize: 4096, frsize: 4096, blocks: 0, bfree: 0, bavail: 0, files: files.size, ffree: 0, favail: 0, fsid: 0, flag: 1, namemax: 255 });
    },
    write: refuse, truncate: refuse, ftruncate: refuse, create: refuse, unlink: refuse, mkdir: refuse, rmdir: refuse,
    rename: refuse, link: refuse, symlink: refuse, chmod: refuse, chown: refuse, utimens: refuse, setxattr: refuse,
    removexattr: refuse, mknod: refuse,
  };

  const fuse = new Fuse(mountpoint, ops, {
    allowOther: !!options.allowOther,
    debug: !!options.debug,
    fsname: 'memview',
    subtype: 'memview',
    kernelCache: true,
    maxRead: 1024 * 1024,
  });
  return new Promise((resolve, reject) => {
    fuse.mount((err?: Error | null) => {
      if (err) return reject(err);
      let unmounted: Promise<void> | null = null;
      resolve({
        mountpoint,
        unmount: () =>
          (unmounted ??= new Promise<void>((res, rej) => fuse.unmount((e?: Error | null) => (e ? rej(e) : res())))),
      });
    });
  });
}
