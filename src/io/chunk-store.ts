import { cacheBudget, CacheSpace, ENTRY_OVERHEAD } from './byte-cache';
import { ByteSource, SourceIOError } from './byte-source';
import { countAtOrBelow } from '../types';

/**
 * A decoded stream served as a ByteSource: the stream is cut into chunks
 * (AVML's Snappy chunks today; kdump pages or LiME compress=1 blocks later),
 * each decoded on demand by its format's decoder. A read finds the chunks it
 * touches in the index, takes them from the one process-wide cache
 * (byte-cache.ts, shared with remote sources' fetched pages) or
 * decodes the missing ones (one decoder call per run of neighbours, so a
 * format can fetch them in one I/O), and copies. A sequential reader gets
 * the following chunks decoded ahead.
 */

/** Decoded offset -> chunk, as columns: a 1 TiB image has some 16 million chunks. */
export class ChunkIndex {
  count = 0;
  /** Decoded offset of each chunk, ascending, chunks disjoint. */
  starts = new Float64Array(1024);
  /** Decoded bytes of each chunk. */
  lengths = new Uint32Array(1024);

  /** Appends a chunk after the last one; returns its index. */
  add(start: number, length: number): number {
    if (this.count === this.starts.length) this.grow(Math.max(1024, this.count * 2));
    const i = this.count++;
    this.starts[i] = start;
    this.lengths[i] = length;
    return i;
  }

  /** Index of the chunk holding decoded offset `pos`, or -1. */
  find(pos: number): number {
    const i = countAtOrBelow(this.count, (k) => this.starts[k], pos) - 1;
    return i >= 0 && pos < this.starts[i] + this.lengths[i] ? i : -1;
  }

  /** End of the last chunk: the decoded stream's size. */
  end(): number {
    return this.count ? this.starts[this.count - 1] + this.lengths[this.count - 1] : 0;
  }

  /** Gives back the spare rows of every column (the index is complete: a store per AVML record must not keep 1024 rows for 256). */
  trim(): void {
    if (this.starts.length > this.count) this.grow(this.count);
  }

  /** Resizes every column to `n` rows (n >= count); subclasses with columns of their own resize them too. */
  protected grow(n: number): void {
    this.starts = widen(this.starts, new Float64Array(n));
    this.lengths = widen(this.lengths, new Uint32Array(n));
  }
}

/** `to` holding the first rows of `from` (as many as it has room for). */
export function widen<T extends Float64Array | Uint32Array | Uint8Array>(from: T, to: T): T {
  to.set(from.length > to.length ? from.subarray(0, to.length) : from);
  return to;
}

/**
 * Decodes chunks first..last (neighbours in the index) into one Buffer each,
 * exactly `lengths[i]` bytes; an error names the file offset of the chunk at
 * fault (SourceIOError: the read fails with EIO).
 */
export type ChunkDecoder = (first: number, last: number) => Promise<Buffer[]>;

/** A decoder of one chunk at a time, as a ChunkDecoder (chunks decoded concurrently). */
export function perChunk(decode: (i: number) => Promise<Buffer>): ChunkDecoder {
  return (first, last) => Promise.all(Array.from({ length: last - first + 1 }, (_, k) => decode(first + k)));
}

const MiB = 1024 * 1024;
/** How far ahead of a sequential reader chunks are decoded. */
const READAHEAD_BYTES = 2 * MiB;

export class ChunkStore implements ByteSource {
  readonly size: number;
  /** This store's chunks in the one process-wide cache (byte-cache.ts, `--cache-mb`), by chunk number. */
  private readonly cache = new CacheSpace();
  /** Chunks being decoded (read-ahead, or another read's miss): one decode each. */
  private readonly pending = new Map<number, Promise<Buffer>>();
  /** Where the last read ended: the next one starting there is sequential. */
  private lastEnd = -1;
  /** Read-ahead has been started up to (excluding) this chunk. */
  private aheadTo = 0;
  private readonly maxChunk: number;

