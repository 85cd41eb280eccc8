/**
 * Mount messages that say what to do (issue 11, case 11), on real FUSE mounts
 * and real processes: two mounts racing for one directory (both backends),
 * `memview umount` of another user's mount (with and without --force), and a
 * user other than root mounting: with the default backend, with --allow-other
 * when /etc/fuse.conf lacks user_allow_other, on a directory it cannot write.
 * Each refusal is one line naming the directory (or /etc/fuse.conf), exit 2,
 * no libfuse or fusermount lines, and the mount that was there keeps serving.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, run, RunningMount, RunResult, sha256sum, startMount, tempDir } from './helpers/cli';
import { DAEMON, FuseBox, NOBODY, openFuseBox } from './helpers/fuse-box';
import { fileSha256, Range, writeMachine } from './helpers/machine';

const RANGES: Range[] = [
  { start: 0x1000, end: 0x9fbff },
  { start: 0x100000, end: 0x2fffff },
];
const isRoot = process.getuid?.() === 0;

const tmp = tempDir('memview-users-');
fs.chmodSync(tmp, 0o755); // other users read the images and reach the mountpoints
const machine = writeMachine(path.join(tmp, 'machine'), RANGES);
for (const f of [machine.raw, machine.iomem]) fs.chmodSync(f, 0o644);
const rawSha = fileSha256(machine.raw);
const mounts: RunningMount[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const m of mounts) await m.stop();
  for (const c of children.filter((c) => c.exitCode === null && c.signalCode === null)) {
    const gone = new Promise((resolve) => c.on('exit', resolve));
    c.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    c.kill('SIGKILL');
  }
  // A failing run (today's main stacks two mounts) may leave mounts under tmp: never leave them behind.
  for (let i = 0; i < 4; i++) {
    const left = [
      ...new Set(
        fs
          .readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4] ?? ''),
      ),
    ].filter((d) => d.startsWith(tmp + '/'));
    for (const d of left) await run('fusermount', ['-uz', '--', d]);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

let dirs = 0;
/** A fresh empty mountpoint under tmp, owned by `uid`, mode 0755. */
function mountpoint(uid = 0): string {
  const dir = path.join(tmp, `mnt-${dirs++}`);
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chownSync(dir, uid, uid);
  return dir;
}

/** memview mount lines as /proc/self/mountinfo lists them at `dir` (this namespace). */
function memviewMountsAt(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4] === dir && l.includes(' - fuse.memview '));
}

interface Started {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function started(child: ChildProcess): Started {
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

/** Resolves with the exit code, or null if still running after `ms`. */
async function exitWithin(s: Started, ms: number): Promise<number | null> {
  return Promise.race([s.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), ms))]);
}

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const already = (dir: string, pid: number, user: string) =>
  `memview: ${dir}: already mounted by memview (pid ${pid}, user ${user}); unmount it with: memview umount ${dir}, or mount on another directory\n`;

/** exit 2, exactly `line` on stderr, nothing on stdout. */
function refused(r: RunResult | { code: number | null; stdout: string; stderr: string }, line: string): void {
  expect(r.stderr).toBe(line);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
}

interface Race {
  user: string;
  mountpoint: () => string;
  spawnMount: (argv: string[]) => ChildProcess;
  mountLines: (dir: string) => Promise<string[]>;
  sha: (file: string) => Promise<string>;
  backend: string;
}

/** Two `memview mount` of one directory started together, 3 times: one serves, the other exits 2 with one line naming it. */
async function raceRounds(r: Race): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const dir = r.mountpoint();
    const both = [0, 1].map(() => started(r.spawnMount([BIN, 'mount', machine.raw, dir, '--map', machine.iomem, '--backend', r.backend])));
    await until(
      'one mount to serve and the other to exit',
      () => both.some((s) => s.child.exitCode !== null) && both.some((s) => s.out().includes(' mounted on ')),
    );
    const loser = both.find((s) => s.child.exitCode !== null)!;
    const winner = both.find((s) => s !== loser)!;
    refused({ code: loser.child.exitCode, stdout: loser.out(), stderr: loser.err() }, already(dir, winner.child.pid!, r.user));
    expect(winner.err()).toBe('');
    const lines = await r.mountLines(dir);
    expect(lines.filter((l) => l.includes(' - fuse.memview '))).toHaveLength(1);
    expect(lines[0]).toContain(`:${winner.child.pid} `);
    expect(await r.sha(path.join(dir, 'raw.bin'))).toBe(rawSha);
    winner.child.kill('SIGTERM');
    expect(await winner.exited).toBe(0);
    expect(await r.mountLines(dir)).toHaveLength(0);
  }
}

