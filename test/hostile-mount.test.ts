/**
 * Hostile mountpoint names and the mount's read-only face, through the real
 * CLI in child processes on real FUSE mounts (issue 11, cases 1 and 6).
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, run, RunningMount, startMount, tempDir } from './helpers/cli';
import { Range, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2fffff },
];

/** Mount points as /proc/self/mountinfo lists them (octal escapes decoded). */
function mountedDirs(): string[] {
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => decode(l.split(' ')[4]));
}

describe('hostile mountpoint names: mount and unmount cleanly, nothing runs', () => {
  const tmp = tempDir('memview-hostile-mount-');
  const machine = writeMachine(path.join(tmp, 'machine'), RANGES);
  // A command substitution in a name touches this file if the name ever reaches a shell.
  const pwned = path.join(tmp, 'PWNED');
  process.env.MEMVIEW_PWNED = pwned;
  const mounts: RunningMount[] = [];
  afterAll(async () => {
    for (const m of mounts) await m.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const names = [
    'cmd-$(touch "$MEMVIEW_PWNED")',
    'backtick-`touch "$MEMVIEW_PWNED"`',
    'var-$HOME-${PATH}',
    `quotes-"double"-'single'`,
    'tab-\there',
    'newline-\nthere',
    '-dash-first',
    'all-$(touch "$MEMVIEW_PWNED")\t`x`\n"\'\\ end',
  ];

  for (const [i, name] of names.entries()) {
    for (const how of ['SIGTERM', 'memview umount'] as const) {
      it(`${JSON.stringify(name)}: mounted, served, then unmounted by ${how}`, async () => {
        const dir = path.join(tmp, `${i}-${how === 'SIGTERM' ? 'sig' : 'umount'}`, name);
        const m = await startMount(machine.raw, dir, ['--map', machine.iomem]);
        mounts.push(m);
        expect(mountedDirs()).toContain(dir);
        expect((await run('ls', ['--', dir])).stdout).toContain('padded.raw');
        const exited = new Promise<number | null>((resolve) => (m.child.exitCode !== null ? resolve(m.child.exitCode) : m.child.on('exit', resolve)));
        // The banner names the directory on one line (control characters escaped) ...
        const banner = m.output().split('\n')[0];
        expect(banner).toContain(` mounted on ${dir.replace(/[\x00-\x1f]/g, (c) => JSON.stringify(c).slice(1, -1))} (`);
        if (how === 'SIGTERM') m.child.kill('SIGTERM');
        else {
          // ... and its unmount command, pasted into bash, unmounts exactly this directory.
          const hint = / to unmount: Ctrl-C, or memview (umount .*)$/.exec(banner)?.[1];
          expect(hint, banner).toBeDefined();
          const r = await run('bash', ['-c', `"$0" "$1" ${hint}`, process.execPath, BIN]);
          expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
        }
        expect(await exited).toBe(0);
        expect(m.output()).not.toMatch(/unmount failed/);
        expect(mountedDirs()).not.toContain(dir);
        expect(fs.readdirSync(dir)).toEqual([]); // an empty directory again, not a stale mount
        expect(fs.existsSync(pwned)).toBe(false);
      });
    }
  }
});

describe('the mount says read-only everywhere (-o ro)', () => {
  const tmp = tempDir('memview-ro-');
  let m: RunningMount | undefined;
  afterAll(async () => {
    await m?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('/proc/mounts lists ro, statvfs has ST_RDONLY, access(W_OK) is false, writes get EROFS', async () => {
    const machine = writeMachine(path.join(tmp, 'machine'), RANGES);
    const dir = path.join(tmp, 'mnt');
    m = await startMount(machine.raw, dir, ['--map', machine.iomem]);
    const line = fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[1] === dir);
    expect(line?.split(' ')[3].split(',')).toContain('ro');
    const script = `
import errno, os, sys
d = sys.argv[1]; f = os.path.join(d, 'padded.raw')
print(bool(os.statvfs(d).f_flag & os.ST_RDONLY), os.access(f, os.W_OK), os.access(d, os.W_OK), os.access(f, os.R_OK))
try:
    os.open(f, os.O_WRONLY); print('opened')
except OSError as e:
    print(errno.errorcode[e.errno])
`;
    const r = await run('python3', ['-c', script, dir]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['True False False True', 'EROFS']);
  });
});

describe('the mount process never dies mounted when its own output goes away', () => {
  const tmp = tempDir('memview-closed-output-');
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const d of mountedDirs().filter((x) => x.startsWith(tmp))) await run('fusermount', ['-uz', d]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** `memview mount` with stdout or stderr closed from the start (as `| true` or `2> >(true)` do); resolves once mounted. */
  async function mountWithClosed(stream: 'stdout' | 'stderr', name: string) {
    const machine = writeMachine(path.join(tmp, name), RANGES);
    const dir = path.join(tmp, `${name}-mnt`);
    fs.mkdirSync(dir);
    const child = spawn(process.execPath, [BIN, 'mount', machine.raw, dir, '--map', machine.iomem], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    child[stream]!.destroy();
    const other = stream === 'stdout' ? child.stderr! : child.stdout!;
    let said = '';
    other.on('data', (d) => (said += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const t0 = Date.now();
    while (!mountedDirs().includes(dir)) {
      if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`not mounted: ${said}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return { machine, dir, child, exited, said: () => said };
  }

  it('stdout closed (memview mount … | true): keeps serving; SIGTERM unmounts and exits 0', async () => {
    const m = await mountWithClosed('stdout', 'out');
    await new Promise((r) => setTimeout(r, 1500)); // the banner has hit the closed pipe by now
    expect(m.child.exitCode, m.said()).toBeNull();
    expect(mountedDirs()).toContain(m.dir);
    const cat = await run('cmp', [path.join(m.dir, 'raw.bin'), m.machine.raw]);
    expect(cat).toMatchObject({ code: 0, stderr: '' });
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
    expect(mountedDirs()).not.toContain(m.dir);
    expect(fs.readdirSync(m.dir)).toEqual([]);
  });

  it('stderr closed, then a read error (the source truncated): the read gets EIO, the mount stays up; SIGTERM unmounts', async () => {
    const m = await mountWithClosed('stderr', 'err');
    fs.truncateSync(m.machine.raw, 0x100000);
    const bad = await run('dd', [`if=${path.join(m.dir, 'raw.bin')}`, 'of=/dev/null', 'bs=4096', `skip=${0x200000 / 4096}`, 'count=1']);
    expect(bad.stderr).toMatch(/Input\/output error/);
    await new Promise((r) => setTimeout(r, 500));
    expect(m.child.exitCode).toBeNull();
    const ok = await run('dd', [`if=${path.join(m.dir, 'raw.bin')}`, 'of=/dev/null', 'bs=4096', 'count=16']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await run('ls', [m.dir])).stdout).toContain('padded.raw');
    m.child.kill('SIGTERM');
    expect(await m.exited).toBe(0);
    expect(mountedDirs()).not.toContain(m.dir);
  });
});
