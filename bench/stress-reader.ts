/**
 * One stress reader (a separate process): until the deadline, reads random
 * offsets and lengths from random mounted files and compares every byte
 * with the reference file of the same view.
 *   node dist/bench/stress-reader.js CONFIG_JSON
 * CONFIG_JSON: {"seconds": S, "seed": N, "files": [{"mount": P, "ref": P, "size": N}]}
 * Prints {"reads", "bytes", "mismatches", "first"} as one JSON line.
 */
import * as fs from 'node:fs';
import { prng } from './random-reads';

interface StressFile {
  mount: string;
  ref: string;
  size: number;
}

const MAX_READ = 1 << 20;

function main(): void {
  const config = JSON.parse(process.argv[2]) as { seconds: number; seed: number; files: StressFile[] };
  const rand = prng(config.seed);
  const open = config.files.map((f) => ({ ...f, fd: fs.openSync(f.mount, 'r'), refFd: fs.openSync(f.ref, 'r') }));
  const got = Buffer.alloc(MAX_READ);
  const want = Buffer.alloc(MAX_READ);
  const deadline = Date.now() + config.seconds * 1000;
  let reads = 0;
  let bytes = 0;
  let mismatches = 0;
  let first: string | null = null;
  while (Date.now() < deadline) {
    const f = open[Math.floor(rand() * open.length)];
    const length = Math.max(1, Math.floor(2 ** (rand() * 20))); // 1 B .. 1 MiB, log-uniform
    // Mostly anywhere; sometimes across the end of the file.
    const offset = rand() < 0.1 ? Math.max(0, f.size - Math.floor(rand() * 8192)) : Math.floor(rand() * f.size);
    const n = fs.readSync(f.fd, got, 0, length, offset);
    const m = fs.readSync(f.refFd, want, 0, length, offset);
    reads++;
    bytes += n;
    if (n !== m || !got.subarray(0, n).equals(want.subarray(0, m))) {
      mismatches++;
      first ??= `${f.mount} read(${offset}, ${length}): ${n} bytes, reference ${m}${n === m ? ', bytes differ' : ''}`;
    }
  }
  process.stdout.write(JSON.stringify({ reads, bytes, mismatches, first }) + '\n');
}

main();
