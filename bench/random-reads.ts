/**
 * Random 4 KiB reads (page-aligned, a fixed seed) from one file, timed in
 * this child process. Usage:
 *   node dist/bench/random-reads.js FILE COUNT SEED SPANS_JSON
 * SPANS_JSON: [[start, length], …] file regions to draw from, weighted by length.
 * Prints {"reads": N, "seconds": S}.
 */
import * as fs from 'node:fs';

const PAGE = 4096;

/** mulberry32: a tiny seeded PRNG, so every run reads the same offsets. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` page-aligned offsets inside `spans`, each span chosen in proportion to its pages. */
export function randomPages(spans: [number, number][], count: number, seed: number): number[] {
  const rand = prng(seed);
  const firsts = spans.map(([start]) => Math.ceil(start / PAGE) * PAGE);
  const pages = spans.map(([start, len], i) => Math.max(0, Math.floor((start + len - firsts[i]) / PAGE)));
  const total = pages.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    let k = Math.floor(rand() * total);
    let s = 0;
    while (k >= pages[s]) k -= pages[s++];
    out.push(firsts[s] + k * PAGE);
  }
  return out;
}

if (require.main === module) {
  const [file, count, seed, spans] = process.argv.slice(2);
  const offsets = randomPages(JSON.parse(spans), Number(count), Number(seed));
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(PAGE);
  const t0 = process.hrtime.bigint();
  for (const off of offsets) {
    if (fs.readSync(fd, buf, 0, PAGE, off) !== PAGE) throw new Error(`short read at ${off}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(JSON.stringify({ reads: offsets.length, seconds }) + '\n');
}
