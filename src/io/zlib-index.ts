import { createHash, Hash } from 'node:crypto';
import { hex, InputError } from '../errors';
import { ByteSource, readAt, SourceIOError } from './byte-source';

/**
 * Random access into one zlib stream (RFC 1950), as LiME compress=1 writes
 * its whole output: one inflate pass at open records checkpoints (zlib's
 * examples/zran.c): at a deflate block boundary roughly every `spacing`
 * inflated bytes, the compressed position in bits and the window of output
 * before it. A read then inflates from the checkpoint before it only.
 *
 * The inflater is pako (zlib's inflate.c ported to JavaScript): node's zlib
 * reports no block boundaries and has no inflatePrime. pako's Z_BLOCK stops
 * at each boundary and sets data_type as zlib does (bit 7: at a boundary,
 * bits 0-2: unused bits of the last input byte); resuming mid-byte sets its
 * state's bit buffer (hold, bits) as zlib's inflatePrime does.
 */
type Pako = typeof import('pako');
let pako: Pako | undefined;

function loadPako(): Pako {
  if (!pako) {
    try {
      pako = require('pako') as Pako;
    } catch (e) {
      throw new Error(`zlib-compressed images need the pako package, which did not load: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return pako;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Compressed bytes read per step of the index pass. */
const INPUT_STEP = 4 * MiB;
const OUTPUT_BUFFER = 4 * MiB;

export interface ZlibCheckpoint {
  /** Inflated offset. */
  out: number;
  /** Compressed file offset of the first whole byte after the boundary. */
  in: number;
  /** Bits of the byte before `in` that belong to the block (0-7). */
  bits: number;
  /** The inflated bytes before `out` (up to the stream's window size). */
  window: Buffer;
}

export interface ZlibIndex {
  /** Inflated size of the stream. */
  size: number;
  /** Compressed bytes, header and Adler-32 trailer included. */
  streamEnd: number;
  windowBits: number;
  checkpoints: ZlibCheckpoint[];
  /** Bytes of the index kept in memory (windows and positions). */
  indexBytes: number;
  /** Hex digests of the inflated stream, by algorithm, for the ones asked for. */
  digests: Record<string, string>;
}

/** A zlib header (RFC 1950: CM 8, CINFO <= 7, FCHECK, no preset dictionary): LiME compress=1 starts 0x38 (2 KiB window). */
export function isZlibHeader(head: Uint8Array): boolean {
  if (head.length < 2) return false;
  const cmf = head[0];
  const flg = head[1];
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0 && (flg & 0x20) === 0;
}

/** Up to `n` inflated bytes from the start of the stream (detection), or null when it does not inflate. */
export async function inflateHead(source: ByteSource, n: number): Promise<Buffer | null> {
  const p = loadPako();
  const input = await readAt(source, 0, 64 * KiB);
  const strm = new p.ZStream();
  p.zlibInflateInit2(strm, 15);
  strm.input = input;
  strm.next_in = 0;
  strm.avail_in = input.length;
  strm.output = new Uint8Array(n);
  strm.next_out = 0;
  strm.avail_out = n;
  const r = p.zlibInflate(strm, p.Z_NO_FLUSH);
  if (r !== p.Z_OK && r !== p.Z_STREAM_END && r !== p.Z_BUF_ERROR) return null;
  return Buffer.from(strm.output.buffer, 0, strm.next_out);
}

/**
 * The index pass. `spacing` (default 512 KiB, and at least 128 windows so
 * the index stays under 1% of the image) bounds what one read inflates.
 * `digests` names hash algorithms to compute over the inflated stream on the way.
 */
export async function indexZlibStream(source: ByteSource, options: { spacing?: number; digests?: string[] } = {}): Promise<ZlibIndex> {
  const p = loadPako();
  const name = source.label;
  const head = await readAt(source, 0, 2);
  if (!isZlibHeader(head)) throw new InputError(`${name}: no zlib header at file offset 0x0`);
  const windowBits = (head[0] >> 4) + 8;
  const windowSize = 1 << windowBits;
  const spacing = options.spacing ?? Math.max(512 * KiB, windowSize * 128);
  const hashes: [string, Hash][] = (options.digests ?? []).map((a) => [a, createHash(a)]);

  const strm = new p.ZStream();
  p.zlibInflateInit2(strm, windowBits);
  const out = new Uint8Array(OUTPUT_BUFFER + windowSize);
  strm.output = out;
  strm.next_out = 0;
  strm.avail_out = out.length;
  strm.avail_in = 0;
  let fed = 0; // compressed bytes handed to pako so far
  let outBase = 0; // inflated offset of out[0]
  const checkpoints: ZlibCheckpoint[] = [{ out: 0, in: 2, bits: 0, window: Buffer.alloc(0) }];
  let indexBytes = 0;
  let last = 0;
  for (;;) {
    if (strm.avail_in === 0) {
      if (fed >= source.size) {
        throw new InputError(
          `${name}: the zlib stream ends early: the file ends at offset ${hex(source.size)} after ${outBase + strm.next_out} inflated bytes, before the stream's end (truncated)`,
        );
      }
      const chunk = await readAt(source, fed, INPUT_STEP);
      strm.input = chunk;
      strm.next_in = 0;
      strm.avail_in = chunk.length;
      fed += chunk.length;
    }
    const before = strm.next_out;
    // Far from the next checkpoint: inflate freely up to it (block stops cost a call each, ~7 KiB apart);
    // then stop at every block boundary until one comes.
    const due = spacing - (outBase + strm.next_out - last);
    const free = strm.avail_out;
    if (due > 0) strm.avail_out = Math.min(free, due);
    const r = p.zlibInflate(strm, due > 0 ? p.Z_NO_FLUSH : p.Z_BLOCK);
    if (due > 0) strm.avail_out += free - Math.min(free, due);
    if (r !== p.Z_OK && r !== p.Z_STREAM_END && r !== p.Z_BUF_ERROR) {
      throw new InputError(
        `${name}: corrupt deflate data near file offset ${hex(fed - strm.avail_in)} (after ${outBase + strm.next_out} inflated bytes): ${strm.msg || `zlib error ${r}`}`,
      );
    }
    if (strm.next_out > before) for (const [, h] of hashes) h.update(out.subarray(before, strm.next_out));
    const total = outBase + strm.next_out;
    if (r === p.Z_STREAM_END) {
      const streamEnd = fed - strm.avail_in;
      const digests = Object.fromEntries(hashes.map(([a, h]) => [a, h.digest('hex')]));
      return { size: total, streamEnd, windowBits, checkpoints, indexBytes, digests };
    }
    // At a block boundary (not after the last block), far enough from the last checkpoint: take one.
    if (strm.data_type & 128 && !(strm.data_type & 64) && total - last >= spacing) {
      const have = Math.min(windowSize, total);
      const window = Buffer.from(out.subarray(strm.next_out - have, strm.next_out));
      checkpoints.push({ out: total, in: fed - strm.avail_in, bits: strm.data_type & 7, window });
      indexBytes += window.length + 24;
      last = total;
    }
    if (strm.avail_out === 0) {
      // Keep the last window at the front: the next checkpoint's window may reach back into it.
      out.copyWithin(0, strm.next_out - windowSize, strm.next_out);
      outBase += strm.next_out - windowSize;
      strm.next_out = windowSize;
      strm.avail_out = out.length - windowSize;
    }
  }
}

