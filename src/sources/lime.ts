import { hex, InputError } from '../errors';
import { formatRange } from '../maps/ranges';
import { appendAll, RamRange, rangeEnd, Segment } from '../types';
import { decodeLimeHeader, LIME_END_FIELD, LIME_HEADER_SIZE, LIME_MAGIC, LIME_START_FIELD, LIME_VERSION } from '../formats/lime';
import { u64Number } from '../formats/u64';
import { ListedNotes } from './notes';
import { BlockReader } from '../io/block-reader';
import { ByteSource } from '../io/byte-source';
import { PAGE } from '../types';
import { avmlRangeNotes, avmlRanges } from './avml-ranges';
import type { ParsedImage } from './parsed';

export interface LimeOptions {
  /** Serve ranges that start mid-page un-shifted (see `limeShiftRepair`). */
  repairShift?: boolean;
}

/** A header with no data after it (AVML 0.17.0), as avmlRangeNotes lists them. */
interface OrphanHeader {
  start: number;
  length: number;
  fileOffset: number;
}

/** The records that carry data, column by column (a million records, no object each), and the orphan headers. */
export interface LimeRecords {
  /** File offset of each header. */
  at: number[];
  start: number[];
  length: number[];
  orphans: OrphanHeader[];
}

/** Records whose data is shorter than this are "small": one window read covers many headers. */
const SMALL_RECORD = 64 * 1024;

/** Is there a LiME header at `pos`: true, false, or null when the reader's window does not hold those 8 bytes. */
function headerInWindow(r: BlockReader, pos: number): boolean | null {
  if (pos + 8 > r.size) return false;
  const o = r.indexOf(pos, 8);
  if (o < 0) return null;
  return r.window.readUInt32LE(o) === LIME_MAGIC && r.window.readUInt32LE(o + 4) === LIME_VERSION;
}

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
  const h = headerInWindow(r, next);
  if (h !== true) return h;
  if (dataEnd === r.size) return false;
  const d = headerInWindow(r, dataEnd);
  return d === null ? null : !d;
}

async function isOrphanHeader(r: BlockReader, at: number, dataEnd: number): Promise<boolean> {
  const next = at + LIME_HEADER_SIZE;
  if (next === r.size) return true;
  if (!isHeader(r.peek(next, 8) ?? (await r.load(next, 8)))) return false;
  return dataEnd !== r.size && !isHeader(r.peek(dataEnd, 8) ?? (await r.load(dataEnd, 8)));
}

/** A u64 header field as a number, or an error when it cannot be a physical address. */
function u64(image: ByteSource, h: Buffer, o: number, field: number, at: number, name: string): number {
  const v = u64Number(h, o + field);
  if (v >= 0) return v;
  const header = decodeLimeHeader(h, o);
  const big = field === LIME_START_FIELD ? header.start : header.endInclusive;
  throw new InputError(`${image.label}: LiME ${name} 0x${big.toString(16)} at file offset ${hex(at + field)} is not a physical address`);
}

/**
 * Walks the records (LiME src/lime.h, "LiME Memory Range Header Version 1"):
 * 32-byte LE header {magic, version, s_addr, e_addr inclusive, reserved},
 * then exactly e_addr - s_addr + 1 bytes; the next header follows at once and
 * the file ends exactly after the last record. Headers are read in place in
 * the reader's window.
 */
export async function readLimeRecords(image: ByteSource): Promise<LimeRecords> {
  const r = new BlockReader(image);
  const out: LimeRecords = { at: [], start: [], length: [], orphans: [] };
  let at = 0;
  let prevEnd = 0;
  while (at < image.size) {
    let h = r.window;
    let o = r.indexOf(at, LIME_HEADER_SIZE);
    if (o < 0) {
      h = r.peek(at, LIME_HEADER_SIZE) ?? (await r.load(at, LIME_HEADER_SIZE));
      o = 0;
    }
    if (h.length - o >= 4 && h.readUInt32LE(o) !== LIME_MAGIC) {
      const trailing = at > 0 ? `; ${image.size - at} trailing bytes after the last record` : '';
      throw new InputError(`${image.label}: bad magic ${hex(h.readUInt32LE(o))} at file offset ${hex(at)} (expected LiME ${hex(LIME_MAGIC)})${trailing}`);
    }
    if (h.length - o < LIME_HEADER_SIZE) {
      throw new InputError(`${image.label}: truncated LiME header at file offset ${hex(at)}: ${h.length - o} of ${LIME_HEADER_SIZE} bytes`);
    }
    const version = h.readUInt32LE(o + 4);
    if (version !== LIME_VERSION) {
      throw new InputError(`${image.label}: LiME version ${version} at file offset ${hex(at + 4)} is not supported (expected ${LIME_VERSION})`);
    }
    const start = u64(image, h, o, LIME_START_FIELD, at, 's_addr');
    const end = u64(image, h, o, LIME_END_FIELD, at, 'e_addr');
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
      out.orphans.push({ start, length, fileOffset: at });
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
    out.at.push(at);
    out.start.push(start);
    out.length.push(length);
    prevEnd = start + length;
    at = dataEnd;
  }
  return out;
}

