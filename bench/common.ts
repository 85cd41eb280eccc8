/**
 * Shared pieces of `npm run bench`: the result row, the context handed to
 * every bench module, and helpers that time child processes. Every reader
 * runs in a child process (a FUSE server must never wait on its own reads).
 *
 * Extra bench modules (bench/scan.ts, bench/avml.ts, …) export
 * `bench(ctx: BenchContext): Promise<BenchRow[]>`; bench/run.ts calls every
 * module listed in its EXTRA_BENCHES that exists, and their rows land in the
 * same table and results.json.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Range } from '../test/helpers/machine';

export interface BenchRow {
  /** Section, e.g. "sequential", "random", "mount", "scan". */
  group: string;
  /** What was measured, e.g. "padded.raw via memview". */
  name: string;
  value: number;
  /** "MB/s", "s", "MiB", "reads/s", "GB/s". */
  unit: string;
  /** The figure it is compared with, measured in the same run. */
  baseline?: { name: string; value: number };
  /** value / baseline when measured round by round (median of the per-round ratios); else value / baseline.value. */
  ratio?: number;
  /** Every round's figure (value is their median), and the baseline's, for results.json. */
  samples?: number[];
  baselineSamples?: number[];
  /** Human-readable target, e.g. ">= 0.9 x passthrough". */
  target?: string;
  /** Whether the target is met (undefined: no target). */
  ok?: boolean;
  note?: string;
}

export interface BenchMachine {
  /** Raw image (RAM ranges concatenated) and its iomem map. */
  raw: string;
  iomem: string;
  ranges: Range[];
  ramBytes: number;
  /** Size of padded.raw: last RAM byte + 1. */
  paddedSize: number;
}

export interface BenchContext {
  /** Scratch directory for the run (removed afterwards). */
  dir: string;
  machine: BenchMachine;
  /** How many times each timed read is repeated; the median is reported. */
  repeat: number;
  log(message: string): void;
}

export const ROOT = path.resolve(__dirname, '..', '..');
export const MEMVIEW = path.join(ROOT, 'bin', 'memview');
export const MB = 1e6;
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a command; resolves with stdout/stderr, rejects on a non-zero exit. */
export function exec(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 64 * MiB, env: { ...process.env, LC_ALL: 'C', ...env } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Wall time of a command in seconds (spawn to exit). */
export async function timeCommand(cmd: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await exec(cmd, args);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Runs `memview ARGS…` to its end; resolves with its wall time and peak RSS (VmHWM at exit, bytes, through bench/max-rss.ts). */
export async function memviewMaxRss(args: string[]): Promise<{ seconds: number; maxRss: number }> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'memview-rss-')), 'rss');
  try {
    const t0 = process.hrtime.bigint();
    await exec(process.execPath, ['-r', path.join(__dirname, 'max-rss.js'), MEMVIEW, ...args], { MEMVIEW_BENCH_MAX_RSS_FILE: file });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { seconds, maxRss: Number(fs.readFileSync(file, 'utf8')) };
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
}

/**
 * Sequential read with dd (bs 1 MiB unless given), to /dev/null. Returns
 * bytes and dd's own elapsed seconds (process start excluded).
 */
export async function ddRead(file: string, opts: { bs?: string; skip?: number; count?: number } = {}): Promise<{ bytes: number; seconds: number }> {
  const args = [`if=${file}`, 'of=/dev/null', `bs=${opts.bs ?? '1M'}`];
  if (opts.skip !== undefined) args.push(`skip=${opts.skip}`);
  if (opts.count !== undefined) args.push(`count=${opts.count}`);
  const { stderr } = await exec('dd', args);
  const m = /^(\d+) bytes .* copied, ([\d.e+-]+) s/m.exec(stderr);
  if (!m) throw new Error(`dd output not understood: ${stderr}`);
  return { bytes: Number(m[1]), seconds: Number(m[2]) };
}

export function mbPerSecond(r: { bytes: number; seconds: number }): number {
  return r.bytes / r.seconds / MB;
}

/** A FUSE server running in a child process. */
export interface Server {
  pid: number;
  dir: string;
  /** Seconds from spawn to the mount being visible in /proc/self/mountinfo. */
  readySeconds: number;
  /** Peak resident set of the server so far (VmHWM), bytes. */
  peakRss(): number;
  /** CPU time the server process has used so far (user + system, all its threads), seconds. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

function isMounted(dir: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === dir);
}

/**
 * Spawns `node SCRIPT ARGS…` (or SCRIPT itself when `node` is false) that
 * mounts on `dir` and prints a line when ready, and resolves once it has. stop() sends SIGTERM and waits for the process to exit.
 */
export function startServer(script: string, args: string[], dir: string, timeoutMs = 60_000, node = true): Promise<Server> {
  fs.mkdirSync(dir, { recursive: true });
  const t0 = process.hrtime.bigint();
  const child: ChildProcess = node
    ? spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(script, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let alive = true;
  void exited.then(() => (alive = false));
  const server: Server = {
    pid: child.pid!,
    dir,
    readySeconds: 0,
    peakRss: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    },
    cpuSeconds: () => {
      // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks (USER_HZ, 100 on Linux), after the ")" of the name.
      const fields = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    stop: async () => {
      if (alive) child.kill('SIGTERM');
      await exited;
      if (isMounted(dir)) await exec('fusermount', ['-uz', dir]);
    },
  };
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (!alive) return reject(new Error(`${path.basename(script)} exited before mounting: ${stderr.trim()}`));
      // Ready = the server printed its first line (after mount and readahead setup) and the mount is visible.
      if (stdout.includes('\n') && isMounted(dir)) {
        server.readySeconds = Number(process.hrtime.bigint() - t0) / 1e9;
        return resolve(server);
      }
      if (Number(process.hrtime.bigint() - t0) / 1e6 > timeoutMs) {
        void server.stop();
        return reject(new Error(`${path.basename(script)} did not mount within ${timeoutMs} ms`));
      }
      setTimeout(poll, 5);
    };
    poll();
  });
}

