import { hex } from '../errors';
import { chunkCrc, CHUNK_COMPRESSED, CHUNK_CRC_SIZE, CHUNK_HEADER_SIZE, CHUNK_UNCOMPRESSED, decodeChunkHeader, snappyLength } from '../formats/snappy-framing';
import { snappyDecompressInto } from '../codecs/snappy-block';
import { ownCopy } from '../io/byte-cache';
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

/**
 * Decoded bytes below which neighbouring data chunks of one stream share a
 * span of the index: the framing format allows one-byte chunks, and a
 * million of them must not cost a million index rows, cache entries or
 * native calls. AVML's own 64 KiB chunks are a span each.
 */
export const SMALL_SPAN = 4096;

/**
 * One read buffer for every decoder of the process while no decode is
 * using it (a remote image has a store per record: a buffer each would grow
 * with the records read).
 */
const SCRATCH_BYTES = 1024 * 1024;
let scratch: Buffer | null = null;
let scratchBusy = false;

/**
 * The data of an AVML image by physical address, in spans: a span is one
 * data chunk, or contiguous small chunks of one Snappy stream (less than
 * SMALL_SPAN each) decoded together. Headers are read again when a span of
 * several chunks is decoded, so a span costs the same few bytes whatever it
 * holds.
 */
export class AvmlChunkIndex extends ChunkIndex {
  /** File offset of the span's first chunk header (type byte). */
  fileOffset = new Float64Array(1024);
  /** File bytes from there to the end of its last chunk (stream identifiers or padding between included). */
  fileBytes = new Uint32Array(1024);
  /** 1: the span holds several chunks (read their headers again to decode it). */
  joined = new Uint8Array(1024);
  /** Data chunks indexed, in all spans. */
  dataChunks = 0;

  /**
   * Adds a data chunk (`fileBytes`: header + body). `sameStream`: the last
   * data chunk added is in the same Snappy stream, so a small chunk may join
   * its span.
   */
  addChunk(phys: number, fileOffset: number, fileBytes: number, length: number, sameStream: boolean): void {
    this.dataChunks++;
    const last = this.count - 1;
    const spanBytes = last >= 0 ? fileOffset + fileBytes - this.fileOffset[last] : 0;
    // A span under SMALL_SPAN holds small chunks only; its file bytes stay within one scratch buffer.
    if (sameStream && last >= 0 && length < SMALL_SPAN && this.lengths[last] < SMALL_SPAN && spanBytes <= SCRATCH_BYTES) {
      this.lengths[last] += length;
      this.fileBytes[last] = spanBytes;
      this.joined[last] = 1;
      return;
    }
    const i = this.add(phys, length);
    this.fileOffset[i] = fileOffset;
    this.fileBytes[i] = fileBytes;
    this.joined[i] = 0;
  }

  /** Does span i hold small chunks only (decoded here, never by the native module)? */
  isSmall(i: number): boolean {
    return this.joined[i] === 1 || this.lengths[i] < SMALL_SPAN;
  }

  protected grow(n: number): void {
    super.grow(n);
    this.fileOffset = widen(this.fileOffset, new Float64Array(n));
    this.fileBytes = widen(this.fileBytes, new Uint32Array(n));
    this.joined = widen(this.joined, new Uint8Array(n));
  }
}

/**
 * The AVML chunk decoder for the chunk store: a run of spans (back to back
 * in the file) is fetched with one read. A span of one chunk of SMALL_SPAN
 * or more is decoded by the native module, one on this thread, several in
 * parallel on the thread pool (a large read, e.g. the kernel's readahead,
 * then uses every core). A span of small chunks is decoded here, chunk after
 * chunk into one Buffer: no native call and no allocation per chunk. A chunk
 * that does not decode to what its header promised, or whose CRC does not
 * match under --verify, is a SourceIOError naming its file offset.
 */