/** Inflated bytes [checkpoint i, checkpoint i+1) (the stream's end for the last). */
export async function inflateSpan(source: ByteSource, index: ZlibIndex, i: number): Promise<Buffer> {
  const p = loadPako();
  const cp = index.checkpoints[i];
  const next = index.checkpoints[i + 1];
  const length = (next ? next.out : index.size) - cp.out;
  // The compressed bytes from the byte holding the boundary to the next boundary (the stream's end).
  const from = cp.in - (cp.bits ? 1 : 0);
  const to = next ? next.in + 1 : index.streamEnd;
  const input = await readAt(source, from, to - from);
  const fail = (what: string) => new SourceIOError(`${source.label}: ${what}`);
  if (input.length < to - from) throw fail(`the zlib stream is cut short at file offset ${hex(from + input.length)} (truncated while mounted?)`);
  const strm = new p.ZStream();
  p.zlibInflateInit2(strm, -index.windowBits);
  if (cp.bits) {
    // inflatePrime: the block starts with the high `bits` bits of the byte before `in`.
    strm.state.hold = input[0] >> (8 - cp.bits);
    strm.state.bits = cp.bits;
  }
  if (cp.window.length) p.zlibInflateSetDictionary(strm, cp.window);
  const out = Buffer.allocUnsafe(length);
  strm.input = input;
  strm.next_in = cp.bits ? 1 : 0;
  strm.avail_in = input.length - strm.next_in;
  strm.output = out;
  strm.next_out = 0;
  strm.avail_out = length;
  while (strm.avail_out > 0) {
    const r = p.zlibInflate(strm, p.Z_NO_FLUSH);
    if (r === p.Z_STREAM_END) break;
    if (r !== p.Z_OK) throw fail(`corrupt deflate data after file offset ${hex(from)} (inflated offset ${hex(cp.out)}): ${strm.msg || `zlib error ${r}`}`);
    if (strm.avail_in === 0) break;
  }
  if (strm.next_out !== length) throw fail(`the deflate data from file offset ${hex(from)} inflated to ${strm.next_out} bytes, the index promised ${length}`);
  return out;
}
