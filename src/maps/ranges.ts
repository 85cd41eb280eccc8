import { hex, InputError } from '../errors';
import { RamRange, rangeEnd } from '../types';

/** Sorted, non-empty, non-overlapping ranges, or an InputError that says which two collide. */
export function checkRanges(ranges: readonly RamRange[], what: string): RamRange[] {
  if (ranges.length === 0) throw new InputError(`${what}: no System RAM ranges found`);
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1];
    const b = ranges[i];
    if (b.start < rangeEnd(a)) {
      const kind = b.start < a.start ? 'out of order' : 'overlap';
      throw new InputError(
        `${what}: RAM ranges ${formatRange(a)} and ${formatRange(b)} ${kind === 'overlap' ? 'overlap' : 'are out of order'}`,
      );
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
