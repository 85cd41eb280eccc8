import { hex, InputError } from '../errors';
import { formatRange, mergeAdjacent } from '../maps/ranges';
import { appendAll, RamRange, rangeEnd, Segment } from '../types';
import { decodeLimeHeader, LIME_END_FIELD, LIME_HEADER_SIZE, LIME_MAGIC, LIME_START_FIELD, LIME_VERSION } from '../formats/lime';
import { BlockReader } from '../io/block-reader';
import { ByteSource } from '../io/byte-source';
import { PAGE } from '../types';
import { avmlRangeNotes, avmlRanges } from './avml-ranges';
import type { ParsedImage } from './parsed';

export interface LimeOptions {
  /** Serve ranges that start mid-page un-shifted (see `limeShiftRepair`). */
  repairShift?: boolean;
}

interface LimeRecord {
  /** File offset of the header. */
  at: number;
  start: number;
  length: number;
  /** An AVML 0.17.0 orphan header: no data follows it. */
  orphan?: boolean;
}

/** Records whose data is shorter than this are "small": one window read covers many headers. */
const SMALL_RECORD = 64 * 1024;

function isHeader(h: Buffer): boolean {
  return h.length === 8 && h.readUInt32LE(0) === LIME_MAGIC && h.readUInt32LE(4) === LIME_VERSION;
}

/**
 * AVML 0.17.0 wrote a bare header (no data) for each all-zero block: another
 * header, or the end of the file, follows at once where the data should be,
 * and the claimed data would not end on a header or at the end of the file.
 * Answered from the reader's window when it can (no await: a million records
 * must not cost a million suspensions), else `null`.
 */
function orphanInWindow(r: BlockReader, at: number, dataEnd: number): boolean | null {
  const next = at + LIME_HEADER_SIZE;
  if (next === r.size) return true;
  const h = r.peek(next, 8);
  if (!h) return null;
  if (!isHeader(h)) return false;
  if (dataEnd === r.size) return false;
  const d = r.peek(dataEnd, 8);
  return d ? !isHeader(d) : null;
}

async function isOrphanHeader(r: BlockReader, at: number, dataEnd: number): Promise<boolean> {
  const next = at + LIME_HEADER_SIZE;
  if (next === r.size) return true;
  if (!isHeader(r.peek(next, 8) ?? (await r.load(next, 8)))) return false;
  return dataEnd !== r.size && !isHeader(r.peek(dataEnd, 8) ?? (await r.load(dataEnd, 8)));
}

/** A u64 header field as a number, or an error when it cannot be a physical address. */
function u64(image: ByteSource, v: bigint, field: number, at: number, name: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InputError(`${image.label}: LiME ${name} 0x${v.toString(16)} at file offset ${hex(at + field)} is not a physical address`);
  }
  return Number(v);
}

/**
 * Walks the records (LiME src/lime.h, "LiME Memory Range Header Version 1"):
 * 32-byte LE header {magic, version, s_addr, e_addr inclusive, reserved},
 * then exactly e_addr - s_addr + 1 bytes; the next header follows at once and
 * the file ends exactly after the last record.
 */
export async function readLimeRecords(image: ByteSource): Promise<LimeRecord[]> {
  const r = new BlockReader(image);
  const records: LimeRecord[] = [];
  let at = 0;
  let prevEnd = 0;
  while (at < image.size) {
    const h = r.peek(at, LIME_HEADER_SIZE) ?? (await r.load(at, LIME_HEADER_SIZE));
    if (h.length >= 4 && h.readUInt32LE(0) !== LIME_MAGIC) {
      const trailing = records.length > 0 ? `; ${image.size - at} trailing bytes after the last record` : '';
      throw new InputError(`${image.label}: bad magic ${hex(h.readUInt32LE(0))} at file offset ${hex(at)} (expected LiME ${hex(LIME_MAGIC)})${trailing}`);
    }
    if (h.length < LIME_HEADER_SIZE) {
      throw new InputError(`${image.label}: truncated LiME header at file offset ${hex(at)}: ${h.length} of ${LIME_HEADER_SIZE} bytes`);
    }
    const header = decodeLimeHeader(h);
    if (header.version !== LIME_VERSION) {
      throw new InputError(`${image.label}: LiME version ${header.version} at file offset ${hex(at + 4)} is not supported (expected ${LIME_VERSION})`);
    }
    const start = u64(image, header.start, LIME_START_FIELD, at, 's_addr');
    const end = u64(image, header.endInclusive, LIME_END_FIELD, at, 'e_addr');
    if (end < start) {
      throw new InputError(`${image.label}: LiME record at file offset ${hex(at)} ends (${hex(end)}) before it starts (${hex(start)})`);
    }
    if (start < prevEnd) {
      throw new InputError(
        `${image.label}: LiME record at file offset ${hex(at)} (${hex(start)}-${hex(end)}) overlaps or precedes the previous one (ending ${hex(prevEnd - 1)})`,
      );
    }
    const length = end - start + 1;
    const dataEnd = at + LIME_HEADER_SIZE + length;
    r.wide = length < SMALL_RECORD;
    if (orphanInWindow(r, at, dataEnd) ?? (await isOrphanHeader(r, at, dataEnd))) {
      records.push({ at, start, length, orphan: true });
      prevEnd = start + length;
      at += LIME_HEADER_SIZE;
      continue;
    }
    if (dataEnd > image.size) {
      throw new InputError(
        `${image.label}: truncated LiME record at file offset ${hex(at)}: ${hex(start)}-${hex(end)} needs ${length} bytes of data, ` +
          `the file ends ${dataEnd - image.size} bytes early`,
      );
    }
    records.push({ at, start, length });
    prevEnd = start + length;
    at = dataEnd;
  }
  return records;
}

