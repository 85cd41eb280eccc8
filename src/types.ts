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

/** The range holding [addr, addr + length), if any; `ranges` sorted and disjoint (a binary search: a map can have a million). */
/**
 * How many of keys 0..n-1 (ascending) are <= x: the index after the last such
 * key, 0 when none is. The one binary search over sorted tables (row starts,
 * range ends, chunk starts, part offsets).
 */
export function countAtOrBelow(n: number, key: (i: number) => number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(mid) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function rangeHolding(ranges: readonly RamRange[], addr: number, length = 1): RamRange | undefined {
  const r = ranges[countAtOrBelow(ranges.length, (i) => ranges[i].start, addr) - 1];
  return r && addr + length <= rangeEnd(r) ? r : undefined;
}

/** The physical runs segments cover, touching segments joined (sorted segments give sorted runs): one object per run. */
export function segmentRuns(segments: readonly Segment[]): RamRange[] {
  const out: RamRange[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (last && rangeEnd(last) === s.phys) last.length += s.length;
    else out.push({ start: s.phys, length: s.length });
  }
  return out;
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
