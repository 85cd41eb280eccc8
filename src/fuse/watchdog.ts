import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeControl } from '../errors';

/**
 * A mount outlives a process killed by SIGKILL (or the OOM killer): the kernel
 * leaves it stale (ENOTCONN) until someone unmounts it. The watchdog is a small
 * process of its own session (a Ctrl-C or `kill -9 -PGID` of the mount's group
 * does not reach it) that waits for its stdin pipe to close, which happens when
 * the mount process ends for any reason. A mount that ended normally (or never
 * came up) said so on the pipe first; otherwise, if the mountpoint is a dead
 * FUSE connection, the watchdog unmounts it with an argv fusermount call.
 * libfuse's own auto_unmount needs fusermount3 (Debian's fuse3, which removes
 * fuse); this works the same for both backends.
 */
export interface Watchdog {
  /** The mount was unmounted: the watchdog may exit. */
  release(): void;
}

/** The compiled watchdog: under vitest this module is the TypeScript source, which node cannot run. */
const SCRIPT = __filename.endsWith('.ts') ? path.join(__dirname, '..', '..', 'dist', 'src', 'fuse', 'watchdog.js') : __filename;

/** A byte on the pipe before it closes: the mount is gone (or never came): stand down. */
const STAND_DOWN = 'x';

export function startWatchdog(mountpoint: string): Watchdog {
  const child = spawn(process.execPath, [SCRIPT, mountpoint], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
  child.on('error', () => undefined); // no watchdog: a killed mount stays stale, as without one
  child.stdin?.on('error', () => undefined);
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return { release: () => child.stdin?.end(STAND_DOWN) };
}

/** Whether `dir` is a FUSE mount whose server is gone. */
function isDeadMount(dir: string): boolean {
  try {
    fs.statSync(dir);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOTCONN';
  }
}

function watch(mountpoint: string): void {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);
  process.stdin.on('error', () => undefined);
  let released = false;
  process.stdin.on('data', () => (released = true));
  process.stdin.once('end', () => {
    // No stand-down byte: the mount process died. Act only on a dead FUSE connection (never another live mount).
    if (released || !isDeadMount(mountpoint)) process.exit(0);
    execFile('fusermount', ['-uz', '--', mountpoint], (err) => {
      const what = err ? `could not unmount it (${String(err.message).split('\n')[0]})` : 'unmounted it';
      try {
        process.stderr.write(`memview: ${escapeControl(mountpoint)}: the mount process was killed; its watchdog ${what}\n`);
      } catch {
        // stderr gone: nothing to tell
      }
      process.exit(err ? 1 : 0);
    });
  });
}

if (require.main === module) watch(process.argv[2]);
