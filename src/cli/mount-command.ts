import { shellQuote } from '../errors';
import { mountFiles, parseBackend } from '../fuse/mount';
import { checkFuseDevice, checkMountpoint, fileId, memviewFsname, mountedPaths } from '../fuse/mountpoint';
import { openSession } from '../session';
import { SourceFlags, sessionOptions } from './options';
import { printMounted } from './print';

export interface MountFlags extends SourceFlags {
  allowOther?: boolean;
  debug?: boolean;
  directIo?: boolean;
  backend?: string;
}

/** Resolves once the mount is gone: on SIGINT/SIGTERM/SIGHUP (unmounting it), or when unmounted from outside. */
function untilUnmounted(mountpoint: string, unmount: () => Promise<void>, signals: SignalLatch): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      if (!mountedPaths().has(mountpoint)) return resolve(0); // already unmounted from outside
      unmount().then(
        () => resolve(0),
        (err: Error) => {
          process.stderr.write(`memview: unmount failed: ${err.message}\n`);
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

/** Catches signals from the start: one that lands while mounting is handed to the handler set later. */
class SignalLatch {
  private handler: (() => void) | null = null;
  private caught = false;

  constructor() {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        if (this.handler) this.handler();
        else this.caught = true;
      });
    }
  }

  onSignal(handler: () => void): void {
    this.handler = handler;
    if (this.caught) handler();
  }
}

/** `memview mount`: serve every view until Ctrl-C or `memview umount`. */
export async function mountCommand(src: string, dir: string, flags: MountFlags): Promise<void> {
  const backend = flags.backend === undefined ? undefined : parseBackend(flags.backend);
  const mountpoint = checkMountpoint(dir);
  checkFuseDevice();
  const session = await openSession(src, sessionOptions(flags));
  const signals = new SignalLatch();
  const mounted = await mountFiles(mountpoint, session.views, {
    backend,
    tuning: flags.directIo ? { directIo: true } : undefined,
    allowOther: flags.allowOther,
    debug: flags.debug,
    mtime: session.source.mtime,
    fsname: memviewFsname(fileId(src)),
    onReadError: (name, err) => process.stderr.write(`memview: read error in ${name}: ${err.message}\n`),
  });
  printMounted(session, src, mountpoint, `memview umount ${shellQuote(dir)}`, mounted.backend);
  const code = await untilUnmounted(mountpoint, () => mounted.unmount(), signals);
  session.close();
  // The FUSE thread's handles keep the event loop alive: leave explicitly.
  process.exit(code);
}
