import { execFile } from 'node:child_process';
import * as path from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (never blocks the event loop that may be serving a FUSE mount). */
export function run(cmd: string, args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 64 << 20, timeout: options.timeoutMs ?? 60_000, encoding: 'latin1' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin?.end();
  });
}

export const MEMVIEW = path.resolve(__dirname, '..', '..', 'bin', 'memview');

/** The CLI, as a user runs it (needs `tsc` to have built dist/). */
export function memview(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [MEMVIEW, ...args]);
}