/** `memview mount SOURCE DIR ARGS…` as a server. */
export function startMemview(source: string, dir: string, args: string[]): Promise<Server> {
  return startServer(MEMVIEW, ['mount', source, dir, ...args], dir);
}

/** The trivial fuse-native passthrough of one file (bench/passthrough.ts), served as DIR/<basename>. */
export function startPassthrough(file: string, dir: string, args: string[] = []): Promise<Server> {
  return startServer(path.join(__dirname, 'passthrough.js'), [file, dir, ...args], dir);
}

/** `cmd ARGS…` (any FUSE server that prints a line once mounted) as a server. */
export function startBinaryServer(cmd: string, args: string[], dir: string, timeoutMs = 60_000): Promise<Server> {
  return startServer(cmd, args, dir, timeoutMs, false);
}

/**
 * Compiles bench/c-passthrough.c (a minimal libfuse 3 passthrough: the C ceiling of the native
 * backend) next to the bench's JavaScript; returns its path.
 */
export async function buildCPassthrough(): Promise<string> {
  const src = path.join(ROOT, 'bench', 'c-passthrough.c');
  const out = path.join(__dirname, 'c-passthrough');
  const flags = (await exec('pkg-config', ['--cflags', '--libs', 'fuse3'])).stdout.trim().split(/\s+/);
  await exec('cc', ['-O2', '-Wall', src, ...flags, '-lpthread', '-o', out]);
  return out;
}

/** The C libfuse 3 passthrough of one file, served as DIR/<basename>, with the native backend's settings. */
export function startCPassthrough(binary: string, file: string, dir: string, args: string[] = []): Promise<Server> {
  return startBinaryServer(binary, [file, dir, ...args], dir);
}

/** Runs `fn` against a fresh server, always stopping it. */
export async function withServer<T>(start: () => Promise<Server>, fn: (s: Server) => Promise<T>): Promise<T> {
  const server = await start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/** The median of `n` runs of `fn`. */
export async function repeatMedian(n: number, fn: () => Promise<number>): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < n; i++) values.push(await fn());
  return median(values);
}

/** 4 KiB reads per second of `count` random reads of `file` within `spans` (bench/random-reads.ts in a child process, seeded). */
export async function randomReadsPerSecond(file: string, count: number, seed: number, spans: [number, number][]): Promise<number> {
  const { stdout } = await exec(process.execPath, [path.join(__dirname, 'random-reads.js'), file, String(count), String(seed), JSON.stringify(spans)]);
  const r = JSON.parse(stdout) as { reads: number; seconds: number };
  return r.reads / r.seconds;
}

/** One row as a line: value, baseline, target and note. */
export function formatRow(r: BenchRow): string {
  const digits = r.unit === 's' ? 3 : r.unit === 'ms' || r.unit.startsWith('%') || r.value < 10 ? 2 : 0;
  const vs = r.baseline ? ` (vs ${r.baseline.name} ${r.baseline.value.toFixed(0)}${r.ratio !== undefined ? `, ratio ${r.ratio.toFixed(2)}` : ''})` : '';
  const target = r.target ? ` target ${r.target}: ${r.ok ? 'met' : 'NOT met'}` : '';
  return `${r.name}: ${r.value.toFixed(digits)} ${r.unit}${vs}${target}${r.note ? `; ${r.note}` : ''}`;
}

/**
 * A bench module run on its own (`node dist/bench/NAME.js [--repeat N] …`):
 * a scratch directory, its rows printed one a line, the directory removed;
 * `numberFlag` reads `--name N` from the command line.
 */
export function runAlone(
  prefix: string,
  rows: (ctx: BenchContext, numberFlag: (name: string, dflt: number) => number, argv: string[]) => Promise<BenchRow[]>,
): void {
  const argv = process.argv.slice(2);
  const numberFlag = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
  const ctx = { dir, repeat: numberFlag('--repeat', 3), log, machine: { raw: '', iomem: '', ranges: [], ramBytes: 0, paddedSize: 0 } };
  rows(ctx, numberFlag, argv)
    .then((result) => {
      for (const r of result) process.stdout.write(formatRow(r) + '\n');
    })
    .finally(() => fs.rmSync(dir, { recursive: true, force: true }))
    .catch((e: Error) => {
      process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
      process.exit(1);
    });
}
