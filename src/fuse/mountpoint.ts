import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, shellQuote } from '../errors';

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  /** Mount ID and the ID of the mount it sits on (fields 1 and 2). */
  id: number;
  parent: number;
  mountpoint: string;
  /** `major:minor` (field 3). */
  device: string;
  fstype: string;
  source: string;
  /** Options of the file system itself: for FUSE `user_id=N,group_id=N,…` (the mounting user). */
  superOptions: string;
}

/**
 * Mounts in /proc/self/mountinfo: mount point (field 5, octal escapes
 * decoded), device (field 3, `major:minor`), filesystem type (after the
 * ` - ` separator; ours is `fuse.memview`), mount source (the next field;
 * ours names the source image's identity and the serving process, see
 * memviewFsname) and the super options (the last field).
 */
export function mountTable(): MountEntry[] {
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
      return {
        id: Number(f[0]),
        parent: Number(f[1]),
        mountpoint: decode(f[4]),
        device: f[2],
        fstype: f[sep + 1] ?? '',
        source: decode(f[sep + 2] ?? ''),
        superOptions: f[sep + 3] ?? '',
      };
    });
}

const S_ISVTX = 0o1000;

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
 * The mount source (libfuse fsname) of a memview mount: `memview:DEV:INO:PID`
 * (`memview:PID` for a remote source): the source image's identity, so
 * another memview process can tell which file a mounted view is read from
 * (export refuses to overwrite it), and the process serving it (named when
 * another mount races for the directory).
 */
export function memviewFsname(source: FileId | undefined, pid = process.pid): string {
  return source ? `memview:${source.dev}:${source.ino}:${pid}` : `memview:${pid}`;
}

/** What a memview mount's fsname says (older memviews wrote `memview:DEV:INO` or `memview`). */
export function parseMemviewFsname(fsname: string): { source?: FileId; pid?: number } | undefined {
  const m = /^memview(?::(\d+):(\d+))?(?::(\d+))?$/.exec(fsname);
  if (!m) return undefined;
  return {
    ...(m[1] ? { source: { dev: BigInt(m[1]), ino: BigInt(m[2]) } } : {}),
    ...(m[3] ? { pid: Number(m[3]) } : {}),
  };
}

/** The source images behind a file on a memview mount (and behind those, when mounts are nested). */
export function memviewSourcesBehind(file: FileId): FileId[] {
  const mounts = mountTable().filter((m) => m.fstype === MEMVIEW_FSTYPE);
  const found: FileId[] = [];
  let dev = file.dev;
  for (let depth = 0; depth < 16; depth++) {
    const m = mounts.find((x) => deviceNumber(x.device) === dev);
    const behind = m && parseMemviewFsname(m.source)?.source;
    if (!behind) break;
    found.push(behind);
    dev = behind.dev;
  }
  return found;
}

/** The user who mounted a FUSE file system (its `user_id=` super option), or undefined. */
export function mountOwner(m: MountEntry): number | undefined {
  const id = /(?:^|,)user_id=(\d+)(?:,|$)/.exec(m.superOptions);
  return id ? Number(id[1]) : undefined;
}

/** A user for messages: `root`, `alice (uid 1000)`, or `uid 1234` when /etc/passwd does not name it. */
export function userName(uid: number): string {
  let name: string | undefined;
  try {
    name = fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .find((f) => f.length > 2 && Number(f[2]) === uid && f[2] !== '')?.[0];
  } catch {
    // no passwd file: the number alone
  }
  return name === undefined ? `uid ${uid}` : uid === 0 ? name : `${name} (uid ${uid})`;
}