/** Parses a LiME v1 image: one segment per record, adjacent records merged into one RAM range. */
export async function parseLime(image: ByteSource, options: LimeOptions = {}): Promise<ParsedImage> {
  const all = await readLimeRecords(image);
  const records = all.filter((r) => !r.orphan);
  const orphans = all.filter((r) => r.orphan).map((r) => ({ start: r.start, length: r.length, fileOffset: r.at }));
  if (records.length === 0)
    throw new InputError(`${image.label}: no LiME records${orphans.length ? ` with data (${orphans.length} headers without data)` : ''}`);
  const notes: string[] = [];
  const segments: Segment[] = [];
  const tails = new BlockReader(image);
  for (const rec of records) {
    const dataAt = rec.at + LIME_HEADER_SIZE;
    const shift = rec.start % PAGE;
    if (shift && options.repairShift) {
      appendAll(segments, limeShiftRepair(rec.start, rec.length, dataAt));
    } else {
      segments.push({ phys: rec.start, length: rec.length, offset: dataAt });
    }
    const tail = rec.length % PAGE;
    const tailAt = dataAt + rec.length - tail;
    tails.wide = rec.length < SMALL_RECORD;
    const tailBytes = tail ? (tails.peek(tailAt, tail) ?? (await tails.load(tailAt, tail))) : null;
    const quirks = limeQuirks(rec, !!options.repairShift, tailBytes);
    appendAll(notes, quirks);
  }
  // Written by AVML (orphan headers, or ranges one byte short): its blocks, holes and dropped bytes are known.
  if (orphans.length > 0 || records.some((r) => (r.start + r.length + 1) % 1024 === 0)) {
    const rebuilt = avmlRanges([...records, ...orphans]);
    notes.push('written by AVML (LiME v1)', ...avmlRangeNotes(all.length, rebuilt, orphans));
    return { ranges: rebuilt.ranges, segments, mapOrigin: 'LiME headers', notes };
  }
  const ranges: RamRange[] = mergeAdjacent(records.map((r) => ({ start: r.start, length: r.length })));
  if (ranges.length < records.length) {
    notes.push(`merged ${records.length} LiME records into ${ranges.length} RAM ranges (adjacent records are one run of RAM)`);
  }
  return { ranges, segments, mapOrigin: 'LiME headers', notes };
}

/**
 * LiME's module copies, for a range starting at s mid-page, the whole page
 * containing each address from that page's base: the byte it stores for
 * physical A is really physical A - (s mod 4096). Corrected: [s, end - shift)
 * comes from the data shifted by `shift`; the last `shift` bytes are unknown
 * (never written) and read as zeros.
 */
export function limeShiftRepair(start: number, length: number, dataAt: number): Segment[] {
  const shift = Math.min(start % PAGE, length);
  return [
    { phys: start, length: length - shift, offset: dataAt + shift },
    { phys: start + length - shift, length: shift, offset: null },
  ].filter((s) => s.length > 0);
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Acquisition quirks visible in one record: reported, never silently fixed. */
function limeQuirks(rec: LimeRecord, repaired: boolean, tailBytes: Buffer | null): string[] {
  const notes: string[] = [];
  const r: RamRange = { start: rec.start, length: rec.length };
  const end = rangeEnd(r);
  const shift = rec.start % PAGE;
  if (shift) {
    notes.push(
      repaired
        ? `range ${formatRange(r)} starts mid-page: served un-shifted by ${hex(shift)} (--repair-lime-shift); ` +
            `bytes ${hex(end - Math.min(shift, rec.length))}-${hex(end - 1)} are unknown and read as zeros`
        : `range ${formatRange(r)} starts mid-page: if the LiME module wrote it, each byte holds physical address - ${hex(shift)} ` +
            `(it copies whole pages from the page start); --repair-lime-shift serves the corrected bytes`,
    );
  }
  // The module steps a page at a time from the range start; a partial last step is written as zeros (`tailBytes`).
  const tail = rec.length % PAGE;
  if (tailBytes && isZero(tailBytes)) {
    // Served un-shifted, those data bytes land `shift` lower.
    const at = end - tail - (repaired ? Math.min(shift, rec.length - tail) : 0);
    notes.push(
      `range ${formatRange(r)} is not whole pages and its last ${tail} bytes of data (physical ${hex(at)}-${hex(at + tail - 1)}) are zero: ` +
        `the LiME module writes a partial last page as zeros, so their real content is unknown`,
    );
  }
  if ((end + 1) % 1024 === 0) {
    notes.push(
      `range ${formatRange(r)} ends one byte before a 1 KiB boundary: AVML writes LiME ranges one byte short ` +
        `(it drops the last byte of every iomem range), so ${hex(end)} is probably RAM that is missing`,
    );
  }
  return notes;
}
