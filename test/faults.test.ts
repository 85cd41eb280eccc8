/**
 * Faults while mounted, through the real CLI in child processes: the source
 * truncated or unlinked under the mount, signals, a stale mount left by a
 * killed process, and write-type system calls the other tests do not try.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memview, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { expectedRaw, fileSha256, materialise, Range, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x4fffff },
];
const RAW_SIZE = 0x9ec00 + 0x400000;

function isMounted(dir: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === dir);
}

/** The pid of the watchdog process of the mount on `dir` (src/fuse/watchdog.ts), found by its command line. */
function watchdogOf(dir: string): number {
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    } catch {
      continue;
    }
    if (argv[1]?.endsWith('/watchdog.js') && argv[2] === dir) return Number(pid);
  }
  throw new Error(`no watchdog for ${dir}`);
}

/** Polls until `cond` holds; resolves with the milliseconds it took, or rejects after `ms`. */
async function waitFor(cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - t0;
}

describe('faults while mounted', () => {
  const tmp = tempDir('memview-faults-');
  const mounts: RunningMount[] = [];
  const mount = async (src: string, map: string, dir: string) => {
    const m = await startMount(src, dir, ['--map', map]);
    mounts.push(m);
    return m;
  };
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('source truncated while mounted: EIO beyond the new end, the mount stays up', async () => {
    const m = writeMachine(path.join(tmp, 'trunc'), RANGES, 0x11);
    const dir = path.join(tmp, 'trunc-mnt');
    const running = await mount(m.raw, m.iomem, dir);
    fs.truncateSync(m.raw, 0x200000); // raw.bin offsets from 2 MiB on are gone
    const raw = path.join(dir, 'raw.bin');
    const beyond = await run('dd', [`if=${raw}`, 'of=/dev/null', 'bs=4096', `skip=${0x300000 / 4096}`, 'count=1']);
    expect(beyond.code).not.toBe(0);
    expect(beyond.stderr).toMatch(/Input\/output error/);
    // Still serving: bytes before the new end equal the reference, and the listing works.
    const copy = path.join(tmp, 'trunc-head.bin');
    expect((await run('dd', [`if=${raw}`, `of=${copy}`, 'bs=4096', 'count=16'])).code).toBe(0);
    expect(fs.readFileSync(copy)).toEqual(materialise(expectedRaw(RANGES, m.salt)).subarray(0, 16 * 4096));
    expect((await run('ls', [dir])).stdout).toContain('padded.raw');
    expect(running.output()).toMatch(/read error in raw\.bin/);
    expect(running.child.exitCode).toBeNull();
  });

  it('source unlinked while mounted: still served from the open file', async () => {
    const m = writeMachine(path.join(tmp, 'unlink'), RANGES, 0x22);
    const dir = path.join(tmp, 'unlink-mnt');
    await mount(m.raw, m.iomem, dir);
    const reference = path.join(tmp, 'unlink-reference.bin');
    fs.copyFileSync(m.raw, reference);
    fs.unlinkSync(m.raw);
    const r = await run('cmp', [path.join(dir, 'raw.bin'), reference]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(fs.statSync(path.join(dir, 'raw.bin')).size).toBe(RAW_SIZE);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: unmounted within 2 s, the process exits 0, no stale mount`, async () => {
      const m = writeMachine(path.join(tmp, signal), RANGES);
      const dir = path.join(tmp, `${signal}-mnt`);
      const running = await mount(m.raw, m.iomem, dir);
      const exited = new Promise<number | null>((resolve) => running.child.on('exit', (code) => resolve(code)));
      running.child.kill(signal);
      const ms = await waitFor(() => !isMounted(dir), 2000);
      expect(ms).toBeLessThan(2000);
      expect(await exited).toBe(0);
      expect(fs.readdirSync(dir)).toEqual([]); // a plain empty directory again, not ENOTCONN
    });
  }

  it('SIGKILL: the watchdog unmounts within 5 s and says so; the directory is plain again', async () => {
    const m = writeMachine(path.join(tmp, 'kill9'), RANGES);
    const dir = path.join(tmp, 'kill9-mnt');
    const running = await mount(m.raw, m.iomem, dir);
    const watchdog = watchdogOf(dir);
    running.child.kill('SIGKILL');
    await waitFor(() => !isMounted(dir), 5000);
    expect(fs.readdirSync(dir)).toEqual([]); // not ENOTCONN
    await waitFor(() => !fs.existsSync(`/proc/${watchdog}`), 5000);
    expect(running.output()).toContain(`memview: ${dir}: the mount process was killed; its watchdog unmounted it\n`);
  });

  it('a normal unmount leaves the watchdog nothing to do: it exits, and a new mount on the directory stays', async () => {
    const m = writeMachine(path.join(tmp, 'calm'), RANGES);
    const dir = path.join(tmp, 'calm-mnt');
    const first = await mount(m.raw, m.iomem, dir);
    const watchdog = watchdogOf(dir);
    expect((await memview('umount', dir)).code).toBe(0);
    await waitFor(() => !fs.existsSync(`/proc/${watchdog}`), 5000);
    await waitFor(() => first.child.exitCode !== null, 5000);
    const second = await mount(m.raw, m.iomem, dir);
    await new Promise((r) => setTimeout(r, 500));
    expect(isMounted(dir)).toBe(true);
    expect(fs.readdirSync(second.dir)).toContain('padded.raw');
    expect(first.output()).not.toContain('watchdog');
  });

  it('a stale mount from a killed process: mount says how to clear it, umount --force clears it', async () => {
    const m = writeMachine(path.join(tmp, 'stale'), RANGES);
    const dir = path.join(tmp, 'stale-mnt');
    const running = await mount(m.raw, m.iomem, dir);
    // The watchdog killed first (as `kill -9` of every process would): nobody is left to unmount.
    process.kill(watchdogOf(dir), 'SIGKILL');
    running.child.kill('SIGKILL');
    await waitFor(() => running.child.exitCode !== null || running.child.signalCode !== null, 5000);
    let code = '';
    try {
      fs.statSync(dir);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code ?? '';
    }
    expect(code).toBe('ENOTCONN');
    const again = await memview('mount', m.raw, dir, '--map', m.iomem);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe(`memview: ${dir}: stale mount left by a killed process; clear it with: memview umount --force ${dir}\n`);
    expect((await memview('umount', '--force', dir)).code).toBe(0);
    expect(isMounted(dir)).toBe(false);
    const fresh = await mount(m.raw, m.iomem, dir);
    expect(fs.readdirSync(fresh.dir)).toContain('padded.raw');
  });

  it('refuses write-type system calls the shell tools do not reach (O_RDWR, link, symlink, chown, utime, xattr, mknod, rmdir)', async () => {
    const m = writeMachine(path.join(tmp, 'ro'), RANGES);
    const sha = fileSha256(m.raw);
    const dir = path.join(tmp, 'ro-mnt');
    await mount(m.raw, m.iomem, dir);
    const script = `
import os, sys
d = sys.argv[1]; f = os.path.join(d, 'padded.raw')
tries = {
  'open O_RDWR': lambda: os.open(f, os.O_RDWR),
  'open O_WRONLY|O_APPEND': lambda: os.open(f, os.O_WRONLY | os.O_APPEND),
  'open O_RDONLY|O_TRUNC': lambda: os.open(f, os.O_RDONLY | os.O_TRUNC),
  'open O_CREAT': lambda: os.open(os.path.join(d, 'new'), os.O_CREAT | os.O_WRONLY, 0o644),
  'link': lambda: os.link(f, os.path.join(d, 'hard')),
  'symlink': lambda: os.symlink('padded.raw', os.path.join(d, 'soft')),
  'chown': lambda: os.chown(f, 1, 1),
  'utime': lambda: os.utime(f, (0, 0)),
  'setxattr': lambda: os.setxattr(f, 'user.x', b'1'),
  'removexattr': lambda: os.removexattr(f, 'user.x'),
  'mknod': lambda: os.mknod(os.path.join(d, 'fifo'), 0o600 | 0o010000),
  'rmdir': lambda: os.rmdir(d),
  'truncate': lambda: os.truncate(f, 0),
}
for name, fn in tries.items():
  try:
    fn(); print(name, 'ALLOWED')
  except OSError as e:
    print(name, e.errno)
`;
    const r = await run('python3', ['-c', script, dir]);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(13);
    // EROFS (30) from memview for each; rmdir of the mount root is refused by the kernel itself (EBUSY 16).
    for (const line of lines) expect(line, line).toMatch(line.startsWith('rmdir') ? / 16$/ : / 30$/);
    const names = fs.readdirSync(dir);
    for (const made of ['new', 'hard', 'soft', 'fifo']) expect(names).not.toContain(made);
    expect(fs.statSync(path.join(dir, 'padded.raw')).size).toBe(0x500000);
    expect(fileSha256(m.raw)).toBe(sha);
  });
});
