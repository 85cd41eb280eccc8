/**
 * A private mount namespace in which users other than root can mount FUSE:
 * /dev/fuse is 0600 on this machine (a container), so a device node of our
 * own, mode 0666, is bound over it where only this namespace sees it. A
 * holder process keeps the namespace alive; commands enter it with nsenter
 * and become another user with setpriv (argv only, no shell). Mounts made
 * inside vanish with the namespace; nothing outside changes.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run, RunResult } from './cli';

export const NOBODY = 65534;
/** Debian's `daemon` user: a second user other than root, who owns nothing here. */
export const DAEMON = 1;

export interface FuseBox {
  /** argv that runs `argv` inside the namespace as `uid` (its own group, no supplementary groups). */
  command(uid: number, argv: string[]): [string, string[]];
  run(uid: number, argv: string[]): Promise<RunResult>;
  /** Starts `argv` inside the namespace as `uid` in the background. */
  spawn(uid: number, argv: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** The namespace's /proc/self/mountinfo lines for `dir` (bottom first). */
  mountinfo(dir: string): Promise<string[]>;
  close(): Promise<void>;
}

const HOLDER = `
const { execFileSync } = require('node:child_process');
const dir = process.argv[1];
execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'memview-test-dev', dir]);
execFileSync('mknod', ['-m', '666', dir + '/fuse', 'c', '10', '229']);
execFileSync('mount', ['--bind', dir + '/fuse', '/dev/fuse']);
process.stdout.write('ready\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

/** Opens a box under `tmp` (a directory the test owns). Needs root. */
export async function openFuseBox(tmp: string): Promise<FuseBox> {
  const devDir = path.join(tmp, 'box-dev');
  fs.mkdirSync(devDir, { recursive: true });
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, '-e', HOLDER, devDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let said = '';
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (d) => {
      said += d;
      if (said.includes('ready\n')) resolve();
    });
    holder.stderr!.on('data', (d) => (said += d));
    holder.on('exit', (code) => reject(new Error(`fuse box holder exited ${code}: ${said}`)));
  });
  const ns = `--mount=/proc/${holder.pid}/ns/mnt`;
  const command = (uid: number, argv: string[]): [string, string[]] => [
    'nsenter',
    [ns, '--', 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv],
  ];
  return {
    command,
    run: (uid, argv) => run(...command(uid, argv)),
    spawn: (uid, argv, env) => spawn(...command(uid, argv), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env }),
    async mountinfo(dir) {
      const r = await run('nsenter', [ns, '--', 'cat', '/proc/self/mountinfo']);
      return r.stdout.split('\n').filter((l) => l.split(' ')[4] === dir);
    },
    async close() {
      if (holder.exitCode !== null || holder.signalCode !== null) return;
      const exited = new Promise((resolve) => holder.on('exit', resolve));
      holder.stdin!.end();
      await exited;
    },
  };
}