  constructor(
    readonly label: string,
    private readonly index: ChunkIndex,
    private readonly decode: ChunkDecoder,
    private readonly onClose: () => void = () => {},
  ) {
    this.size = index.end();
    index.trim();
    let max = 0;
    for (let i = 0; i < index.count; i++) max = Math.max(max, index.lengths[i]);
    this.maxChunk = max;
  }

  private cached(i: number): Buffer | undefined {
    return this.cache.get(i);
  }

  private has(i: number): boolean {
    return this.cache.has(i);
  }

  async read(target: Uint8Array, targetOffset: number, length: number, position: number): Promise<number> {
    const { index } = this;
    const end = Math.min(this.size, position + length);
    if (position >= end) return 0;
    const sequential = position === this.lastEnd;
    this.lastEnd = end;
    if (!sequential) this.aheadTo = 0;
    let pos = position;
    let i = index.find(position);
    let run: Buffer[] = [];
    let runFirst = 0;
    while (pos < end) {
      if (i < 0 || i >= index.count || index.starts[i] > pos) throw new SourceIOError(`${this.label}: no chunk holds decoded offset 0x${pos.toString(16)}`);
      let data = i - runFirst < run.length && i >= runFirst ? run[i - runFirst] : (this.cached(i) ?? (await this.pending.get(i)?.catch(() => undefined)));
      if (!data) {
        // This chunk and the following ones the read also needs and nobody has: one decoder call.
        let last = i;
        while (last + 1 < index.count && index.starts[last + 1] < end && !this.has(last + 1) && !this.pending.has(last + 1)) last++;
        run = await this.fetch(i, last);
        runFirst = i;
        data = run[0];
      }
      const from = pos - index.starts[i];
      const n = Math.min(end, index.starts[i] + data.length) - pos;
      target.set(data.subarray(from, from + n), targetOffset + (pos - position));
      pos += n;
      i++;
    }
    if (sequential) this.readAhead(i);
    return end - position;
  }

  /**
   * A sequential reader gets the chunks after `next` decoded in the
   * background, so its next request finds them ready. Errors are left for
   * that request to meet and report.
   */
  private readAhead(next: number): void {
    const budget = cacheBudget();
    if (budget === 0 || this.maxChunk === 0) return;
    const { index } = this;
    // Never more than a quarter of the budget, or read-ahead would evict what it decoded before it is read.
    const ahead = Math.floor(Math.min(READAHEAD_BYTES, budget / 4) / (this.maxChunk + ENTRY_OVERHEAD));
    const stop = Math.min(index.count, next + ahead);
    let first = Math.max(next, this.aheadTo);
    while (first < stop && (this.has(first) || this.pending.has(first))) first++;
    if (first >= stop) return;
    let last = first;
    // One run of neighbours (contiguous decoded offsets), none cached yet.
    while (last + 1 < stop && index.starts[last + 1] === index.starts[last] + index.lengths[last] && !this.has(last + 1)) last++;
    this.aheadTo = last + 1;
    const run = this.fetch(first, last);
    for (let i = first; i <= last; i++) {
      const p = run.then((bufs) => bufs[i - first]);
      this.pending.set(i, p);
      void p.then(
        () => this.pending.delete(i),
        () => this.pending.delete(i),
      );
    }
  }

  /** Decodes chunks first..last, checks their lengths, caches them. */
  private async fetch(first: number, last: number): Promise<Buffer[]> {
    const out = await this.decode(first, last);
    return out.map((data, k) => {
      const i = first + k;
      if (data.length !== this.index.lengths[i]) {
        throw new SourceIOError(`${this.label}: chunk ${i} decoded to ${data.length} bytes, the index promised ${this.index.lengths[i]}`);
      }
      return this.cache.set(i, data);
    });
  }

  close(): void {
    this.cache.clear();
    this.onClose();
  }
}
