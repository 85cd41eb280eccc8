import * as fs from 'node:fs';
import * as path from 'node:path';
import { ByteSource, readExactly } from '../io/byte-source';
import type { PieceTable } from '../engine/piece-table';
import type { FuseTuning, Mounted, MountOptions, ServedFile } from './mount-types';

/**
 * The native backend (native/memview_fuse.c): libfuse 3 on threads of its
 * own, answering reads from the piece tables without this thread. Only
 * source pieces of a byte source without a file descriptor (decoded, remote) are
 * read here, when the addon asks.
 */

/** The addon's calls (native/memview_fuse.c documents each). */
interface NativeAddon {
  libfuseVersion: string;
  mount(
    config: NativeConfig,
    read: (node: number, position: number, length: number, target: Buffer, token: object) => void,
    event: (kind: 'error' | 'exit', node: number, code: number, message?: string) => void,
  ): { handle: object; readahead: boolean; fusermount?: string };
  complete(token: object, errno: number): void;
  unmount(handle: object, lazy: boolean): number;
  destroy(handle: object): void;
  strerror(errno: number): string;
}

interface NativeNode {
  name: string;
  parent: number;
  dir: number;
  size: number;
  blocks: number;
  table?: PieceTable;
  fd?: number;
}

interface NativeConfig {
  mountpoint: string;
  options: string;
  maxRead: number;
  readaheadKb: number;
  keepCache: number;
  directIo: number;
  splice: number;
  maxInflight: number;
  debug: number;
  uid: number;
  gid: number;
  mtime: number;
  nodes: NativeNode[];
}

/**
 * Settings of the native backend, measured (README "Performance", "Settings
 * that won"): 1008 KiB requests (a 1 MiB reply does not fit a default 1 MiB
 * pipe with its header, and libfuse then copies instead of splicing), and a
 * bdi readahead of two such requests (2016 KiB), written after the INIT reply.
 */
export const NATIVE_TUNING: FuseTuning = {
  maxRead: 1008 * 1024,
  kernelCache: true,
  directIo: false,
  readaheadKb: 2016,
  splice: true,
};

/** Decoded or remote sources are asked for at most this many pieces at once. */
const MAX_JS_READS_IN_FLIGHT = 16;
const EIO = 5;

let loaded: { addon: NativeAddon } | { reason: string } | undefined;

/** The addon, or why it cannot serve (not built, or libfuse 3 missing at run time). */
export function loadNativeAddon(): { addon: NativeAddon } | { reason: string } {
  if (loaded) return loaded;
  const file = path.join(packageRoot(), 'native', 'build', 'Release', 'memview_fuse.node');
  if (!fs.existsSync(file)) {
    loaded = { reason: 'native addon not built (npm ci builds it where libfuse3-dev and a C compiler are installed; native/build.log says why not)' };
  } else {
    try {
      loaded = { addon: require(file) as NativeAddon };
    } catch (e) {
      loaded = { reason: `native addon does not load: ${(e as Error).message.split('\n')[0]}` };
    }
  }
  return loaded;
}

function packageRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  return path.resolve(__dirname, '..', '..');
}

/** The file tree as the addon takes it: the root first, every parent before its children. */
function nodesOf(served: readonly ServedFile[]): { nodes: NativeNode[]; sources: (ByteSource | null)[] } {
  const nodes: NativeNode[] = [{ name: '', parent: 0, dir: 1, size: 4096, blocks: 8 }];
  const sources: (ByteSource | null)[] = [null];
  const dirs = new Map<string, number>([['', 0]]);
  for (const { name, file } of served) {
    const parts = name.split('/');
    let parent = 0;
    let dirPath = '';
    for (const part of parts.slice(0, -1)) {
      dirPath = dirPath ? `${dirPath}/${part}` : part;
      let index = dirs.get(dirPath);
      if (index === undefined) {
        index = nodes.push({ name: part, parent, dir: 1, size: 4096, blocks: 8 }) - 1;
        sources.push(null);
        dirs.set(dirPath, index);
      }
      parent = index;
    }
    nodes.push({
      name: parts[parts.length - 1],
      parent,
      dir: 0,
      size: file.size,
      blocks: Math.ceil(file.dataBytes() / 512),
      table: file.table(),
      fd: directFd(file.source),
    });
    sources.push(file.source);
  }
  return { nodes, sources };
}