describe.runIf(isRoot)('two mounts racing for one directory', () => {
  // A large sparse padded image: `--vmcoreinfo all` reads all of it while the session opens, the time the race needs.
  const slow = path.join(tmp, 'slow.padded');
  const slowMap = path.join(tmp, 'slow.iomem');
  beforeAll(() => {
    fs.writeFileSync(slow, '');
    fs.truncateSync(slow, 1024 ** 3);
    fs.writeFileSync(slowMap, '00000000-3fffffff : System RAM\n');
  });

  for (const backend of ['native', 'fuse-native']) {
    it(`${backend}: the one that mounts later (held past its first check) says who holds the directory; the first keeps serving`, async () => {
      const dir = mountpoint();
      const loser = started(
        spawn(process.execPath, [BIN, 'mount', slow, dir, '--format', 'padded', '--map', slowMap, '--vmcoreinfo', 'all', '--backend', backend], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      // The image is opened after the mountpoint was checked: hold the process there.
      const opened = () => {
        try {
          return fs.readdirSync(`/proc/${loser.child.pid}/fd`).some((fd) => {
            try {
              return fs.readlinkSync(`/proc/${loser.child.pid}/fd/${fd}`) === slow;
            } catch {
              return false;
            }
          });
        } catch {
          return false;
        }
      };
      await until('the later mount to open its image', opened);
      loser.child.kill('SIGSTOP');
      expect(loser.out()).toBe('');
      const winner = await startMount(machine.raw, dir, ['--map', machine.iomem, '--backend', backend]);
      mounts.push(winner);
      loser.child.kill('SIGCONT');
      const code = await exitWithin(loser, 60_000);
      refused({ code, stdout: loser.out(), stderr: loser.err() }, already(dir, winner.child.pid!, 'root'));
      expect(memviewMountsAt(dir)).toHaveLength(1);
      expect(memviewMountsAt(dir)[0]).toContain(`:${winner.child.pid} `);
      expect(await sha256sum(path.join(dir, 'raw.bin'))).toBe(rawSha);
      expect(await winner.stop()).toBe(0);
    });

    it(`${backend}: started at the same moment (3 rounds): one serves, the other gives way in one line`, async () => {
      await raceRounds({
        user: 'root',
        mountpoint: () => mountpoint(),
        spawnMount: (argv) => spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] }),
        mountLines: async (dir) => memviewMountsAt(dir),
        sha: sha256sum,
        backend,
      });
    });
  }
});

