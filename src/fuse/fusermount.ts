import { execFile } from 'node:child_process';

/**
 * `fusermount -u [-z] -- DIR` as an argv call: a mountpoint name never
 * reaches a shell, whatever it holds ($(), backticks, quotes, newlines).
 * Rejects with fusermount's own message (without its "fusermount: " prefix).
 */
export function fusermount(mountpoint: string, lazy: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('fusermount', [lazy ? '-uz' : '-u', '--', mountpoint], (err, _out, stderr) => {
      if (!err) return resolve();
      const msg = String(stderr)
        .trim()
        .split('\n')[0]
        .replace(/^fusermount: /, '');
      reject(new Error(msg || err.message));
    });
  });
}
