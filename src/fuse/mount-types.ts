import type { VirtualFile } from '../engine/virtual-file';

/** The shapes both FUSE backends (mount.ts: fuse-native, native-mount.ts: libfuse 3) share. */

/** A file to serve; `name` may contain `/` for files in subdirectories. */
export interface ServedFile {
  name: string;
  file: VirtualFile;
}

/**
 * FUSE settings. The defaults are what `npm run bench` measured fastest on
 * fuse-native (libfuse 2.9); README "Performance" has the numbers.
 */
export interface FuseTuning {
  /** libfuse max_read; libfuse 2 never negotiates more than 128 KiB per request anyway. */
  maxRead: number;
  /** Keep file pages in the kernel page cache across opens: a repeated read never reaches us. */
  kernelCache: boolean;
  /** -o direct_io: no page cache at all, every read() is a request to us. */
  directIo: boolean;
  /** Readahead of the mount's bdi in KiB (kernel default 128); 0 leaves it. Needs root, else ignored. */
  readaheadKb: number;
  /** Native backend: splice replies that lie in one source piece (no copy through memview). */
  splice?: boolean;
}

/** Who serves the mount: the native libfuse 3 addon, or fuse-native (libfuse 2, reads on the JS thread). */
export const BACKENDS = ['auto', 'native', 'fuse-native'] as const;
export type Backend = (typeof BACKENDS)[number];

export interface MountOptions {
  /** Default: $MEMVIEW_BACKEND, else auto (native when its addon loads, else fuse-native). */
  backend?: Backend;
  /** Overrides of the backend's tuning (DEFAULT_TUNING, NATIVE_TUNING; the bench sweeps them). */
  tuning?: Partial<FuseTuning>;
  allowOther?: boolean;
  debug?: boolean;
  /** Source mtime, shown on every file. */
  mtime: Date;
  /** libfuse fsname, the mount source /proc/mounts shows (default `memview`). */
  fsname?: string;
  /** Called with each read error (the mount answers EIO and stays up). */
  onReadError?: (name: string, err: Error) => void;
}

export interface Mounted {
  mountpoint: string;
  /** Which backend serves, with its settings (or why not the native one): one line for the user. */
  backend: string;
  unmount(): Promise<void>;
}