describe.runIf(isRoot)("memview umount of another user's mount", () => {
  it("as nobody on root's mount, with and without --force: who owns it and who may unmount; the mount keeps serving", async () => {
    const dir = mountpoint();
    const m = await startMount(machine.raw, dir, ['--map', machine.iomem]);
    mounts.push(m);
    const line = `memview: ${dir}: mounted by memview (pid ${m.child.pid}, user root): only root can unmount it (you are nobody (uid ${NOBODY}))\n`;
    for (const force of [[], ['--force']]) {
      const r = await run('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BIN, 'umount', ...force, dir]);
      refused(r, line);
      expect(memviewMountsAt(dir)).toHaveLength(1);
    }
    expect(await sha256sum(path.join(dir, 'raw.bin'))).toBe(rawSha);
    expect(await m.stop()).toBe(0);
  });
});

describe.runIf(isRoot)('a user other than root mounting (a namespace where it may open /dev/fuse)', () => {
  let box: FuseBox;
  beforeAll(async () => {
    box = await openFuseBox(tmp);
  });
  afterAll(async () => {
    await box?.close();
  });

  /** `memview ARGS` as `uid` inside the box; MEMVIEW_BACKEND unset: the default backend. */
  const defaultEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'MEMVIEW_BACKEND'));

  it("mounts with the default backend (native, through fuse 2's fusermount) and serves; another user's umount (also --force) is refused in one line", async () => {
    const dir = mountpoint(NOBODY);
    const m = started(box.spawn(NOBODY, [process.execPath, BIN, 'mount', machine.raw, dir, '--map', machine.iomem], defaultEnv()));
    await until('the mount', () => m.out().includes('served by: ') || m.child.exitCode !== null);
    expect(m.err()).toBe('');
    expect(m.out()).toMatch(/served by: native \(libfuse 3\./);
    expect((await box.mountinfo(dir))[0]).toContain(`:${m.child.pid} ro,user_id=${NOBODY},`);
    const sha = await box.run(NOBODY, ['sha256sum', path.join(dir, 'raw.bin')]);
    expect(sha.stdout.split(' ')[0]).toBe(rawSha);

    const line = `memview: ${dir}: mounted by memview (pid ${m.child.pid}, user nobody (uid ${NOBODY})): only user nobody (uid ${NOBODY}) or root can unmount it (you are daemon (uid ${DAEMON}))\n`;
    for (const force of [[], ['--force']]) refused(await box.run(DAEMON, [process.execPath, BIN, 'umount', ...force, dir]), line);
    expect(await box.mountinfo(dir)).toHaveLength(1);

    const own = await box.run(NOBODY, [process.execPath, BIN, 'umount', dir]);
    expect(own.stderr).toBe('');
    expect(own.code).toBe(0);
    expect(await exitWithin(m, 10_000)).toBe(0);
    expect(await box.mountinfo(dir)).toEqual([]);
  });

  for (const backend of ['native', 'fuse-native']) {
    it(`${backend}: two mounts by nobody started at the same moment (3 rounds): one serves, the other gives way in one line (no fusermount line)`, async () => {
      await raceRounds({
        user: `nobody (uid ${NOBODY})`,
        mountpoint: () => mountpoint(NOBODY),
        spawnMount: (argv) => box.spawn(NOBODY, [process.execPath, ...argv]),
        mountLines: (dir) => box.mountinfo(dir),
        sha: async (file) => (await box.run(NOBODY, ['sha256sum', file])).stdout.split(' ')[0],
        backend,
      });
    });
  }

  const conf = fs.existsSync('/etc/fuse.conf') ? fs.readFileSync('/etc/fuse.conf', 'utf8') : '';
  const allowed = conf.split('\n').some((l) => l.trim() === 'user_allow_other');
  it.skipIf(allowed)('--allow-other without user_allow_other in /etc/fuse.conf: says so and what to add (skipped where the line is there)', async () => {
    for (const backend of ['native', 'fuse-native']) {
      const dir = mountpoint(NOBODY);
      const r = await box.run(NOBODY, [process.execPath, BIN, 'mount', machine.raw, dir, '--map', machine.iomem, '--allow-other', '--backend', backend]);
      refused(
        r,
        'memview: /etc/fuse.conf: --allow-other by a user other than root needs the line user_allow_other in this file, and it is not there; ' +
          'add it as root (echo user_allow_other >> /etc/fuse.conf), or mount without --allow-other\n',
      );
      expect(await box.mountinfo(dir)).toEqual([]);
    }
  });

  it('a mountpoint the user cannot write, and a sticky directory of another user: one line each', async () => {
    for (const backend of ['native', 'fuse-native']) {
      const rootOwned = mountpoint(0);
      refused(
        await box.run(NOBODY, [process.execPath, BIN, 'mount', machine.raw, rootOwned, '--map', machine.iomem, '--backend', backend]),
        `memview: ${rootOwned}: you (user nobody (uid ${NOBODY})) cannot write to this directory, and a user other than root can mount only on a directory it may write; ` +
          'mount on a directory of your own (e.g. mkdir -p ~/memview-mnt), or as root\n',
      );
      const sticky = mountpoint(0);
      fs.chmodSync(sticky, 0o1777);
      refused(
        await box.run(NOBODY, [process.execPath, BIN, 'mount', machine.raw, sticky, '--map', machine.iomem, '--backend', backend]),
        `memview: ${sticky}: a sticky directory (like /tmp) owned by root: a user other than root can mount only on one it owns; ` +
          `mount on a directory of your own inside it (e.g. mkdir -p ${sticky}/memview-mnt), or as root\n`,
      );
      expect(await box.mountinfo(rootOwned)).toEqual([]);
      expect(await box.mountinfo(sticky)).toEqual([]);
    }
  });
});
