import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

/**
 * Every offset of each needle in [0, size) of a file, in one sequential pass.
 * Chunks overlap by the longest needle's length less one byte, so a match
 * straddling a chunk boundary is found exactly once.
 *
 * Large files are searched by one worker thread per needle while this
 * thread reads the next chunk (double buffering over SharedArrayBuffers,
 * synchronised with Atomics, so the call stays synchronous): the pass then
 * costs about the slowest of reading and searching instead of their sum.
 * Small files, or a platform without workers, use the single-thread loop.
 */

export interface SearchResult {
  /** Per needle, ascending file offsets of its first byte. */
  hits: number[][];
  /** Some needle reached `maxHits`; later hits were not collected. */
  capped: boolean;
}

export interface SearchOptions {
  chunkSize: number;
  maxHits: number;
  /** Use worker threads (default: for files of 64 MiB and more). */
  parallel?: boolean;
}

const PARALLEL_FROM = 64 * 1024 * 1024;

function readChunk(fd: number, buf: Uint8Array, pos: number, size: number): number {
  let n = 0;
  while (n < buf.length && pos + n < size) {
    const got = fs.readSync(fd, buf, n, buf.length - n, pos + n);
    if (got === 0) break;
    n += got;
  }
  return n;
}

function collect(chunk: Buffer, needle: Buffer, base: number, into: number[], maxHits: number): boolean {
  for (let i = chunk.indexOf(needle); i >= 0; i = chunk.indexOf(needle, i + 1)) {
    if (into.length >= maxHits) return true;
    into.push(base + i);
  }
  return false;
}

function searchSerial(fd: number, size: number, needles: Buffer[], opts: SearchOptions, overlap: number): SearchResult {
  const buf = Buffer.allocUnsafe(opts.chunkSize);
  const result: SearchResult = { hits: needles.map(() => []), capped: false };
  for (let pos = 0; pos < size; ) {
    const n = readChunk(fd, buf, pos, size);
    const chunk = buf.subarray(0, n);
    needles.forEach((needle, i) => {
      result.capped = collect(chunk, needle, pos, result.hits[i], opts.maxHits) || result.capped;
    });
    if (pos + n >= size || n <= overlap) break;
    pos += n - overlap;
  }
  return result;
}

/** A chunk search that takes longer than this means a dead worker (the serial loop takes over). */
const WORKER_TIMEOUT_MS = 60_000;
/** Per chunk and worker: how many hits fit in the shared hit table (more: `capped`). */
const HITS_PER_CHUNK = 1024;

// Control words (Int32Array over a SharedArrayBuffer). Per buffer b (0, 1): LEN, PENDING;
// per worker w and buffer b: GO (bumped by the reader), COUNT (hits found, -1 = more than fit).
const STOP = 0;
const LEN = (b: number) => 1 + b;
const PENDING = (b: number) => 3 + b;
const GO = (w: number, b: number) => 5 + w * 4 + b;
const COUNT = (w: number, b: number) => 7 + w * 4 + b;

/** The worker: waits for its turn on buffer 0, 1, 0, …, searches its needle, reports, repeats. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { control, buffers, table, needle, w, perChunk } = workerData;
const c = new Int32Array(control);
const bufs = buffers.map((s) => Buffer.from(s));
const hits = new Float64Array(table);
const nd = Buffer.from(needle);
const seen = [0, 0];
for (let b = 0; ; b ^= 1) {
  const go = 5 + w * 4 + b;
  Atomics.wait(c, go, seen[b]);
  seen[b] = Atomics.load(c, go);
  if (Atomics.load(c, 0) === 1) break;
  const chunk = bufs[b].subarray(0, Atomics.load(c, 1 + b));
  const base = (w * 2 + b) * perChunk;
  let count = 0;
  for (let i = chunk.indexOf(nd); i >= 0; i = chunk.indexOf(nd, i + 1)) {
    if (count === perChunk) { count = -1; break; }
    hits[base + count++] = i;
  }
  Atomics.store(c, 7 + w * 4 + b, count);
  Atomics.sub(c, 3 + b, 1);
  Atomics.notify(c, 3 + b);
}
`;

function searchParallel(fd: number, size: number, needles: Buffer[], opts: SearchOptions, overlap: number): SearchResult {
  const control = new SharedArrayBuffer(4 * (5 + needles.length * 4));
  const c = new Int32Array(control);
  const buffers = [new SharedArrayBuffer(opts.chunkSize), new SharedArrayBuffer(opts.chunkSize)];
  const views = buffers.map((s) => new Uint8Array(s));
  const table = new SharedArrayBuffer(8 * needles.length * 2 * HITS_PER_CHUNK);
  const hitTable = new Float64Array(table);
  const workers = needles.map(
    (needle, w) => new Worker(WORKER_SOURCE, { eval: true, workerData: { control, buffers, table, needle: Uint8Array.from(needle), w, perChunk: HITS_PER_CHUNK } }),
  );
  const result: SearchResult = { hits: needles.map(() => []), capped: false };
  const chunkBase = [0, 0];
  const inFlight = [false, false];
  /** Waits for both searches of buffer b and moves their hits into the result. */
  const harvest = (b: number) => {
    if (!inFlight[b]) return;
    for (let p = Atomics.load(c, PENDING(b)); p !== 0; p = Atomics.load(c, PENDING(b))) {
      if (Atomics.wait(c, PENDING(b), p, WORKER_TIMEOUT_MS) === 'timed-out') throw new Error('a scan worker did not answer');
    }
    needles.forEach((_, w) => {
      const count = Atomics.load(c, COUNT(w, b));
      const into = result.hits[w];
      const found = count < 0 ? HITS_PER_CHUNK : count;
      for (let i = 0; i < found; i++) {
        if (into.length >= opts.maxHits) {
          result.capped = true;
          break;
        }
        into.push(chunkBase[b] + hitTable[(w * 2 + b) * HITS_PER_CHUNK + i]);
      }
      if (count < 0) result.capped = true;
    });
    inFlight[b] = false;
  };
  try {
    let b = 0;
    for (let pos = 0; pos < size; b ^= 1) {
      harvest(b);
      const n = readChunk(fd, views[b], pos, size);
      chunkBase[b] = pos;
      Atomics.store(c, LEN(b), n);
      Atomics.store(c, PENDING(b), needles.length);
      inFlight[b] = true;
      needles.forEach((_, w) => {
        Atomics.add(c, GO(w, b), 1);
        Atomics.notify(c, GO(w, b));
      });
      if (pos + n >= size || n <= overlap) break;
      pos += n - overlap;
    }
    harvest(0);
    harvest(1);
  } finally {
    Atomics.store(c, STOP, 1);
    needles.forEach((_, w) => {
      for (const k of [0, 1]) {
        Atomics.add(c, GO(w, k), 1);
        Atomics.notify(c, GO(w, k));
      }
    });
    for (const worker of workers) {
      worker.unref();
      void worker.terminate();
    }
  }
  for (const h of result.hits) h.sort((x, y) => x - y);
  return result;
}

export function searchFile(fd: number, size: number, needles: Buffer[], opts: SearchOptions): SearchResult {
  const overlap = Math.max(...needles.map((n) => n.length)) - 1;
  if (opts.chunkSize <= overlap) throw new Error(`chunk size ${opts.chunkSize} is not above the needle overlap ${overlap}`);
  const parallel = opts.parallel ?? size >= PARALLEL_FROM;
  if (parallel) {
    try {
      return searchParallel(fd, size, needles, opts, overlap);
    } catch (e) {
      if (opts.parallel) throw e;
    }
  }
  return searchSerial(fd, size, needles, opts, overlap);
}
