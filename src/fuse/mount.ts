import * as fs from 'node:fs';
import Fuse from 'fuse-native';
import { fusermount } from './fusermount';
import { InputError } from '../errors';
import { mountTable } from './mountpoint';
import { startWatchdog } from './watchdog';
import { loadNativeAddon, mountFilesNative, NATIVE_TUNING } from './native-mount';
import { Backend, BACKENDS, FuseTuning, Mounted, MountOptions, ServedFile } from './mount-types';
import type { VirtualFile } from '../engine/virtual-file';

export { BACKENDS };
export type { Backend, FuseTuning, Mounted, MountOptions, ServedFile };

// fuse-native's own Fuse.unmount runs `exec("fusermount -uz " + JSON.stringify(dir))`
// through /bin/sh, where $() and backticks inside double quotes still run.
// Its close() (our unmount on Ctrl-C/SIGTERM) calls Fuse.unmount, then the
// native call that lets the event loop end: replace only the shell part.
Fuse.unmount = (mnt: string, cb: (err?: Error | null) => void) => {
  fusermount(mnt, true).then(() => cb(null), cb);
};

export const DEFAULT_TUNING: FuseTuning = {
  maxRead: 128 * 1024,
  kernelCache: true,
  directIo: false,
  readaheadKb: 0, // 1 MiB measured no faster than the kernel's 128 KiB (README "Settings that won")
};

/** Who serves the mount: the native libfuse 3 addon, or fuse-native (libfuse 2, reads on the JS thread). */

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;

/**
 * Serves files read-only over FUSE. Knows files and reads, nothing of the
 * formats: every byte comes from the files' piece tables (native) or
 * VirtualFile.read (fuse-native). A watchdog process unmounts the mount if
 * this process is killed before it could (watchdog.ts).
 */
export async function mountFiles(mountpoint: string, served: readonly ServedFile[], options: MountOptions): Promise<Mounted> {
  // Started before the mount: libfuse 2 opens /dev/fuse without O_CLOEXEC, and a watchdog that
  // inherited that descriptor would keep a killed server's connection alive (reads hang, not ENOTCONN).
  const watchdog = startWatchdog(mountpoint);
  let mounted: Mounted;
  try {
    mounted = await mountWithBackend(mountpoint, served, options);
  } catch (e) {
    watchdog.release();
    throw e;
  }
  return { ...mounted, unmount: () => mounted.unmount().then(() => watchdog.release()) };
}

function mountWithBackend(mountpoint: string, served: readonly ServedFile[], options: MountOptions): Promise<Mounted> {
  const backend = options.backend ?? parseBackend(process.env.MEMVIEW_BACKEND || 'auto');
  let fallback = '';
  if (backend !== 'fuse-native') {
    const native = loadNativeAddon();
    if ('addon' in native) return mountFilesNative(native.addon, mountpoint, served, options, { ...NATIVE_TUNING, ...options.tuning });
    if (backend === 'native') return Promise.reject(new Error(`backend native: ${native.reason}`));
    fallback = `: the native one is unavailable: ${native.reason}`;
  }
  return mountFilesFuseNative(mountpoint, served, options, `fuse-native (libfuse 2, reads on the JS thread)${fallback}`);
}

export function parseBackend(name: string): Backend {
  if (!(BACKENDS as readonly string[]).includes(name)) throw new InputError(`backend: expected one of ${BACKENDS.join(', ')}, got ${JSON.stringify(name)}`);
  return name as Backend;
}

function mountFilesFuseNative(mountpoint: string, served: readonly ServedFile[], options: MountOptions, backend: string): Promise<Mounted> {
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
    write: refuse,
    truncate: refuse,
    ftruncate: refuse,
    create: refuse,
    unlink: refuse,
    mkdir: refuse,
    rmdir: refuse,
    rename: refuse,
    link: refuse,
    symlink: refuse,
    chmod: refuse,
    chown: refuse,
    utimens: refuse,
    setxattr: refuse,
    removexattr: refuse,
    mknod: refuse,
  };

  const tuning = { ...DEFAULT_TUNING, ...options.tuning };
  const fuse = tunedFuse(mountpoint, ops, tuning, {
    allowOther: !!options.allowOther,
    debug: !!options.debug,
    fsname: options.fsname ?? 'memview',
    subtype: 'memview',
  });
  return new Promise((resolve, reject) => {
    fuse.mount((err?: Error | null) => {
      if (err) return reject(err);
      if (tuning.readaheadKb > 0) setReadahead(mountpoint, tuning.readaheadKb);
      let unmounted: Promise<void> | null = null;
      resolve({
        mountpoint,
        backend,
        unmount: () => (unmounted ??= new Promise<void>((res, rej) => fuse.unmount((e?: Error | null) => (e ? rej(e) : res())))),
      });
    });
  });
}

/** A fuse-native instance configured by `tuning` (also used by the bench's passthrough, for a fair ceiling). */
export function tunedFuse(mountpoint: string, ops: object, tuning: FuseTuning, base: object): Fuse {
  return new TunedFuse(
    mountpoint,
    ops,
    {
      ...base,
      kernelCache: tuning.kernelCache,
      maxRead: tuning.maxRead,
      timeout: false, // fuse-native's per-request timer costs a setTimeout per read; our reads always answer
    },
    // nonempty: memview checks the directory itself; libfuse 2's own check would print two lines of its own and fail the
    // later of two racing mounts, which the stacking check after mounting (mountedUnder) tells in one line instead.
    ['ro', 'nonempty', ...(tuning.directIo ? ['direct_io'] : [])],
  );
}

/** fuse-native with extra libfuse -o options it has no switch for: ro (so /proc/mounts, statvfs and access(W_OK) say read-only), direct_io. */
class TunedFuse extends Fuse {
  constructor(
    mountpoint: string,
    ops: object,
    opts: object,
    private readonly extraOptions: string[],
  ) {
    super(mountpoint, ops, opts);
  }

  protected _fuseOptions(): string {
    const base = super._fuseOptions();
    if (this.extraOptions.length === 0) return base;
    return (base ? base + ',' : '-o') + this.extraOptions.join(',');
  }
}

/**
 * Raises the kernel readahead of a FUSE mount (its bdi is named after the
 * mount's device number, e.g. /sys/class/bdi/0:42). libfuse 2 caps each
 * request at 128 KiB; a bigger window keeps several requests in flight.
 * Best effort: without root the kernel default stays.
 */
export function setReadahead(mountpoint: string, kb: number): boolean {
  try {
    const device = mountTable().find((m) => m.mountpoint === mountpoint)?.device;
    if (!device) return false;
    fs.writeFileSync(`/sys/class/bdi/${device}/read_ahead_kb`, String(kb));
    return true;
  } catch {
    return false;
  }
}
