import { hex, InputError } from '../errors';
import { RamRange, rangeEnd, totalLength } from '../types';
import { DmesgMap, parseDmesg } from './dmesg';
import { parseIomem } from './iomem';
import { formatRange } from './ranges';

/**
 * Candidate memory maps and how to choose between them. Pure: the evidence
 * that needs the image's bytes (content checks) is gathered by the caller and
 * passed in.
 */

export type CandidateKind = 'iomem' | 'dmesg' | 'image';

export interface MapCandidate {
  kind: CandidateKind;
  /** Where it came from, for a person: `boot.log lines 4-20`, `image offset 0x1f2e3d (printk records)`. */
  origin: string;
  ranges: RamRange[];
  /** How it was derived (era, edits replayed or skipped). */
  details: string[];
  /** Identical maps found elsewhere (merged into this one). */
  alsoAt: string[];
}

/** What fits a raw image of `imageSize` bytes. Only `exact` places bytes correctly. */
export type SizeFit = 'exact' | 'page-rounded' | 'page-truncated' | 'avml-short' | 'none';

const PAGE = 4096;

export function sizeFit(ranges: readonly RamRange[], imageSize: number): SizeFit {
  if (totalLength(ranges) === imageSize) return 'exact';
  let rounded = 0;
  let truncated = 0;
  for (const r of ranges) {
    rounded += Math.ceil(rangeEnd(r) / PAGE) * PAGE - Math.floor(r.start / PAGE) * PAGE;
    truncated += Math.max(0, Math.floor(rangeEnd(r) / PAGE) * PAGE - Math.ceil(r.start / PAGE) * PAGE);
  }
  if (rounded === imageSize) return 'page-rounded';
  if (truncated === imageSize) return 'page-truncated';
  if (totalLength(ranges) - ranges.length === imageSize) return 'avml-short';
  return 'none';
}

export function describeFit(fit: SizeFit, ranges: readonly RamRange[], imageSize: number): string {
  const total = totalLength(ranges);
  switch (fit) {
    case 'exact':
      return `RAM total ${total} bytes = image size`;
    case 'page-rounded':
      return `RAM total ${total} bytes; the image size matches only with every range rounded out to 4 KiB pages`;
    case 'page-truncated':
      return `RAM total ${total} bytes; the image size matches only with every range cut to whole 4 KiB pages`;
    case 'avml-short':
      return `RAM total ${total} bytes; the image size matches only with every range one byte short (AVML's off-by-one)`;
    default:
      return `RAM total ${total} bytes, image ${imageSize} bytes (difference ${imageSize - total})`;
  }
}

const sameRanges = (a: readonly RamRange[], b: readonly RamRange[]) =>
  a.length === b.length && a.every((r, i) => r.start === b[i].start && r.length === b[i].length);

/** Merges candidates with identical ranges (first one kept, the others listed in `alsoAt`). */
export function mergeIdentical(candidates: readonly MapCandidate[]): MapCandidate[] {
  const out: MapCandidate[] = [];
  for (const c of candidates) {
    const same = out.find((o) => sameRanges(o.ranges, c.ranges));
    if (same) same.alsoAt.push(c.origin, ...c.alsoAt);
    else out.push({ ...c, alsoAt: [...c.alsoAt] });
  }
  return out;
}

/** A replayed boot log map as a candidate. */
export function dmesgCandidate(map: DmesgMap, kind: CandidateKind, origin: string): MapCandidate {
  const details = [`${map.era === 'pre-3.5' ? 'kernel <= 3.4' : 'kernel >= 3.5'} e820 format, ${map.firmwareEntries} firmware entries`];
  if (map.replacedBy) details.push(`replaced by the ${map.replacedBy}`);
  for (const e of map.edits) details.push(`replayed: ${e}`);
  for (const e of map.skipped) details.push(`skipped: ${e}`);
  return { kind, origin, ranges: map.ranges, details, alsoAt: [] };
}

/** Does this text look like /proc/iomem (first non-blank line `start-end : name`)? */
export function looksLikeIomem(text: string): boolean {
  const first = text.split('\n').find((l) => l.trim() !== '');
  return first !== undefined && /^\s*[0-9a-fA-F]+-[0-9a-fA-F]+ : /.test(first);
}

/**
 * A map file's text -> candidates: /proc/iomem (one candidate) or a boot log
 * (one per boot, identical boots merged). Errors name the file.
 */
export function candidatesFromText(text: string, name: string): MapCandidate[] {
  try {
    if (looksLikeIomem(text)) return [{ kind: 'iomem', origin: name, ranges: parseIomem(text), details: [], alsoAt: [] }];
    const maps = parseDmesg(text).filter((m) => m.ranges.length > 0);
    if (maps.length === 0) {
      throw new InputError(
        'neither /proc/iomem text nor a boot log with an e820 map (no "BIOS-provided physical RAM map" or "BIOS-e820:" lines with usable RAM)',
      );
    }
    return mergeIdentical(maps.map((m) => dmesgCandidate(m, 'dmesg', `${name} lines ${m.firstLine}-${m.lastLine}`)));
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${name}: ${e.message}`);
    throw e;
  }
}

/** One line per candidate: origin, range count, RAM total, fit. */
export function summarise(c: MapCandidate, imageSize: number): string {
  const fit = sizeFit(c.ranges, imageSize);
  return `${c.origin}: ${c.ranges.length} ranges ${formatRange(c.ranges[0])}…${hex(rangeEnd(c.ranges[c.ranges.length - 1]) - 1)}, ${describeFit(fit, c.ranges, imageSize)}`;
}

/**
 * The map to use from one explicitly given file: its only map, or among the
 * boots it holds the one whose RAM total equals the image size.
 */
export function chooseFromFile(candidates: readonly MapCandidate[], imageSize: number, name: string): { map: MapCandidate; note?: string } {
  if (candidates.length === 1) return { map: candidates[0] };
  // A raw image holds exactly the RAM total; a padded one ends at the last RAM byte.
  const exact = candidates.filter((c) => sizeFit(c.ranges, imageSize) === 'exact' || rangeEnd(c.ranges[c.ranges.length - 1]) === imageSize);
  if (exact.length === 1) {
    return { map: exact[0], note: `${name} holds ${candidates.length} different maps; used the one that fits the image size (${exact[0].origin})` };
  }
  const list = candidates.map((c) => summarise(c, imageSize)).join('; ');
  throw new InputError(
    `${name}: ${candidates.length} different maps and ${exact.length === 0 ? 'none' : 'more than one'} matches the image size ${imageSize}: ${list}; ` +
      'pass a file with the log of the boot the image was taken from',
  );
}
