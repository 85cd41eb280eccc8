import { shellQuote } from '../errors';
import { mountFiles, parseBackend } from '../fuse/mount';
import {
  alreadyMounted,
  checkFuseDevice,
  checkMountpoint,
  checkUserMount,
  fileId,
  memviewFsname,
  memviewMountAt,
  mountedPaths,
  mountedUnder,
} from '../fuse/mountpoint';
import { isRemote } from '../io/remote-url';
import { openSession } from '../session';
import { keepServingWhenOutputCloses } from './closed-output';
import { SourceFlags, sessionOptions } from './options';
import { oneLine, printMounted } from './print';

export interface MountFlags extends SourceFlags {
  allowOther?: boolean;
  debug?: boolean;
  directIo?: boolean;
  backend?: string;
}

/** Resolves once the mount is gone: on SIGINT/SIGTERM/SIGHUP or an internal error (unmounting it), or when unmounted from outside. */
function untilUnmounted(mountpoint: string, unmount: () => Promise<void>, signals: SignalLatch): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (exitCode: number) => {
      if (stopping) return;
      stopping = true;
      if (!mountedPaths().has(mountpoint)) return resolve(exitCode); // already unmounted from outside
      unmount().then(
        () => resolve(exitCode),
        (err: Error) => {
          process.stderr.write(`memview: unmount failed: ${oneLine(err.message)}\n`);
          resolve(1);
        },
      );
    };
    signals.onSignal(stop);
    // `memview umount DIR` (fusermount -u) from outside: notice it and end.
    setInterval(() => {
      if (!stopping && !mountedPaths().has(mountpoint)) {
        stopping = true;
        resolve(0);
      }
    }, 500);
  });
}

/**
 * Catches signals (exit 0) and internal errors (exit 1) from the start: one
 * that lands while mounting is handed to the handler set later. Every way out
 * unmounts first: a bug that throws must not leave a stale mount.
 */
class SignalLatch {
  private handler: ((exitCode: number) => void) | null = null;
  private caught: number | undefined;

  constructor() {
    const latch = (exitCode: number) => {
      if (this.handler) this.handler(exitCode);
      else this.caught ??= exitCode;
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => latch(0));
    const crash = (e: unknown) => {
      process.stderr.write(`memview: internal error: ${String((e as Error)?.message ?? e).replace(/\s*\n\s*/g, ' ')}; unmounting\n`);
      latch(1);
    };
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
  }

  onSignal(handler: (exitCode: number) => void): void {
    this.handler = handler;
    if (this.caught !== undefined) handler(this.caught);
  }
}

/** `memview mount`: serve every view until Ctrl-C or `memview umount`. */
export async function mountCommand(src: string, dir: string, flags: MountFlags): Promise<void> {
  const backend = flags.backend === undefined ? undefined : parseBackend(flags.backend);
  const mountpoint = checkMountpoint(dir);
  checkUserMount(dir, mountpoint, !!flags.allowOther);
  checkFuseDevice();
  const session = await openSession(src, sessionOptions(flags));
  const signals = new SignalLatch();
  keepServingWhenOutputCloses();
  // Opening the session can take minutes (a scan, a remote source): another mount may have taken the directory meanwhile.
  checkMountpoint(dir);
  const mounted = await mountFiles(mountpoint, session.views, {
    backend,
    tuning: flags.directIo ? { directIo: true } : undefined,
    allowOther: flags.allowOther,
    debug: flags.debug,
    mtime: session.source.mtime,
    fsname: memviewFsname(isRemote(src) ? undefined : fileId(src)),
    onReadError: (name, err) => process.stderr.write(`memview: read error in ${name}: ${oneLine(err.message)}\n`),
  }).catch((err: Error) => {
    // fusermount refuses a directory another mount took in the last moment: say whose it is.
    const winner = memviewMountAt(mountpoint);
    throw winner ? alreadyMounted(dir, winner) : err;
  });
  // Two mounts that passed every check at once: the kernel stacks them; the later one (on top) unmounts and gives way.
  const under = mountedUnder(mountpoint);
  if (under) {
    await mounted.unmount().catch(() => {});
    session.close();
    throw alreadyMounted(dir, under);
  }
  printMounted(session, session.source.path, mountpoint, `memview umount ${shellQuote(dir)}`, mounted.backend);
  const code = await untilUnmounted(mountpoint, () => mounted.unmount(), signals);
  session.close();
  // The FUSE thread's handles keep the event loop alive: leave explicitly.
  process.exit(code);
}
