import { hex } from '../errors';
import { chunkCrc, CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE } from '../formats/snappy-framing';
import { ByteSource, SourceIOError } from '../io/byte-source';
import { ChunkDecoder, ChunkIndex, widen } from '../io/chunk-store';

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

/** Every data chunk of an AVML image by physical address, and where it sits in the file. */
export class AvmlChunkIndex extends ChunkIndex {
  /** File offset of the chunk header (type byte). */
  fileOffset = new Float64Array(1024);
  /** The chunk header's length field: CRC + data. */
  bodyLength = new Uint32Array(1024);
  compressed = new Uint8Array(1024);

  addChunk(phys: number, fileOffset: number, bodyLength: number, length: number, compressed: boolean): void {
    const i = this.add(phys, length);
    this.fileOffset[i] = fileOffset;
    this.bodyLength[i] = bodyLength;
    this.compressed[i] = compressed ? 1 : 0;
  }

  protected grow(n: number): void {
    super.grow(n);
    this.fileOffset = widen(this.fileOffset, new Float64Array(n));
    this.bodyLength = widen(this.bodyLength, new Uint32Array(n));
    this.compressed = widen(this.compressed, new Uint8Array(n));
  }
}

/**
 * The AVML chunk decoder for the chunk store: a run of chunks (back to back
 * in the file) is fetched with one read; one chunk is decoded on this thread,
 * several in parallel on the thread pool (a large read, e.g. the kernel's
 * readahead, then uses every core). A chunk that does not decode to what the
 * index promised, or whose CRC does not match under --verify, is a
 * SourceIOError naming its file offset.
 */
export function avmlDecoder(image: ByteSource, chunks: AvmlChunkIndex, verify: boolean): ChunkDecoder {
  const fail = (problem: string) => new SourceIOError(`${image.label}: ${problem}`);
  const corrupt = (i: number, e: Error) => fail(`corrupt Snappy data in the chunk at file offset ${hex(chunks.fileOffset[i])}: ${e.message}`);
  let scratch = Buffer.allocUnsafe(1024 * 1024);

  const check = (i: number, body: Buffer, out: Buffer): Buffer => {
    const at = chunks.fileOffset[i];
    if (out.length !== chunks.lengths[i]) {
      throw fail(`the Snappy chunk at file offset ${hex(at)} decompressed to ${out.length} bytes, its header promised ${chunks.lengths[i]}`);
    }
    if (verify) {
      const stored = body.readUInt32LE(0);
      const computed = chunkCrc(out);
      if (stored !== computed) throw fail(`CRC mismatch in the Snappy chunk at file offset ${hex(at)}: stored ${hex(stored)}, computed ${hex(computed)}`);
    }
    return out;
  };
  /** An uncompressed chunk's bytes, copied out of the read buffer into one of their own size (the cache counts real sizes). */
  const copy = (data: Buffer): Buffer => {
    const out = Buffer.allocUnsafeSlow(data.length);
    data.copy(out);
    return out;
  };
  const inflate = (i: number, body: Buffer): Buffer => {
    const data = body.subarray(CHUNK_CRC_SIZE);
    if (!chunks.compressed[i]) return copy(data);
    try {
      return loadSnappy().uncompressSync(data, { asBuffer: true }) as Buffer;
    } catch (e) {
      throw corrupt(i, e as Error);
    }
  };
  const inflateAsync = (i: number, body: Buffer): Promise<Buffer> => {
    const data = body.subarray(CHUNK_CRC_SIZE);
    if (!chunks.compressed[i]) return Promise.resolve(copy(data));
    return loadSnappy()
      .uncompress(data, { asBuffer: true })
      .then(
        (out) => out as Buffer,
        (e: Error) => Promise.reject(corrupt(i, e)),
      );
  };

  return async (first, last) => {
    const start = chunks.fileOffset[first];
    const span = chunks.fileOffset[last] + CHUNK_HEADER_SIZE + chunks.bodyLength[last] - start;
    const parallel = last > first;
    // The scratch buffer is reused by the next read: parallel decodes read from a buffer of their own.
    if (!parallel && scratch.length < span) scratch = Buffer.allocUnsafe(span);
    const file = parallel ? Buffer.allocUnsafe(span) : scratch;
    const done = await image.read(file, 0, span, start);
    if (done < span) throw fail(`the file ends inside the Snappy chunk at file offset ${hex(start + done)} (truncated while mounted?)`);
    const decoded: Promise<Buffer>[] = [];
    for (let i = first; i <= last; i++) {
      const at = chunks.fileOffset[i] - start + CHUNK_HEADER_SIZE;
      const body = file.subarray(at, at + chunks.bodyLength[i]);
      decoded.push(parallel ? inflateAsync(i, body).then((out) => check(i, body, out)) : Promise.resolve(check(i, body, inflate(i, body))));
    }
    return Promise.all(decoded);
  };
}