/** Who serves a memview mount, as far as the mount table tells: `memview (pid 4242, user root)`. */
export function describeMemviewMount(m: MountEntry): string {
  const pid = parseMemviewFsname(m.source)?.pid;
  const owner = mountOwner(m);
  const who = [...(pid === undefined ? [] : [`pid ${pid}`]), ...(owner === undefined ? [] : [`user ${userName(owner)}`])];
  return who.length > 0 ? `memview (${who.join(', ')})` : 'memview';
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
  if (mounted?.fstype === MEMVIEW_FSTYPE) throw alreadyMounted(dir, mounted);
  // `/`, `/proc`, a disk's mount point: never to be unmounted for us (memview umount refuses them anyway).
  if (mounted)
    throw new InputError(
      `${dir}: is the root of a mounted ${mounted.fstype} file system (${mounted.source}); mount on an empty directory of its own, e.g. mkdir -p /tmp/memview-mnt`,
    );
  if (fs.readdirSync(real).length > 0) {
    // A memview mount that came up between the mount-table read and this listing: say that, not "not empty".
    const now = mountTable()
      .filter((m) => m.mountpoint === real)
      .pop();
    if (now?.fstype === MEMVIEW_FSTYPE) throw alreadyMounted(dir, now);
    throw new InputError(`${dir}: mountpoint is not empty; use an empty directory`);
  }
  return real;
}

/** The line for a directory another memview mount holds: who serves it and the fix. */
export function alreadyMounted(dir: string, by: MountEntry): InputError {
  if (by.fstype !== MEMVIEW_FSTYPE)
    return new InputError(`${dir}: a ${by.fstype} file system (${by.source}) was mounted here while memview was starting; mount on another directory`);
  return new InputError(
    `${dir}: already mounted by ${describeMemviewMount(by)}; unmount it with: memview umount ${shellQuote(dir)}, or mount on another directory`,
  );
}

/**
 * What fusermount refuses for a user other than root, checked first so the
 * user gets one line with the fix instead of fusermount's and libfuse's own:
 * `--allow-other` without `user_allow_other` in /etc/fuse.conf, and a
 * mountpoint the user cannot write (or a sticky directory it does not own).
 */
export function checkUserMount(dir: string, real: string, allowOther: boolean, uid = process.getuid?.() ?? 0, fuseConf = '/etc/fuse.conf'): void {
  if (uid === 0) return;
  if (allowOther) {
    let conf = '';
    try {
      conf = fs.readFileSync(fuseConf, 'utf8');
    } catch {
      // missing: the same as without the line
    }
    if (!conf.split('\n').some((l) => l.trim() === 'user_allow_other')) {
      throw new InputError(
        `${fuseConf}: --allow-other by a user other than root needs the line user_allow_other in this file, and it is not there; ` +
          `add it as root (echo user_allow_other >> ${fuseConf}), or mount without --allow-other`,
      );
    }
  }
  const me = userName(uid);
  try {
    fs.accessSync(real, fs.constants.W_OK);
  } catch {
    throw new InputError(
      `${dir}: you (user ${me}) cannot write to this directory, and a user other than root can mount only on a directory it may write; ` +
        `mount on a directory of your own (e.g. mkdir -p ~/memview-mnt), or as root`,
    );
  }
  const st = fs.statSync(real);
  if (st.mode & S_ISVTX && st.uid !== uid) {
    throw new InputError(
      `${dir}: a sticky directory (like /tmp) owned by ${userName(st.uid)}: a user other than root can mount only on one it owns; ` +
        `mount on a directory of your own inside it (e.g. mkdir -p ${shellQuote(path.join(dir, 'memview-mnt'))}), or as root`,
    );
  }
}

/**
 * After mounting: the mount this process's mount landed on, when that one is
 * on the same directory: another process mounted it after our checks (two
 * mounts racing; the kernel stacks them). The later one, on top, gives way.
 */
export function mountedUnder(real: string, pid = process.pid): MountEntry | undefined {
  const table = mountTable();
  const mine = table.filter((m) => m.mountpoint === real && m.fstype === MEMVIEW_FSTYPE && parseMemviewFsname(m.source)?.pid === pid).pop();
  const under = mine && table.find((m) => m.id === mine.parent);
  return under?.mountpoint === real ? under : undefined;
}

/** The memview mount on top at a directory, if any. */
export function memviewMountAt(real: string): MountEntry | undefined {
  const top = mountTable()
    .filter((m) => m.mountpoint === real)
    .pop();
  return top?.fstype === MEMVIEW_FSTYPE ? top : undefined;
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
