import { hex, InputError } from '../errors';
import { ByteSource, readAt } from '../io/byte-source';
import { AVML_HEADER_SIZE as RECORD_HEADER_SIZE, AVML_TRAILER_SIZE as TRAILER_SIZE, decodeAvmlHeader, isAvmlHeader } from '../formats/avml';
import { STREAM_ID } from '../formats/snappy-framing';

/**
 * The records of an AVML v2 image found from its end, for sources where
 * reading every chunk header at mount would mean downloading the image (a
 * remote object). Each record ends with a u64 trailer holding its Snappy
 * stream's length, so from the end of the file: trailer -> header -> the
 * trailer just before that header, one small read per record (the previous
 * record's trailer and this record's header are neighbours). A record's
 * chunks are indexed only when a read first touches it.
 */

export interface AvmlRecordSpan {
  /** Physical start and length of the block it holds. */
  start: number;
  length: number;
  /** File offset of its header. */
  fileOffset: number;
  /** File offset and length of its Snappy stream (between header and trailer). */
  streamOffset: number;
  streamLength: number;
}

export interface AvmlTail {
  /** Ascending by address (and file offset). */
  records: AvmlRecordSpan[];
  /** AVML 0.17.0 orphan headers (a bare header for an all-zero block). */
  orphans: { start: number; length: number; fileOffset: number }[];
  /** Reads made, for `info`. */
  reads: number;
}

/** Stream identifier chunk: type 0xff, u24 length 6, "sNaPpY". */
const STREAM_ID_CHUNK = Buffer.concat([Buffer.from([0xff, 6, 0, 0]), STREAM_ID]);

function u64(b: Buffer, at: number): number {
  const v = b.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

interface Header {
  start: number;
  length: number;
}

/** A valid AVML v2 header at `b[at]` (zero padding, start <= end), or null. */
function header(b: Buffer, at: number): Header | null {
  if (at < 0 || !isAvmlHeader(b, at)) return null;
  const h = decodeAvmlHeader(b, at);
  if (h.padding !== 0n || h.endInclusive < h.start || h.endInclusive >= BigInt(Number.MAX_SAFE_INTEGER)) return null;
  return { start: Number(h.start), length: Number(h.endInclusive - h.start) + 1 };
}

/** Walks the records of an AVML v2 image from its end; errors name the file offset where the walk stopped. */
export async function walkAvmlBackwards(image: ByteSource): Promise<AvmlTail> {
  const fail = (what: string): never => {
    throw new InputError(`${image.label}: ${what}`);
  };
  const tail: AvmlTail = { records: [], orphans: [], reads: 0 };
  const read = async (from: number, to: number) => {
    tail.reads++;
    const b = await readAt(image, from, to - from);
    if (b.length < to - from) fail(`short read at file offset ${hex(from + b.length)}`);
    return b;
  };
  let end = image.size;
  let nextStart = Number.MAX_SAFE_INTEGER; // records ascend: each must end before the next one starts
  const place = (h: Header, at: number, what: string) => {
    if (h.start + h.length > nextStart)
      fail(
        `AVML ${what} at file offset ${hex(at)}: range ${hex(h.start)}-${hex(h.start + h.length - 1)} overlaps or follows the next record's (starts at ${hex(nextStart)})`,
      );
    nextStart = h.start;
  };
  // The bytes just before `end`: the trailer of the record ending there (or part of an orphan header).
  let trailer = end >= TRAILER_SIZE ? await read(end - TRAILER_SIZE, end) : null;
  while (end > 0) {
    const streamLength = trailer ? u64(trailer, 0) : -1;
    // A stream holds at least its identifier, so a zero "trailer" is the padding of an AVML 0.17.0
    // orphan header (a bare header for an all-zero block, no stream, no trailer).
    if (streamLength === 0) {
      const at = end - RECORD_HEADER_SIZE;
      const from = Math.max(0, at - TRAILER_SIZE);
      const window = at >= 0 ? await read(from, end) : Buffer.alloc(0);
      const orphan = header(window, at - from);
      if (!orphan) fail(`not an AVML v2 record or header ending at file offset ${hex(end)} (truncated, or an upload that did not finish?)`);
      place(orphan!, at, 'orphan header');
      tail.orphans.push({ ...orphan!, fileOffset: at });
      end = at;
      trailer = at - from === TRAILER_SIZE ? window.subarray(0, TRAILER_SIZE) : null;
      continue;
    }
    const at = streamLength > 0 ? end - TRAILER_SIZE - streamLength - RECORD_HEADER_SIZE : -1;
    if (at < 0) {
      fail(
        `not an AVML v2 record ending at file offset ${hex(end)}: its trailer says the Snappy stream is ${streamLength} bytes, more than the file holds before it (truncated, or an upload that did not finish?)`,
      );
    }
    const from = Math.max(0, at - TRAILER_SIZE);
    const window = await read(from, Math.min(end, at + RECORD_HEADER_SIZE + STREAM_ID_CHUNK.length));
    const h = header(window, at - from);
    const id = window.subarray(at - from + RECORD_HEADER_SIZE, at - from + RECORD_HEADER_SIZE + STREAM_ID_CHUNK.length);
    if (!h || !id.equals(STREAM_ID_CHUNK)) {
      fail(
        `not an AVML v2 record ending at file offset ${hex(end)}: its trailer says the Snappy stream is ${streamLength} bytes, ` +
          `but no record header and stream identifier are at file offset ${hex(at)} (truncated, or an upload that did not finish?)`,
      );
    }
    place(h!, at, 'record');
    tail.records.push({ ...h!, fileOffset: at, streamOffset: at + RECORD_HEADER_SIZE, streamLength });
    end = at;
    // The previous record's trailer came with this window.
    trailer = at - from === TRAILER_SIZE ? window.subarray(0, TRAILER_SIZE) : null;
  }
  tail.records.reverse();
  tail.orphans.reverse();
  return tail;
}
