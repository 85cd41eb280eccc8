/**
 * Runs the real CLI (bin/memview) in child processes, always asynchronously:
 * fuse-native serves the mount on this process's event loop only when the
 * mount runs in-process; here the mount is its own process, and readers are
 * children too, so nothing blocks.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'memview');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs any command to completion, never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], options: { timeoutMs?: number; encoding?: BufferEncoding } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20, encoding: options.encoding ?? 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** `memview ARGS…` */
export function memview(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [BIN, ...args]);
}

export function tempDir(prefix = 'memview-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The path under which the mount table lists `dir` (itself, or where its symlink points), or null. */
function listedAs(dir: string): string | null {
  // mountinfo escapes spaces and other bytes as octal (\040).
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const listed = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => decode(l.split(' ')[4] ?? ''));
  const abs = path.resolve(dir);
  if (listed.includes(abs)) return abs;
  // Through a symlink the table lists the real path. Resolved only now: a stat of a mounted root
  // would put its attributes in this process's cache and hide a later stale mount (ENOTCONN);
  // a stale mount cannot be resolved at all, but the symlink itself can be read.
  for (const resolve of [() => fs.realpathSync(abs), () => path.resolve(path.dirname(abs), fs.readlinkSync(abs))]) {
    try {
      const real = resolve();
      if (listed.includes(real)) return real;
    } catch {
      // next way
    }
  }
  return null;
}

function isMounted(dir: string): boolean {
  return listedAs(dir) !== null;
}

export interface RunningMount {
  dir: string;
  child: ChildProcess;
  output: () => string;
  /** Unmounts (SIGTERM to the mount process) and waits for it to exit. */
  stop: () => Promise<number | null>;
}

/**
 * Starts `memview mount SOURCE DIR ARGS…` in the background and resolves
 * once the process says it has mounted (its signal handlers are in place by
 * then). Rejects with the process output if it exits first. `bin`: another
 * copy of memview's CLI.
 */
export function startMount(source: string, dir: string, args: string[] = [], timeoutMs = 60_000, bin = BIN): Promise<RunningMount> {
  fs.mkdirSync(dir, { recursive: true });
  const child = spawn(process.execPath, [bin, 'mount', source, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let ready = false;
  child.stdout!.on('data', (d) => {
    out += d;
    if (out.includes(' mounted on ')) ready = true;
  });
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  exited.then(() => (done = true));
  const stop = async () => {
    if (!done) child.kill('SIGTERM');
    const code = await exited;
    const listed = listedAs(dir);
    if (listed) await run('fusermount', ['-uz', listed]);
    return code;
  };
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (done) return reject(new Error(`memview mount exited early: ${out.trim()}`));
      if (ready && isMounted(dir)) return resolve({ dir, child, output: () => out, stop });
      if (Date.now() - started > timeoutMs) {
        void stop();
        return reject(new Error(`memview mount did not mount within ${timeoutMs} ms: ${out.trim()}`));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

/** sha256 of a file, computed by a child process (sha256sum). */
export async function sha256sum(file: string): Promise<string> {
  const r = await run('sha256sum', [file]);
  if (r.code !== 0) throw new Error(`sha256sum ${file}: ${r.stderr}`);
  return r.stdout.split(' ')[0];
}