/**
 * The descriptor the addon preads (and splices) for source pieces: by the
 * ByteSource contract, `fd` is there only when the source's bytes at
 * position p are that file's bytes at offset p (a local image read in place),
 * and not for a source whose preads must not overlap (they go through JS, where
 * FileSource's synchronous pread serialises them).
 */
function directFd(source: ByteSource | null): number {
  return typeof source?.fd === 'number' && !source.oneReadAtATime ? source.fd : -1;
}

/** Node's path for messages: `ranges/0x1000.bin`. */
function nodePath(nodes: readonly NativeNode[], index: number): string {
  const names: string[] = [];
  for (let i = index; i !== 0; i = nodes[i].parent) names.unshift(nodes[i].name);
  return names.join('/');
}

export function mountFilesNative(
  addon: NativeAddon,
  mountpoint: string,
  served: readonly ServedFile[],
  options: MountOptions,
  tuning: FuseTuning,
): Promise<Mounted> {
  const { nodes, sources } = nodesOf(served);
  // fsname: memview:DEV:INO names the source (export refuses to write over it); no comma may split the -o list
  const fsname = (options.fsname ?? 'memview').replace(/[,\\]/g, '_');
  const kernelOptions = ['ro', 'nosuid', 'nodev', 'default_permissions', `fsname=${fsname}`, 'subtype=memview', `max_read=${tuning.maxRead}`];
  if (options.allowOther) kernelOptions.push('allow_other');
  const readError = (node: number, err: Error) => options.onReadError?.(nodePath(nodes, node), err);

  const read = (node: number, position: number, length: number, target: Buffer, token: object) => {
    const source = sources[node];
    const fail = (err: Error) => {
      readError(node, err);
      addon.complete(token, EIO);
    };
    if (!source) return fail(new Error('no byte source for source pieces'));
    readExactly(source, target, 0, length, position).then(() => addon.complete(token, 0), fail);
  };

  let exited = false;
  let onExit: () => void = () => {};
  const ended = new Promise<void>((resolve) => (onExit = resolve));
  let handle: object | null = null;
  // Any way the process ends (process.exit, an uncaught error, stdout closed): never leave the mount behind.
  const exitHook = () => {
    if (handle && !exited) addon.unmount(handle, true);
  };
  const event = (kind: 'error' | 'exit', node: number, _code: number, message?: string) => {
    if (kind === 'error') return readError(node, new Error(message ?? 'read error'));
    exited = true;
    process.removeListener('exit', exitHook);
    if (handle) addon.destroy(handle);
    onExit();
  };

  let mounted: ReturnType<NativeAddon['mount']>;
  try {
    mounted = addon.mount(
      {
        mountpoint,
        options: kernelOptions.join(','),
        maxRead: tuning.maxRead,
        readaheadKb: tuning.readaheadKb,
        keepCache: tuning.kernelCache ? 1 : 0,
        directIo: tuning.directIo ? 1 : 0,
        splice: tuning.splice === false ? 0 : 1,
        maxInflight: MAX_JS_READS_IN_FLIGHT,
        debug: options.debug ? 1 : 0,
        uid: process.getuid?.() ?? 0,
        gid: process.getgid?.() ?? 0,
        mtime: options.mtime.getTime(),
        nodes,
      },
      read,
      event,
    );
  } catch (e) {
    return Promise.reject(e);
  }
  handle = mounted.handle;
  process.on('exit', exitHook);
  const kib = (n: number) => (n % 1024 === 0 ? `${n / 1024} MiB` : `${n} KiB`);
  const readahead = tuning.directIo ? 'direct I/O' : mounted.readahead ? `readahead ${kib(tuning.readaheadKb)}` : 'kernel readahead (raising it needs root)';
  let unmounting: Promise<void> | null = null;
  const failure = (code: number) => new Error(code > 0 ? addon.strerror(code) : `${mounted.fusermount ?? 'fusermount'} -u failed (exit status ${-code})`);
  // As fuse-native's: a plain unmount, and when a reader keeps it busy a lazy one (the mount leaves the
  // namespace now; the open files fail once this process has exited).
  const unmount = (): Promise<void> => {
    if (exited) return Promise.resolve();
    if (unmounting) return unmounting;
    if (addon.unmount(handle!, false) === 0) return (unmounting = ended);
    const code = addon.unmount(handle!, true);
    return code === 0 ? (unmounting = Promise.resolve()) : Promise.reject(failure(code));
  };
  return Promise.resolve({
    mountpoint,
    backend: `native (libfuse ${addon.libfuseVersion}, ${kib(tuning.maxRead / 1024)} requests, ${readahead})`,
    unmount,
  });
}