export function avmlDecoder(image: ByteSource, chunks: AvmlChunkIndex, verify: boolean): ChunkDecoder {
  const fail = (problem: string) => new SourceIOError(`${image.label}: ${problem}`);
  const corrupt = (at: number, e: Error) => fail(`corrupt Snappy data in the chunk at file offset ${hex(at)}: ${e.message}`);

  /** Checks one chunk's decoded bytes against its header's promise and (--verify) its CRC. */
  const check = (at: number, body: Buffer, out: Uint8Array, promised: number): void => {
    if (out.length !== promised) throw fail(`the Snappy chunk at file offset ${hex(at)} decompressed to ${out.length} bytes, its header promised ${promised}`);
    if (verify) {
      const stored = body.readUInt32LE(0);
      const computed = chunkCrc(out);
      if (stored !== computed) throw fail(`CRC mismatch in the Snappy chunk at file offset ${hex(at)}: stored ${hex(stored)}, computed ${hex(computed)}`);
    }
  };
  /** Span i: one large chunk, its header at file[at]. */
  const large = (i: number, file: Buffer, at: number, parallel: boolean): Promise<Buffer> | Buffer => {
    const { type, bodyLength } = decodeChunkHeader(file, at);
    const body = file.subarray(at + CHUNK_HEADER_SIZE, at + CHUNK_HEADER_SIZE + bodyLength);
    const where = chunks.fileOffset[i];
    const done = (out: Buffer) => {
      check(where, body, out, chunks.lengths[i]);
      return out;
    };
    const data = body.subarray(CHUNK_CRC_SIZE);
    // Copied out now: the read buffer may be the shared scratch, which the next decode overwrites.
    if (type !== CHUNK_COMPRESSED) return done(ownCopy(data));
    if (parallel) {
      return loadSnappy()
        .uncompress(data, { asBuffer: true })
        .then(
          (out) => done(out as Buffer),
          (e: Error) => Promise.reject(corrupt(where, e)),
        );
    }
    let out: Buffer;
    try {
      out = loadSnappy().uncompressSync(data, { asBuffer: true }) as Buffer;
    } catch (e) {
      throw corrupt(where, e as Error);
    }
    return done(out);
  };
  /** Span i: small chunks, the first header at file[at], every data chunk decoded into one Buffer of the span's size. */
  const small = (i: number, file: Buffer, at: number): Buffer => {
    const out = Buffer.allocUnsafeSlow(chunks.lengths[i]);
    const end = at + chunks.fileBytes[i];
    let filled = 0;
    for (let p = at; p < end;) {
      const { type, bodyLength } = decodeChunkHeader(file, p);
      const where = chunks.fileOffset[i] + (p - at);
      const body = file.subarray(p + CHUNK_HEADER_SIZE, p + CHUNK_HEADER_SIZE + bodyLength);
      p += CHUNK_HEADER_SIZE + bodyLength;
      if (p > end) throw fail(`the Snappy chunk at file offset ${hex(where)} runs past the span the index holds (changed while mounted?)`);
      if (type !== CHUNK_COMPRESSED && type !== CHUNK_UNCOMPRESSED) continue; // stream identifier, padding
      if (body.length < CHUNK_CRC_SIZE) throw fail(`the Snappy chunk at file offset ${hex(where)} is too short for its CRC (changed while mounted?)`);
      const data = body.subarray(CHUNK_CRC_SIZE);
      const n = type === CHUNK_UNCOMPRESSED ? data.length : snappyLengthOrFail(data, where);
      if (filled + n > out.length) throw fail(`the Snappy chunk at file offset ${hex(where)} holds more than the index promised (changed while mounted?)`);
      if (type === CHUNK_UNCOMPRESSED) data.copy(out, filled);
      else {
        try {
          snappyDecompressInto(data, out, filled, n);
        } catch (e) {
          throw corrupt(where, e as Error);
        }
      }
      check(where, body, out.subarray(filled, filled + n), n);
      filled += n;
    }
    if (filled !== out.length)
      throw fail(`the Snappy chunks at file offset ${hex(chunks.fileOffset[i])} decompressed to ${filled} bytes, their headers promised ${out.length}`);
    return out;
  };
  const snappyLengthOrFail = (data: Buffer, where: number): number => {
    const n = snappyLength(data);
    if (n < 0) throw corrupt(where, new Error('bad uncompressed length'));
    return n;
  };

  return async (first, last) => {
    const start = chunks.fileOffset[first];
    const span = chunks.fileOffset[last] + chunks.fileBytes[last] - start;
    let native = 0;
    for (let i = first; i <= last; i++) if (!chunks.isSmall(i)) native++;
    const parallel = native > 1;
    // The shared scratch buffer serves one decode at a time, and not parallel ones (they read it after an await).
    const useScratch = !parallel && !scratchBusy && span <= SCRATCH_BYTES;
    const file = useScratch ? (scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES)) : Buffer.allocUnsafe(span);
    if (useScratch) scratchBusy = true;
    try {
      const done = await image.read(file, 0, span, start);
      if (done < span) throw fail(`the file ends inside the Snappy chunk at file offset ${hex(start + done)} (truncated while mounted?)`);
      const out: (Buffer | Promise<Buffer>)[] = [];
      for (let i = first; i <= last; i++) {
        const at = chunks.fileOffset[i] - start;
        out.push(chunks.isSmall(i) ? small(i, file, at) : large(i, file, at, parallel));
      }
      return await Promise.all(out);
    } finally {
      if (useScratch) scratchBusy = false;
    }
  };
}
