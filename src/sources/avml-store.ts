import { preadFully } from '../engine/pread';
import { LRUCache } from 'lru-cache';
import { ByteStore, SourceIOError } from '../engine/store';
import { hex } from '../errors';
import { CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE, ChunkIndex, MAX_CHUNK_DATA } from './snappy-frames';
import { crc32c, maskCrc } from './crc32c';

type Snappy = typeof import('snappy');
let snappy: Snappy | undefined;

/**
 * The native Snappy block decoder, loaded on first use so that images of
 * other formats never need it. Throws a one-line error if it cannot load.
 */
export function loadSnappy(): Snappy {
  if (!snappy) {
    try {
      snappy = require('snappy') as Snappy;
    } catch (e) {
      throw new Error(`AVML images need the snappy package's native module, which did not load: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return snappy;
}

/** How far ahead of a sequential reader chunks are decoded: 2 MiB. */
const READAHEAD_CHUNKS = 32;

export interface AvmlStoreOptions {
  /** Byte budget of the decompressed-chunk cache; below one chunk, no cache. */
  cacheBytes: number;
  /** Check every chunk's masked CRC-32C against its decompressed bytes. */
  verify: boolean;
}

/**
 * Serves physical addresses (store position = physical address) from an AVML
 * image: finds the chunks a read touches in the index, decompresses only
 * those, and keeps decompressed chunks in one bounded LRU cache. The chunks a
 * read misses are fetched with one blocking pread (they sit back to back in
 * the file) and decoded on the thread pool when there are several; a
 * sequential reader also gets the next chunks decoded ahead. A chunk that
 * does not decode to what the index promised, or whose CRC does not match
 * under --verify, fails the read with EIO naming its file offset.
 */
export class AvmlStore implements ByteStore {
  private readonly cache: LRUCache<number, Buffer> | null;
  private scratch = Buffer.allocUnsafe(1024 * 1024);
  /** Chunks being decoded ahead of a sequential reader. */
  private readonly pending = new Map<number, Promise<Buffer>>();
  /** Where the last read ended: the next one starting there is sequential. */
  private lastEnd = -1;
  /** Read-ahead has been started up to (excluding) this chunk. */
  private aheadTo = 0;

  constructor(
    private readonly path: string,
    private readonly fd: number,
    private readonly chunks: ChunkIndex,
    private readonly options: AvmlStoreOptions,
  ) {
    this.cache = options.cacheBytes >= MAX_CHUNK_DATA
      ? new LRUCache<number, Buffer>({ maxSize: options.cacheBytes, sizeCalculation: (b) => b.length })
      : null;
  }

  async read(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    const { chunks } = this;
    const end = position + length;
    const sequential = position === this.lastEnd;
    this.lastEnd = end;
    if (!sequential) this.aheadTo = 0;
    let pos = position;
    let i = chunks.find(position);
    let run: Buffer[] = [];
    let runFirst = 0;
    while (pos < end) {
      if (i < 0 || i >= chunks.count || chunks.phys[i] > pos) throw this.fail(`no AVML chunk holds physical address ${hex(pos)}`);
      let data = i - runFirst < run.length ? run[i - runFirst] : (this.cache?.get(i) ?? (await this.pending.get(i)?.catch(() => undefined)));
      if (!data) {
        // Fetch this chunk and the following ones the read also needs and the cache lacks, in one pread.
        let last = i;
        while (last + 1 < chunks.count && chunks.phys[last + 1] < end && !this.cache?.has(last + 1) && !this.pending.has(last + 1)) last++;
        run = await this.fetch(i, last);
        runFirst = i;
        data = run[0];
      }
      const from = pos - chunks.phys[i];
      const n = Math.min(end, chunks.phys[i] + data.length) - pos;
      data.copy(target, targetOffset + (pos - position), from, from + n);
      pos += n;
      i++;
    }
    if (sequential) this.readAhead(i);
  }

  /**
   * A sequential reader gets the chunks after `next` decoded in the background
   * (thread pool), so its next request finds them ready. Errors are left for
   * that request to meet and report.
   */
  private readAhead(next: number): void {
    if (!this.cache) return;
    const { chunks } = this;
    // Never more than a quarter of the cache, or read-ahead would evict what it decoded before it is read.
    const ahead = Math.min(READAHEAD_CHUNKS, Math.floor(this.options.cacheBytes / MAX_CHUNK_DATA / 4));
    const stop = Math.min(chunks.count, next + ahead);
    let first = Math.max(next, this.aheadTo);
    while (first < stop && (this.cache.has(first) || this.pending.has(first))) first++;
    if (first >= stop) return;
    let last = first;
    // One run of neighbours: contiguous in memory (and so in the file), none cached yet.
    while (last + 1 < stop && chunks.phys[last + 1] === chunks.phys[last] + chunks.length[last] && !this.cache.has(last + 1)) last++;
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

  /**
   * Reads chunks first..last in one pread and decodes them: one chunk on this
   * thread; several in parallel on the thread pool (a large read, e.g. the
   * kernel's readahead, then uses every core). Caches them all.
   */
  private async fetch(first: number, last: number): Promise<Buffer[]> {
    const { chunks } = this;
    const start = chunks.fileOffset[first];
    const span = chunks.fileOffset[last] + CHUNK_HEADER_SIZE + chunks.bodyLength[last] - start;
    const parallel = last > first;
    // The scratch buffer is reused by the next read: parallel decodes read from a buffer of their own.
    if (!parallel && this.scratch.length < span) this.scratch = Buffer.allocUnsafe(span);
    const file = parallel ? Buffer.allocUnsafe(span) : this.scratch;
    const done = preadFully(this.fd, file, 0, span, start);
    if (done < span) throw this.fail(`the file ends inside the Snappy chunk at file offset ${hex(start + done)} (truncated while mounted?)`);
    const decoded: Promise<Buffer>[] = [];
    for (let i = first; i <= last; i++) {
      const at = chunks.fileOffset[i] - start + CHUNK_HEADER_SIZE;
      const body = file.subarray(at, at + chunks.bodyLength[i]);
      decoded.push(parallel ? this.inflateAsync(i, body).then((out) => this.check(i, body, out)) : Promise.resolve(this.check(i, body, this.inflate(i, body))));
    }
    const out = await Promise.all(decoded);
    if (this.cache) out.forEach((data, k) => this.cache!.set(first + k, data));
    return out;
  }

  /** The chunk's bytes: decompressed, or copied out of the (reused) read buffer. */
  private inflate(i: number, body: Buffer): Buffer {
    const data = body.subarray(CHUNK_CRC_SIZE);
    if (!this.chunks.compressed[i]) return Buffer.from(data);
    try {
      return loadSnappy().uncompressSync(data, { asBuffer: true }) as Buffer;
    } catch (e) {
      throw this.corrupt(i, e as Error);
    }
  }

  private inflateAsync(i: number, body: Buffer): Promise<Buffer> {
    const data = body.subarray(CHUNK_CRC_SIZE);
    if (!this.chunks.compressed[i]) return Promise.resolve(data);
    return loadSnappy().uncompress(data, { asBuffer: true }).then(
      (out) => out as Buffer,
      (e: Error) => Promise.reject(this.corrupt(i, e)),
    );
  }

  private corrupt(i: number, e: Error): SourceIOError {
    return this.fail(`corrupt Snappy data in the chunk at file offset ${hex(this.chunks.fileOffset[i])}: ${e.message}`);
  }

  /** The decoded length must be what the index promised; under --verify the CRC must match. */
  private check(i: number, body: Buffer, out: Buffer): Buffer {
    const at = this.chunks.fileOffset[i];
    if (out.length !== this.chunks.length[i]) {
      throw this.fail(`the Snappy chunk at file offset ${hex(at)} decompressed to ${out.length} bytes, its header promised ${this.chunks.length[i]}`);
    }
    if (this.options.verify) {
      const stored = body.readUInt32LE(0);
      const computed = maskCrc(crc32c(out));
      if (stored !== computed) throw this.fail(`CRC mismatch in the Snappy chunk at file offset ${hex(at)}: stored ${hex(stored)}, computed ${hex(computed)}`);
    }
    return out;
  }

  private fail(problem: string): SourceIOError {
    return new SourceIOError(`${this.path}: ${problem}`);
  }
}
