/**
 * Shared shapes. All addresses, offsets and lengths are plain numbers: physical
 * addresses and file offsets of real images stay far below 2^53. Intervals are
 * half-open: [start, start + length).
 */

/** A run of physical RAM. */
export interface RamRange {
  start: number;
  length: number;
}

/**
 * Where the bytes of a run of physical memory live in the source store.
 * `offset === null` means the source says the bytes are zero (an ELF
 * p_filesz < p_memsz tail, an AVML all-zero block that was left out).
 */
export interface Segment {
  phys: number;
  length: number;
  offset: number | null;
}

export function rangeEnd(r: RamRange): number {
  return r.start + r.length;
}

/** The range holding [addr, addr + length), if any. */
export function rangeHolding(ranges: readonly RamRange[], addr: number, length = 1): RamRange | undefined {
  return ranges.find((r) => r.start <= addr && addr + length <= rangeEnd(r));
}

/** The physical runs segments cover, in their order (sorted segments give sorted runs). */
export function segmentRanges(segments: readonly Segment[]): RamRange[] {
  return segments.map((s) => ({ start: s.phys, length: s.length }));
}

/**
 * Appends every item: `target.push(...items)` passes each item as a call
 * argument and overflows the stack past about 100,000 (an image can have a
 * million ranges).
 */
export function appendAll<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

export function totalLength(ranges: readonly RamRange[]): number {
  let sum = 0;
  for (const r of ranges) sum += r.length;
  return sum;
}

/** The x86-64 page size: LiME's copy step, page rounding of views, page-table checks. */
export const PAGE = 4096;
