import { hex, InputError } from '../errors';
import { PAGE, RamRange, rangeEnd } from '../types';

/** Sorted, non-empty, non-overlapping ranges, or an InputError that says which two collide. */
export function checkRanges(ranges: readonly RamRange[], what: string): RamRange[] {
  if (ranges.length === 0) throw new InputError(`${what}: no System RAM ranges found`);
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1];
    const b = ranges[i];
    if (b.start < rangeEnd(a)) {
      const kind = b.start < a.start ? 'out of order' : 'overlap';
      throw new InputError(`${what}: RAM ranges ${formatRange(a)} and ${formatRange(b)} ${kind === 'overlap' ? 'overlap' : 'are out of order'}`);
    }
  }
  return ranges.slice();
}

/** Joins ranges that touch (end == next start): one run of RAM. */
export function mergeAdjacent(ranges: readonly RamRange[]): RamRange[] {
  const out: RamRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && rangeEnd(last) === r.start) last.length += r.length;
    else out.push({ ...r });
  }
  return out;
}

/** `0x1000-0x9fbff` (inclusive end, as the kernel prints it). */
export function formatRange(r: RamRange): string {
  return `${hex(r.start)}-${hex(rangeEnd(r) - 1)}`;
}

/**
 * Each range widened to whole pages (start down, end up), then overlapping
 * or touching results joined: LeechCore and crash want page-granular loads.
 */
export function roundOutToPages(ranges: readonly RamRange[], page = PAGE): RamRange[] {
  const out: RamRange[] = [];
  for (const r of ranges) {
    const start = Math.floor(r.start / page) * page;
    const end = Math.ceil(rangeEnd(r) / page) * page;
    const last = out[out.length - 1];
    if (last && start <= rangeEnd(last)) last.length = Math.max(rangeEnd(last), end) - last.start;
    else out.push({ start, length: end - start });
  }
  return out;
}

/** A run of sorted ranges joined into one, keeping the members (whose gaps are not RAM). */
export interface MergedRange extends RamRange {
  members: RamRange[];
}

/**
 * At most `max` ranges: joins neighbours across the smallest gaps first
 * (ties: the lower address), so the fewest non-RAM bytes are swallowed.
 */
export function mergeSmallestGaps(ranges: readonly RamRange[], max: number): MergedRange[] {
  const join = new Array<boolean>(ranges.length).fill(false); // join[i]: range i continues range i-1
  const excess = ranges.length - max;
  if (excess > 0) {
    const gaps = ranges.slice(1).map((r, i) => ({ i: i + 1, size: r.start - rangeEnd(ranges[i]) }));
    gaps.sort((a, b) => a.size - b.size || a.i - b.i);
    for (const g of gaps.slice(0, excess)) join[g.i] = true;
  }
  const out: MergedRange[] = [];
  ranges.forEach((r, i) => {
    const last = out[out.length - 1];
    if (join[i] && last) {
      last.length = rangeEnd(r) - last.start;
      last.members.push({ ...r });
    } else {
      out.push({ start: r.start, length: r.length, members: [{ ...r }] });
    }
  });
  return out;
}

/** The parts of `ranges` that no range of `covered` (sorted, disjoint) contains. */
export function subtractRanges(ranges: readonly RamRange[], covered: readonly RamRange[]): RamRange[] {
  const out: RamRange[] = [];
  let j = 0;
  for (const r of ranges) {
    let pos = r.start;
    const end = rangeEnd(r);
    while (j < covered.length && rangeEnd(covered[j]) <= pos) j++;
    for (let k = j; k < covered.length && covered[k].start < end; k++) {
      if (covered[k].start > pos) out.push({ start: pos, length: covered[k].start - pos });
      pos = Math.max(pos, rangeEnd(covered[k]));
    }
    if (pos < end) out.push({ start: pos, length: end - pos });
  }
  return out;
}
