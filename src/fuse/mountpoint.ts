import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, shellQuote } from '../errors';

/**
 * Mounts in /proc/self/mountinfo: mount point (field 5, octal escapes
 * decoded), device (field 3, `major:minor`), filesystem type (after the
 * ` - ` separator; ours is `fuse.memview`) and mount source (the next field;
 * ours names the source image's identity, see memviewFsname).
 */
export function mountTable(): { mountpoint: string; device: string; fstype: string; source: string }[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      const sep = f.indexOf('-', 6);
      return { mountpoint: decode(f[4]), device: f[2], fstype: f[sep + 1] ?? '', source: decode(f[sep + 2] ?? '') };
    });
}

/** The filesystem type memview mounts have (fuse-native's `subtype`). */
export const MEMVIEW_FSTYPE = 'fuse.memview';

/** A file's identity: what a hard link or a symlink shares with it. */
export interface FileId {
  dev: bigint;
  ino: bigint;
}

/** The identity of the file at `p` (symlinks followed), or undefined when there is none. */
export function fileId(p: string): FileId | undefined {
  try {
    const st = fs.statSync(p, { bigint: true });
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

export const sameFile = (a: FileId, b: FileId) => a.dev === b.dev && a.ino === b.ino;

/** glibc's makedev: the st_dev of a `major:minor` device number as mountinfo writes it. */
function deviceNumber(majorMinor: string): bigint {
  const [major, minor] = majorMinor.split(':').map(BigInt);
  return (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
}

/**
 * The mount source (libfuse fsname) of a memview mount: `memview:DEV:INO`
 * of its source image, so another memview process can tell which file a
 * mounted view is read from (export refuses to overwrite it).
 */
export function memviewFsname(source: FileId | undefined): string {
  return source ? `memview:${source.dev}:${source.ino}` : 'memview';
}

/** The source images behind a file on a memview mount (and behind those, when mounts are nested). */
export function memviewSourcesBehind(file: FileId): FileId[] {
  const mounts = mountTable().filter((m) => m.fstype === MEMVIEW_FSTYPE);
  const found: FileId[] = [];
  let dev = file.dev;
  for (let depth = 0; depth < 16; depth++) {
    const m = mounts.find((x) => deviceNumber(x.device) === dev);
    const id = /^memview:(\d+):(\d+)$/.exec(m?.source ?? '');
    if (!id) break;
    const behind = { dev: BigInt(id[1]), ino: BigInt(id[2]) };
    found.push(behind);
    dev = behind.dev;
  }
  return found;
}

/** Mount points currently mounted. */
export function mountedPaths(): Set<string> {
  return new Set(mountTable().map((m) => m.mountpoint));
}

/** Refuses a mountpoint that is missing, not a directory, stale, mounted or not empty; the message says the fix. */
export function checkMountpoint(dir: string): string {
  const abs = path.resolve(dir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOTCONN') {
      throw new InputError(`${dir}: stale mount left by a killed process; clear it with: memview umount --force ${shellQuote(dir)}`);
    }
    if (code === 'ENOENT') throw new InputError(`${dir}: mountpoint does not exist; create it with: mkdir -p ${shellQuote(dir)}`);
    throw new InputError(`${dir}: cannot use as mountpoint: ${(e as Error).message}`);
  }
  if (!stat.isDirectory()) throw new InputError(`${dir}: mountpoint is not a directory`);
  // The mount table lists the real path: through a symlink, `abs` would never be seen as mounted.
  const real = canonicalPath(abs);
  const mounted = mountTable()
    .filter((m) => m.mountpoint === real)
    .pop(); // the last one is on top
  if (mounted?.fstype === MEMVIEW_FSTYPE) throw new InputError(`${dir}: something is already mounted here; unmount it with: memview umount ${shellQuote(dir)}`);
  // `/`, `/proc`, a disk's mount point: never to be unmounted for us (memview umount refuses them anyway).
  if (mounted)
    throw new InputError(
      `${dir}: is the root of a mounted ${mounted.fstype} file system (${mounted.source}); mount on an empty directory of its own, e.g. mkdir -p /tmp/memview-mnt`,
    );
  if (fs.readdirSync(real).length > 0) throw new InputError(`${dir}: mountpoint is not empty; use an empty directory`);
  return real;
}

/** A directory as the mount table names it: symlinks resolved (a stale mount itself cannot be resolved: its parent is). */
export function canonicalPath(dir: string): string {
  const abs = path.resolve(dir);
  try {
    return fs.realpathSync(abs);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs));
    } catch {
      return abs;
    }
  }
}

/**
 * Mounting needs read-write access to /dev/fuse; without it libfuse prints its
 * own line and fails with "fuse failed". Checked first, with the fix.
 */
export function checkFuseDevice(device = '/dev/fuse'): void {
  try {
    fs.accessSync(device, fs.constants.R_OK | fs.constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${device}: no such device; load the fuse module (modprobe fuse), or give the container --device /dev/fuse`);
    if (code === 'EACCES' || code === 'EPERM')
      throw new Error(`${device}: permission denied; mounting needs read-write access to it (root, or a system where it is mode 0666)`);
    throw e;
  }
}