/** Acquisition quirks, each kind listed a few times and counted (an AVML LiME has one per record). */
class LimeQuirks {
  readonly shifted = new ListedNotes('ranges that start mid-page');
  readonly zeroTails = new ListedNotes('ranges whose partial last page reads as zeros');
  readonly oneShort = new ListedNotes('ranges one byte short of a 1 KiB boundary');

  lines(): string[] {
    return [...this.shifted.lines(), ...this.zeroTails.lines(), ...this.oneShort.lines()];
  }
}

/** Parses a LiME v1 image: one segment per record, adjacent records merged into one RAM range. */
export async function parseLime(image: ByteSource, options: LimeOptions = {}): Promise<ParsedImage> {
  const recs = await readLimeRecords(image);
  const { orphans } = recs;
  const count = recs.at.length;
  if (count === 0) throw new InputError(`${image.label}: no LiME records${orphans.length ? ` with data (${orphans.length} headers without data)` : ''}`);
  const quirks = new LimeQuirks();
  const segments: Segment[] = [];
  const merged: RamRange[] = [];
  let avml = orphans.length > 0;
  const tails = new BlockReader(image);
  for (let k = 0; k < count; k++) {
    const start = recs.start[k];
    const length = recs.length[k];
    const dataAt = recs.at[k] + LIME_HEADER_SIZE;
    if (start % PAGE && options.repairShift) appendAll(segments, limeShiftRepair(start, length, dataAt));
    else segments.push({ phys: start, length, offset: dataAt });
    const last = merged[merged.length - 1];
    if (last && rangeEnd(last) === start) last.length += length;
    else merged.push({ start, length });
    if ((start + length + 1) % 1024 === 0) avml = true;
    const tail = length % PAGE;
    if (start % PAGE === 0 && tail === 0 && (start + length + 1) % 1024 !== 0) continue; // no quirk possible
    const tailAt = dataAt + length - tail;
    tails.wide = length < SMALL_RECORD;
    const tailBytes = tail ? (tails.peek(tailAt, tail) ?? (await tails.load(tailAt, tail))) : null;
    limeQuirks(quirks, start, length, !!options.repairShift, tailBytes);
  }
  const notes = quirks.lines();
  // Written by AVML (orphan headers, or ranges one byte short): its blocks, holes and dropped bytes are known.
  if (avml) {
    const blocks = recs.start.map((start, k) => ({ start, length: recs.length[k] }));
    appendAll(blocks, orphans);
    const rebuilt = avmlRanges(blocks);
    notes.push('written by AVML (LiME v1)', ...avmlRangeNotes(count + orphans.length, rebuilt, orphans));
    return { ranges: rebuilt.ranges, segments, mapOrigin: 'LiME headers', notes };
  }
  if (merged.length < count) {
    notes.push(`merged ${count} LiME records into ${merged.length} RAM ranges (adjacent records are one run of RAM)`);
  }
  return { ranges: merged, segments, mapOrigin: 'LiME headers', notes };
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
function limeQuirks(quirks: LimeQuirks, start: number, length: number, repaired: boolean, tailBytes: Buffer | null): void {
  const r: RamRange = { start, length };
  const end = rangeEnd(r);
  const shift = start % PAGE;
  if (shift) {
    quirks.shifted.add(() =>
      repaired
        ? `range ${formatRange(r)} starts mid-page: served un-shifted by ${hex(shift)} (--repair-lime-shift); ` +
          `bytes ${hex(end - Math.min(shift, length))}-${hex(end - 1)} are unknown and read as zeros`
        : `range ${formatRange(r)} starts mid-page: if the LiME module wrote it, each byte holds physical address - ${hex(shift)} ` +
          `(it copies whole pages from the page start); --repair-lime-shift serves the corrected bytes`,
    );
  }
  // The module steps a page at a time from the range start; a partial last step is written as zeros (`tailBytes`).
  const tail = length % PAGE;
  if (tailBytes && isZero(tailBytes)) {
    // Served un-shifted, those data bytes land `shift` lower.
    const at = end - tail - (repaired ? Math.min(shift, length - tail) : 0);
    quirks.zeroTails.add(
      () =>
        `range ${formatRange(r)} is not whole pages and its last ${tail} bytes of data (physical ${hex(at)}-${hex(at + tail - 1)}) are zero: ` +
        `the LiME module writes a partial last page as zeros, so their real content is unknown`,
    );
  }
  if ((end + 1) % 1024 === 0) {
    quirks.oneShort.add(
      () =>
        `range ${formatRange(r)} ends one byte before a 1 KiB boundary: AVML writes LiME ranges one byte short ` +
        `(it drops the last byte of every iomem range), so ${hex(end)} is probably RAM that is missing`,
    );
  }
}
