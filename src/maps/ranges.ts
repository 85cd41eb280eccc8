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
export function roundOutToPages(ranges: readonly RamRange[], page = PAGE): readonly RamRange[] {
  if (wholePagesApart(ranges, page)) return ranges; // the usual map: nothing to widen or join, no copy of a million ranges
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

/** Every range whole pages, none touching the next: roundOutToPages would change nothing. */
function wholePagesApart(ranges: readonly RamRange[], page: number): boolean {
  let end = -1;
  for (const r of ranges) {
    if (r.start % page !== 0 || r.length % page !== 0 || r.start <= end) return false;
    end = rangeEnd(r);
  }
  return true;
}

/** A run of sorted ranges joined into one, keeping the members (whose gaps are not RAM). */
export interface MergedRange extends RamRange {
  /** The ranges joined, as given (not copies). */
  members: readonly RamRange[];
}

/**
 * At most `max` ranges: joins neighbours across the smallest gaps first
 * (ties: the lower address), so the fewest non-RAM bytes are swallowed.
 * Linear but for one sort of the gap sizes (a typed array: a million gaps
 * sort in well under a second); no object per gap.
 */
export function mergeSmallestGaps(ranges: readonly RamRange[], max: number): MergedRange[] {
  const n = ranges.length;
  const excess = n - Math.max(1, max);
  // gaps[i - 1]: the gap before range i. Joined: every gap below the threshold, and as many equal to it as are left, lowest first.
  const gaps = new Float64Array(Math.max(0, n - 1));
  for (let i = 1; i < n; i++) gaps[i - 1] = ranges[i].start - rangeEnd(ranges[i - 1]);
  let threshold = -1;
  let equalLeft = 0;
  if (excess > 0) {
    const sorted = gaps.slice().sort();
    threshold = sorted[excess - 1];
    let below = 0;
    while (below < excess && sorted[below] < threshold) below++;
    equalLeft = excess - below;
  }
  const out: MergedRange[] = [];
  let first = 0;
  const close = (end: number) => {
    const start = ranges[first].start;
    out.push({ start, length: rangeEnd(ranges[end - 1]) - start, members: ranges.slice(first, end) });
  };
  for (let i = 1; i < n; i++) {
    const gap = gaps[i - 1];
    const join = gap < threshold || (gap === threshold && equalLeft-- > 0);
    if (!join) {
      close(i);
      first = i;
    }
  }
  if (n > 0) close(n);
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
