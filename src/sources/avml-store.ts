import { LRUCache } from 'lru-cache';
import { ByteStore, readFully, SourceIOError } from '../engine/store';
import { hex } from '../errors';
import { CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE, ChunkIndex } from './snappy-frames';
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

export interface AvmlStoreOptions {
  /** Byte budget of the decompressed-chunk cache; below one chunk, no cache. */
  cacheBytes: number;
  /** Check every chunk's masked CRC-32C against its decompressed bytes. */
  verify: boolean;
}

/**
 * Serves physical addresses (store position = physical address) from an AVML
 * image: finds the chunks a read touches in the index, decompresses only
 * those (in parallel), and keeps decompressed chunks in one bounded LRU cache.
 * A chunk that does not decode to what the index promised, or whose CRC does
 * not match under --verify, fails the read with EIO naming its file offset.
 */
export class AvmlStore implements ByteStore {
  private readonly cache: LRUCache<number, Buffer> | null;
  private readonly pending = new Map<number, Promise<Buffer>>();

  constructor(
    private readonly path: string,
    private readonly fd: number,
    private readonly chunks: ChunkIndex,
    private readonly options: AvmlStoreOptions,
  ) {
    this.cache = options.cacheBytes >= 65536
      ? new LRUCache<number, Buffer>({ maxSize: options.cacheBytes, sizeCalculation: (b) => b.length })
      : null;
  }

  async read(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    const first = this.chunks.find(position);
    if (first < 0) throw new SourceIOError(`${this.path}: no AVML chunk holds physical address ${hex(position)}`);
    const end = position + length;
    const wanted: number[] = [];
    for (let i = first; i < this.chunks.count && this.chunks.phys[i] < end; i++) wanted.push(i);
    const buffers = await Promise.all(wanted.map((i) => this.chunk(i)));
    let pos = position;
    for (let k = 0; k < wanted.length && pos < end; k++) {
      const i = wanted[k];
      const phys = this.chunks.phys[i];
      if (phys > pos) throw new SourceIOError(`${this.path}: no AVML chunk holds physical address ${hex(pos)}`);
      const from = pos - phys;
      const n = Math.min(end, phys + buffers[k].length) - pos;
      buffers[k].copy(target, targetOffset + (pos - position), from, from + n);
      pos += n;
    }
    if (pos < end) throw new SourceIOError(`${this.path}: no AVML chunk holds physical address ${hex(pos)}`);
  }

  private chunk(i: number): Promise<Buffer> {
    const hit = this.cache?.get(i);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(i);
    if (!p) {
      p = this.decode(i).finally(() => this.pending.delete(i));
      this.pending.set(i, p);
    }
    return p;
  }

  private async decode(i: number): Promise<Buffer> {
    const at = this.chunks.fileOffset[i];
    const body = Buffer.allocUnsafe(this.chunks.bodyLength[i]);
    await readFully(this.fd, body, 0, body.length, at + CHUNK_HEADER_SIZE);
    const data = body.subarray(CHUNK_CRC_SIZE);
    let out: Buffer;
    if (this.chunks.compressed[i]) {
      try {
        out = loadSnappy().uncompressSync(data, { asBuffer: true }) as Buffer;
      } catch (e) {
        throw new SourceIOError(`${this.path}: corrupt Snappy data in the chunk at file offset ${hex(at)}: ${(e as Error).message}`);
      }
    } else {
      out = data;
    }
    if (out.length !== this.chunks.length[i]) {
      throw new SourceIOError(`${this.path}: the Snappy chunk at file offset ${hex(at)} decompressed to ${out.length} bytes, its header promised ${this.chunks.length[i]}`);
    }
    if (this.options.verify) {
      const stored = body.readUInt32LE(0);
      const computed = maskCrc(crc32c(out));
      if (stored !== computed) {
        throw new SourceIOError(`${this.path}: CRC mismatch in the Snappy chunk at file offset ${hex(at)}: stored ${hex(stored)}, computed ${hex(computed)}`);
      }
    }
    this.cache?.set(i, out);
    return out;
  }
}
